import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('cancel a running job', () => {
  test('cancelling a long job stops the running task and cancels the waiting one', async ({ page, tmpPath }) => {
    const cellpipe = new Cellpipe(page);

    // Given a pipeline whose first task runs for minutes and whose second waits for it
    const nb = codeNotebook([
      { source: 'import time' },
      { source: 'time.sleep(600)\nslept = True', tags: ['task:long'] },
      { source: 'print("after", slept)', tags: ['task:after'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/long.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(2);

    // When it runs and the long task has started
    const jobId = await cellpipe.pipeline.submit();
    await cellpipe.monitor.open();
    await cellpipe.monitor.select(jobId);
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
    // And the status bar counts the running task (the second one has not been queued yet)
    await expect(cellpipe.statusItem).toHaveText('Cellpipe: 1 task running, 0 waiting');

    // When Cancel is clicked, it asks first; keeping the job changes nothing
    await cellpipe.monitor.button('Cancel').click();
    await cellpipe.dialogButton('Keep').click();
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'running');

    // And when the cancel is confirmed
    await cellpipe.monitor.button('Cancel').click();
    await cellpipe.dialogButton('Cancel job').click();

    // Then the job and both of its tasks end cancelled
    await expect(cellpipe.monitor.job(jobId)).toHaveAttribute('data-state', 'cancelled', { timeout: 60_000 });
    await expect(cellpipe.monitor.graphTask('long')).toHaveAttribute('data-state', 'cancelled');
    await expect(cellpipe.monitor.graphTask('after')).toHaveAttribute('data-state', 'cancelled');
    await expect(cellpipe.monitor.button('Cancel')).toBeDisabled();
    // And the reason reads once ("the job was cancelled", not "the job was cancelled (cancelled)")
    await expect(cellpipe.monitor.detail.getByText('the job was cancelled', { exact: true })).toHaveCount(2);
    await expect(cellpipe.statusItem).toHaveText('Cellpipe: idle');
  });
});
