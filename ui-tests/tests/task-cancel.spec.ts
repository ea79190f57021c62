import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('cancel one task', () => {
  test('cancelling a running task from its row asks first, skips its downstream and lets the rest finish', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);

    // Given a pipeline with a long task, a task that needs it, and an independent one
    const nb = codeNotebook([
      { source: 'import time' },
      { source: 'time.sleep(600)\nslept = True', tags: ['task:long'] },
      { source: 'print("after", slept)', tags: ['task:after'] },
      { source: 'print("other")', tags: ['task:other'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/branches.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(3);

    // When it runs and the long task has started
    const jobId = await cellpipe.pipeline.submit();
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(jobId);
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });

    // Then only the tasks that have not ended offer a Cancel of their own
    await expect(cellpipe.monitor.graphTask('other')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
    await expect(cellpipe.monitor.cancelTask('other')).toHaveCount(0);
    await expect(cellpipe.monitor.cancelTask('after')).toBeEnabled();

    // When the long task's Cancel is clicked, the dialog names the task; keeping it changes nothing
    await cellpipe.monitor.cancelTask('long').click();
    await expect(page.getByRole('dialog')).toContainText(`Cancel task long of job ${jobId}?`);
    await cellpipe.dialogButton('Keep').click();
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'running');

    // And when it is confirmed
    await cellpipe.monitor.cancelTask('long').click();
    await cellpipe.dialogButton('Cancel task long').click();

    // Then that task ends cancelled, the one that needed it is skipped, and the job ends failed
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    await expect(cellpipe.monitor.graphTask('after')).toHaveAttribute('data-state', 'skipped');
    await expect(cellpipe.monitor.graphTask('other')).toHaveAttribute('data-state', 'succeeded');
    await expect(cellpipe.monitor.job(jobId)).toHaveAttribute('data-state', 'failed', { timeout: 60_000 });
    await expect(cellpipe.monitor.detail.getByText(/the task was cancelled by /)).toHaveCount(1);
    await expect(cellpipe.monitor.cancelTask('long')).toHaveCount(0);
  });
});
