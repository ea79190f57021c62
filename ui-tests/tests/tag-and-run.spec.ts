import { expect, test } from '@jupyterlab/galata';
import { BADGE, Cellpipe } from './pages/cellpipe.js';
import { cellTags, exampleNotebook, openNotebook, withoutTaskTags } from './helpers/notebooks.js';
import { saveScreenshot } from './helpers/screenshots.js';

/** The quickstart's task cells (0-based cell index → task name), as the example tags them. */
const QUICKSTART_TASKS: [number, string][] = [
  [3, 'generate'],
  [4, 'stats'],
  [5, 'histogram'],
  [7, 'report'],
];

test.describe('tag cells, see the pipeline, run it and inspect the results', () => {
  test('the quickstart, tagged through the Cellpipe Task form, runs to success', async ({
    page,
    tmpPath,
  }, testInfo) => {
    const cellpipe = new Cellpipe(page);

    // Given the quickstart notebook without any task tags
    await openNotebook(page, withoutTaskTags(exampleNotebook('quickstart.ipynb')), `${tmpPath}/quickstart.ipynb`);
    await cellpipe.taskEditor.open();

    // When each task cell is tagged through the Cellpipe Task form
    for (const [index, name] of QUICKSTART_TASKS) {
      await page.notebook.selectCells(index);
      await expect(cellpipe.taskEditor.field('Task name')).toHaveValue('');
      await cellpipe.taskEditor.tag({ 'Task name': name });
      // Then the cell model carries the task tag, and the cell shows a badge
      await expect.poll(() => cellTags(page, index)).toContain(`task:${name}`);
      await expect(page.locator(BADGE).filter({ hasText: name })).toBeVisible();
    }
    // And the parameters cell keeps its own tag
    expect(await cellTags(page, 2)).toEqual(['parameters']);
    await page.notebook.save();

    // And the Cellpipe Pipeline panel shows the DAG of the four tasks, with no problems
    await cellpipe.pipeline.open();
    for (const [, name] of QUICKSTART_TASKS) await expect(cellpipe.pipeline.task(name)).toBeVisible();
    await expect(cellpipe.pipeline.tasks).toHaveCount(QUICKSTART_TASKS.length);
    await expect(cellpipe.pipeline.problems.getByRole('button')).toHaveCount(0);
    await saveScreenshot(testInfo, page, 'pipeline.png');

    // When it runs as a pipeline
    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await cellpipe.pipeline.run.click();
    const response = await submitted;
    expect(response.status()).toBe(201);
    const job = (await response.json()) as { id: string };

    // Then the monitor shows the job reaching succeeded, every task with it
    await cellpipe.monitor.open();
    await expect(cellpipe.monitor.job(job.id)).toBeVisible();
    await cellpipe.monitor.select(job.id);
    await expect(cellpipe.monitor.job(job.id)).toHaveAttribute('data-state', 'succeeded', { timeout: 150_000 });
    for (const [, name] of QUICKSTART_TASKS) {
      await expect(cellpipe.monitor.graphTask(name)).toHaveAttribute('data-state', 'succeeded');
      await expect(cellpipe.monitor.taskRow(name)).toContainText('succeeded');
    }
    await page.sidebar.close('right');
    // Compared with the notebook it ran from (the comparison enables "Re-run with my changes…"), nothing
    // changed: the re-run would reuse every task, and no banner says otherwise
    await expect(cellpipe.monitor.detail.getByRole('button', { name: 'Re-run with my changes…' })).toBeEnabled();
    await expect(cellpipe.monitor.detail.locator('[data-changed]')).toHaveCount(0);
    // Every button of the job and its tasks shows its whole label on one line, inside its box
    const spilled = await cellpipe.monitor.detail
      .getByRole('button')
      .evaluateAll((buttons) =>
        buttons
          .filter((b) => b.scrollWidth > b.clientWidth + 1 || b.scrollHeight > b.clientHeight + 1)
          .map((b) => b.textContent),
      );
    expect(spilled).toEqual([]);
    // And what a task used (peak memory · CPU time) takes one line
    const used = cellpipe.monitor.taskRow('stats').getByRole('cell').nth(5);
    await expect(used).toHaveText(/^\d+(\.\d)? [KMG]?i?B · \d+(\.\d)? s$/);
    const usedLines = await used.evaluate((td) => {
      const range = document.createRange();
      range.selectNodeContents(td);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    });
    expect(usedLines).toBe(1);
    // The job-end toast (the notifications test's subject) would cover the task table: dismiss it. It was
    // raised with the state change awaited above.
    await page.evaluate(() => window.jupyterapp.commands.execute('apputils:dismiss-notification'));
    await expect(cellpipe.toast(`(${job.id}) succeeded`)).toHaveCount(0);
    await saveScreenshot(testInfo, page, 'monitor.png');

    // When a task's log is opened, it shows what the task printed
    await cellpipe.monitor.taskButton('stats', 'Logs').click();
    await expect(cellpipe.monitor.log('stats')).toContainText(/mean=-?\d+\.\d{3} stdev=\d+\.\d{3}/);

    // When the task's executed notebook is opened, it holds the cell's output, read-only, written nowhere
    await cellpipe.monitor.taskButton('stats', 'Executed notebook').click();
    await expect(page.getByRole('tab', { name: `stats · job ${job.id} (executed)` })).toBeVisible();
    const executed = page.locator(`#cellpipe-executed-${job.id}-stats`);
    await expect(executed.getByRole('note')).toContainText(`Executed copy of task stats of job ${job.id} — read-only.`);
    await expect(executed.locator('.jp-OutputArea-output').filter({ hasText: /mean=/ })).toBeVisible();
    // Read-only as JupyterLab makes a cell read-only: every editor, and typing changes nothing
    const editors = executed.locator('.jp-CodeCell .cm-editor');
    await expect(editors.first()).toHaveClass(/jp-mod-readOnly/);
    await expect(executed.locator('.jp-CodeCell .cm-editor:not(.jp-mod-readOnly)')).toHaveCount(0);
    const before = await editors.first().innerText();
    await editors.first().locator('.cm-content').click();
    await page.keyboard.type('typed');
    expect(await editors.first().innerText()).toBe(before);
    expect(await page.contents.directoryExists('cellpipe-runs')).toBe(false);
    // And the banner opens the notebook the job ran
    await executed.getByRole('button', { name: 'Open the source notebook' }).click();
    await expect(page.getByRole('tab', { name: /quickstart\.ipynb/ })).toHaveAttribute('aria-selected', 'true');
  });
});
