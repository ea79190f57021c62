import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('fix and re-run', () => {
  test('after fixing the failing cell, "Re-run with my changes" reuses the unchanged upstream tasks', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);

    // Given a pipeline whose third task fails, after two upstream tasks that succeed
    const nb = codeNotebook([
      { source: 'import math' },
      { source: 'raw = list(range(10))\nprint("loaded", len(raw))', tags: ['task:load'] },
      { source: 'data = [x * 2 for x in raw]\nprint("cleaned")', tags: ['task:clean'] },
      { source: 'score = sum(data) / len(dat)\nprint("score", score)', tags: ['task:score'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/fix.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(3);
    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await cellpipe.pipeline.run.click();
    const first = (await (await submitted).json()) as { id: string };
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(first.id);
    await expect(cellpipe.monitor.job(first.id)).toHaveAttribute('data-state', 'failed', { timeout: 120_000 });
    await expect(cellpipe.monitor.detail.getByRole('alert').filter({ hasText: "NameError: name 'dat'" })).toBeVisible();
    // With the notebook unchanged there is nothing to re-run "with changes"
    await expect(cellpipe.monitor.changes).toHaveCount(0);

    // When the failing cell is fixed in the notebook (not even saved)
    await page.notebook.activate('fix.ipynb');
    await page.notebook.setCell(3, 'code', 'score = sum(data) / len(data)\nprint("score", score)');

    // Then the monitor says the notebook changed since the job ran, and what a re-run would do
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(first.id);
    await expect(cellpipe.monitor.changes).toContainText('runs 1 task and reuses 2 tasks');
    await expect(cellpipe.monitor.detail.getByText('the code has changed since this run')).toBeVisible();

    // When "Re-run with my changes…" is clicked, the plan says which tasks are reused and why the other runs
    await cellpipe.monitor.button('Re-run with my changes…').click();
    const dialog = page.getByRole('dialog');
    await expect(dialog.locator('[data-plan-task="load"]')).toContainText('reused');
    await expect(dialog.locator('[data-plan-task="clean"]')).toContainText('unchanged since job');
    await expect(dialog.locator('[data-plan-task="score"]')).toContainText('runs');
    await expect(dialog.locator('[data-plan-task="score"]')).toContainText('its code changed');
    const rerun = page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' &&
        new URL(r.url()).pathname.endsWith(`/cellpipe/api/jobs/${first.id}/rerun-changes`),
    );
    await cellpipe.dialogButton('Run 1 task').click();
    const second = (await (await rerun).json()) as { id: string; parentJobId?: string };
    expect(second.parentJobId).toBe(first.id);

    // Then the new job succeeds: load and clean were reused, score ran the fixed code with clean's data
    await expect(cellpipe.monitor.job(second.id)).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
    await cellpipe.monitor.select(second.id);
    await expect(cellpipe.monitor.taskRow('load')).toContainText('(reused)');
    await expect(cellpipe.monitor.taskRow('clean')).toContainText('(reused)');
    await expect(cellpipe.monitor.taskRow('score')).not.toContainText('(reused)');
    await cellpipe.monitor.taskButton('score', 'Logs').click();
    await expect(cellpipe.monitor.log('score')).toContainText('score 9.0');
    // And the new job matches the notebook: no "changed" banner for it
    await expect(cellpipe.monitor.changes).toHaveCount(0);
  });
});
