import { join } from 'node:path';
import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

/** JupyterLab's root folder on disk (see scripts/ui-test-servers.sh), where task code can look. */
function labRoot(): string {
  const work = process.env.CELLPIPE_UI_WORK;
  if (!work) throw new Error('CELLPIPE_UI_WORK is not set (playwright.config.js sets it)');
  return join(work, 'root');
}

test.describe('a failing task', () => {
  test('shows its error, opens the notebook at the failing cell, and "Re-run failed" reuses what succeeded', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    const flag = join(labRoot(), tmpPath, 'ready.flag');

    // Given a pipeline whose second task fails until a flag file exists
    const nb = codeNotebook([
      { source: 'from pathlib import Path' },
      { source: 'value = 21\nprint("prepared", value)', tags: ['task:prepare'] },
      {
        source: `if not Path(${JSON.stringify(flag)}).exists():\n    raise ValueError("flag missing")\nresult = value * 2\nprint("result", result)`,
        tags: ['task:check'],
      },
    ]);
    await openNotebook(page, nb, `${tmpPath}/flaky.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(2);

    // When it runs
    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await cellpipe.pipeline.run.click();
    const first = (await (await submitted).json()) as { id: string };
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(first.id);

    // Then the job fails in 'check' with the exception, while 'prepare' succeeded
    await expect(cellpipe.monitor.job(first.id)).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });
    await expect(cellpipe.monitor.graphTask('prepare')).toHaveAttribute('data-state', 'succeeded');
    await expect(cellpipe.monitor.graphTask('check')).toHaveAttribute('data-state', 'failed');
    await expect(
      cellpipe.monitor.detail.getByRole('alert').filter({ hasText: 'ValueError: flag missing' }),
    ).toBeVisible();

    // When "Open the notebook at cell 3" is clicked, the notebook shows with its third cell active
    await cellpipe.monitor.detail.getByRole('button', { name: 'Open the notebook at cell 3' }).click();
    await expect(page.getByRole('tab', { name: /flaky\.ipynb/ })).toHaveAttribute('aria-selected', 'true');
    const third = await page.notebook.getCellLocator(2);
    if (!third) throw new Error('the notebook has no third cell');
    await expect(third).toHaveClass(/\bjp-mod-active\b/);

    // When the cause is fixed and the failed part is re-run
    expect(await page.contents.uploadContent('ok', 'text', `${tmpPath}/ready.flag`)).toBe(true);
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(first.id);
    const rerun = page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(`/cellpipe/api/jobs/${first.id}/rerun`),
    );
    await cellpipe.monitor.button('Re-run failed').click();
    const second = (await (await rerun).json()) as { id: string; parentJobId?: string };
    expect(second.parentJobId).toBe(first.id);

    // Then the new job succeeds, reusing 'prepare' and running 'check' again
    await expect(cellpipe.monitor.job(second.id)).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
    await cellpipe.monitor.select(second.id);
    await expect(cellpipe.monitor.taskRow('prepare')).toContainText('(reused)');
    await expect(cellpipe.monitor.graphTask('check')).toHaveAttribute('data-state', 'succeeded');
    await cellpipe.monitor.taskButton('check', 'Logs').click();
    await expect(cellpipe.monitor.log('check')).toContainText('result 42');
  });
});
