import { join } from 'node:path';
import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, submitJob } from './helpers/notebooks.js';
import { saveScreenshot } from './helpers/screenshots.js';

/** JupyterLab's root folder on disk (see scripts/ui-test-servers.sh), where task code can look. */
function labRoot(): string {
  const work = process.env.CELLPIPE_UI_WORK;
  if (!work) throw new Error('CELLPIPE_UI_WORK is not set (playwright.config.js sets it)');
  return join(work, 'root');
}

const MIG = 'nvidia.com/mig-3g.20gb';

test.describe('the Resources tab: who holds what', () => {
  test('shows the task holding the only MIG 3g.20gb slice and the task waiting for it, live', async ({
    page,
    tmpPath,
  }, testInfo) => {
    const cellpipe = new Cellpipe(page);
    const release = join(labRoot(), tmpPath, 'release.flag');

    // Given the server declares one MIG 3g.20gb slice (CELLPIPE_GPUS in ui-test-servers.sh), a task
    // that holds it until a flag file appears, and another task that asks for it
    const holding = codeNotebook([
      { source: 'import os, time' },
      {
        source: `while not os.path.exists(${JSON.stringify(release)}):\n    time.sleep(0.1)\nprint("released")`,
        tags: ['task:train', 'mig:3g.20gb'],
      },
    ]);
    const asking = codeNotebook([{ source: 'print("my turn")', tags: ['task:evaluate', 'mig:3g.20gb'] }]);
    const holder = await submitJob(page, holding, { path: `${tmpPath}/holding.ipynb` });
    await cellpipe.resources.open();
    await expect(cellpipe.resources.holder(MIG, holder.id, 'train')).toBeVisible({ timeout: 60_000 });
    const waiter = await submitJob(page, asking, { path: `${tmpPath}/asking.ipynb` });

    // Then the MIG 3g.20gb card says it is in use, by whom, and who waits for it and why
    const card = cellpipe.resources.resource(MIG);
    await expect(card).toContainText('1 of 1 in use · 0 free · 1 task waiting');
    const row = cellpipe.resources.holder(MIG, holder.id, 'train');
    await expect(row).toContainText(holder.id);
    await expect(row).toContainText('train');
    const waiting = cellpipe.resources.waiter(MIG, waiter.id, 'evaluate');
    await expect(waiting).toContainText(`waiting for a free ${MIG} (0 of 1 free)`);
    await expect(card.getByRole('meter')).toHaveAttribute('aria-valuenow', '1');
    // And the whole-GPU card shows nobody
    await expect(cellpipe.resources.resource('nvidia.com/gpu')).toContainText('0 of 1 in use');
    await page.sidebar.close('left');
    await page.sidebar.close('right');
    await saveScreenshot(testInfo, page, 'inventory.png');

    // When the holder's job is clicked, the monitor shows that job
    await row.getByRole('button', { name: holder.id }).click();
    await expect(cellpipe.monitor.detail.getByText(holder.id, { exact: true }).first()).toBeVisible();
    await expect(cellpipe.monitor.graphTask('train')).toHaveAttribute('data-state', 'running');

    // When the holder lets go, the waiting task gets the slice: the tab follows without a reload
    expect(await page.contents.uploadContent('go', 'text', `${tmpPath}/release.flag`)).toBe(true);
    await cellpipe.resources.open();
    await expect(cellpipe.resources.holder(MIG, holder.id, 'train')).toHaveCount(0, { timeout: 60_000 });
    await expect(cellpipe.resources.waiter(MIG, waiter.id, 'evaluate')).toHaveCount(0);
    await expect(card).toContainText('0 of 1 in use', { timeout: 60_000 });
  });
});
