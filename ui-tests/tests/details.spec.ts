import { expect, test } from '@jupyterlab/galata';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('details that erode trust', () => {
  test('the quickstart example opens clean: its kernel starts and nothing is left unsaved', async ({ page }) => {
    await page.notebook.openByPath('examples/quickstart.ipynb');
    await page.notebook.activate('quickstart.ipynb');
    // The kernel is up: JupyterLab has written its kernelspec and language_info into the model by now.
    await expect(page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).toBeVisible({ timeout: 60_000 });
    const dirty = await page.evaluate(() => {
      const panel = window.jupyterapp.shell.currentWidget as NotebookPanel;
      return panel.context.model.dirty;
    });
    expect(dirty).toBe(false);
    await expect(page.getByRole('tab', { name: /quickstart\.ipynb/ })).not.toHaveClass(/jp-mod-dirty/);
  });

  test('one duration per task, no repeated words, and nothing offered for a task that never ran', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    const nb = codeNotebook([
      { source: 'import time' },
      { source: 'time.sleep(0.3)\nvalue = 1', tags: ['task:first'] },
      { source: 'raise RuntimeError("broken on purpose")\nother = value', tags: ['task:second'] },
      { source: 'print(other)', tags: ['task:third'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/details.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(3);
    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await cellpipe.pipeline.run.click();
    const job = (await (await submitted).json()) as { id: string };
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(job.id);
    await expect(cellpipe.monitor.job(job.id)).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });

    // The graph and the table show the same duration for a task
    const tableDuration = (await cellpipe.monitor.taskRow('first').getByRole('cell').nth(4).innerText()).trim();
    expect(tableDuration).toMatch(/\d/);
    await expect(cellpipe.monitor.graphTask('first')).toContainText(tableDuration);

    // A task skipped because its upstream failed says so once, and offers no log or executed notebook
    await expect(cellpipe.monitor.graphTask('third')).toHaveAttribute('data-state', 'skipped');
    await expect(cellpipe.monitor.detail.getByText("upstream task 'second' failed", { exact: true })).toBeVisible();
    await expect(cellpipe.monitor.taskButton('third', 'Executed notebook')).toBeDisabled();
    await expect(cellpipe.monitor.taskButton('third', 'Logs')).toBeDisabled();
    // The failed task ran: its executed notebook is offered
    await expect(cellpipe.monitor.taskButton('second', 'Executed notebook')).toBeEnabled();
  });

  test('a cycle stays on the graph in red, and its message reads the way the arrows run', async ({ page, tmpPath }) => {
    const cellpipe = new Cellpipe(page);
    // a runs after c (tag); b reads x from a; c reads y from b
    const nb = codeNotebook([
      { source: 'x = 1', tags: ['task:a', 'after:c'] },
      { source: 'y = x + 1', tags: ['task:b'] },
      { source: 'z = y + 1', tags: ['task:c'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/cycle.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.problem(/cycle: a → b → c → a/)).toBeVisible();
    // The graph is still drawn: three tasks, the cycle's edges marked
    await expect(cellpipe.pipeline.tasks).toHaveCount(3);
    for (const edge of ['a->b', 'b->c', 'c->a']) {
      await expect(cellpipe.pipeline.edge(edge)).toHaveClass(/jp-mod-cycle/);
    }
    await expect(cellpipe.pipeline.run).toBeDisabled();
  });
});
