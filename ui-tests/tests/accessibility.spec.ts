import { AxeBuilder } from '@axe-core/playwright';
import { expect, test, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Cellpipe, Ids } from './pages/cellpipe.js';
import { exampleNotebook, openNotebook, submitJob } from './helpers/notebooks.js';

/**
 * axe-core's WCAG 2.1 A and AA rules (colour contrast of 4.5:1 among them) over one part of the page:
 * the serious and critical violations, after checking that axe did measure the contrast of its text.
 */
async function seriousViolations(page: IJupyterLabPageFixture, selector: string): Promise<string[]> {
  // JupyterLab's <html> and <body> are 0 px high (the shell is positioned over them), so axe would take
  // all text for off-screen and skip its contrast: give them the viewport's height first.
  await page.evaluate(() => {
    document.documentElement.style.height = '100%';
    document.body.style.height = '100%';
  });
  const results = await new AxeBuilder({ page })
    .include(selector)
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const contrastChecked = [...results.passes, ...results.violations]
    .filter((r) => r.id === 'color-contrast')
    .reduce((n, r) => n + r.nodes.length, 0);
  expect(contrastChecked, `axe measured no text contrast in ${selector}`).toBeGreaterThan(3);
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
  test.describe(`accessibility in ${theme}`, () => {
    test('the sidebars and every tab of the monitor have no serious or critical axe violations', async ({
      page,
      tmpPath,
    }) => {
      const cellpipe = new Cellpipe(page);
      await page.theme.setTheme(theme);
      await expect(page.locator('body')).toHaveAttribute(
        'data-jp-theme-light',
        theme === 'JupyterLab Light' ? 'true' : 'false',
      );

      // Given a notebook with tasks and problems (a bad after: target, a request nothing can satisfy)
      const nb = exampleNotebook('quickstart.ipynb');
      nb.cells[5]!.metadata.tags = ['task:histogram', 'mig:1g.10gb'];
      await openNotebook(page, nb, `${tmpPath}/a11y.ipynb`);
      await cellpipe.pipeline.open();
      await expect(cellpipe.pipeline.tasks).toHaveCount(4);
      await expect(cellpipe.pipeline.problems.getByRole('button')).not.toHaveCount(0);
      await page.notebook.selectCells(4);
      await cellpipe.taskEditor.open();

      // Then the sidebars pass
      expect(await seriousViolations(page, `#${Ids.pipeline}`)).toEqual([]);
      expect(await seriousViolations(page, `#${Ids.taskEditor}`)).toEqual([]);

      // And a job that failed and one that succeeded, in the monitor
      const ok = await submitJob(page, exampleNotebook('quickstart.ipynb'), { path: 'examples/quickstart.ipynb' });
      const failing = await submitJob(
        page,
        {
          ...nb,
          cells: [
            {
              cell_type: 'code',
              source: 'raise ValueError("no")',
              metadata: { tags: ['task:boom'] },
              outputs: [],
              execution_count: null,
            },
          ],
        },
        { path: `${tmpPath}/boom.ipynb` },
      );
      await cellpipe.monitor.open();
      await cellpipe.monitor.select(failing.id);
      await expect(cellpipe.monitor.job(failing.id)).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });
      await expect(cellpipe.monitor.job(ok.id)).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
      await cellpipe.monitor.list.getByRole('button', { name: 'failed', exact: true }).click();
      expect(await seriousViolations(page, `#${Ids.monitor}`)).toEqual([]);
      await cellpipe.monitor.list.getByRole('button', { name: 'failed', exact: true }).click();
      await cellpipe.monitor.select(ok.id);
      await cellpipe.monitor.taskButton('stats', 'Logs').click();
      await expect(cellpipe.monitor.log('stats')).toContainText('mean=');
      expect(await seriousViolations(page, `#${Ids.monitor}`)).toEqual([]);

      // And the Resources tab
      await cellpipe.resources.open();
      expect(await seriousViolations(page, `#${Ids.monitor}`)).toEqual([]);

      // And every other tab the monitor has (Schedules, Pipelines, Results, ...)
      const tabs = page.locator(`#${Ids.monitor}`).getByRole('tab');
      const names = await tabs.allInnerTexts();
      expect(names.length).toBeGreaterThan(2);
      for (const name of names) {
        await tabs.filter({ hasText: name }).click();
        await expect(tabs.filter({ hasText: name })).toHaveAttribute('aria-selected', 'true');
        expect(await seriousViolations(page, `#${Ids.monitor}`), name).toEqual([]);
      }
      await page.theme.setTheme('JupyterLab Light');
    });
  });
}
