import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from '../pages/cellpipe.js';
import { codeNotebook, submitJob } from '../helpers/notebooks.js';

const MIG = 'nvidia.com/mig-3g.20gb';

test.describe('the Resources tab on a Kubernetes cluster', () => {
  test('shows the pods holding the MIG 3g.20gb slices of a node, and the task the scheduler cannot place yet', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    // Given a cluster whose mixed-strategy MIG node has two 3g.20gb slices (testbed/README.md), and
    // three jobs each asking for one (their pods stay Running: scripts/ui-test-servers.sh)
    const nb = codeNotebook([{ source: 'print("slice")', tags: ['task:train', 'mig:3g.20gb'] }]);
    const first = await submitJob(page, nb, { path: `${tmpPath}/a.ipynb`, name: 'hold-a' });
    const second = await submitJob(page, nb, { path: `${tmpPath}/b.ipynb`, name: 'hold-b' });
    await cellpipe.resources.open();
    await expect(cellpipe.resources.tab).toContainText('Tasks run as Kubernetes Jobs');
    for (const job of [first, second]) {
      await expect(cellpipe.resources.holder(MIG, job.id, 'train')).toBeVisible({ timeout: 90_000 });
    }
    const third = await submitJob(page, nb, { path: `${tmpPath}/c.ipynb`, name: 'wait-c' });

    // Then each holder's row names the node its pod runs on, and the third task waits with the
    // scheduler's reason, live (no reload)
    for (const job of [first, second]) {
      await expect(cellpipe.resources.holder(MIG, job.id, 'train')).toContainText('mig-a100-mixed-0');
    }
    const waiting = cellpipe.resources.waiter(MIG, third.id, 'train');
    await expect(waiting).toContainText(/Insufficient nvidia\.com\/mig-3g\.20gb/, { timeout: 90_000 });
    await expect(cellpipe.resources.resource(MIG)).toContainText('1 task waiting');

    // When a holder is cancelled, the waiting task gets its slice
    const cancelled = await page.request.post(`/cellpipe/api/jobs/${first.id}/cancel`);
    expect(cancelled.ok()).toBe(true);
    await expect(cellpipe.resources.holder(MIG, first.id, 'train')).toHaveCount(0, { timeout: 90_000 });
    await expect(cellpipe.resources.holder(MIG, third.id, 'train')).toContainText('mig-a100-mixed-0', {
      timeout: 90_000,
    });
    await expect(waiting).toHaveCount(0);

    // When a holder's job is clicked, the monitor opens that job
    await cellpipe.resources.holder(MIG, second.id, 'train').getByRole('button', { name: second.id }).click();
    await expect(cellpipe.monitor.graphTask('train')).toHaveAttribute('data-state', 'running');
    for (const job of [second, third]) await page.request.post(`/cellpipe/api/jobs/${job.id}/cancel`);
  });
});
