import { expect, test } from '@jupyterlab/galata';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('notifications', () => {
  test('Run can leave the user in the notebook; a toast says when the job ends, and Open shows it', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    const nb = codeNotebook([
      { source: 'import time' },
      { source: 'time.sleep(2)\nvalue = 41', tags: ['task:first'] },
      { source: 'print(value + 1)', tags: ['task:second'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/toast.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(2);

    // Given "Stay in the notebook after Run" is on
    await cellpipe.pipeline.stayInNotebook.check();

    // When the pipeline runs
    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await cellpipe.pipeline.run.click();
    const job = (await (await submitted).json()) as { id: string };

    // Then the notebook stays in front, and a notification says the job was submitted
    await expect(page.getByRole('tab', { name: /toast\.ipynb/ })).toHaveAttribute('aria-selected', 'true');
    await expect(cellpipe.toast(`(${job.id}) submitted`)).toBeVisible();
    await expect(cellpipe.monitor.widget).toBeHidden();

    // And when the job ends, a notification says it succeeded, with Open
    const done = cellpipe.toast(`(${job.id}) succeeded`);
    await expect(done).toBeVisible({ timeout: 120_000 });
    await done.getByRole('button', { name: 'Open' }).click();

    // Then the monitor shows that job
    await expect(cellpipe.monitor.widget).toBeVisible();
    await expect(cellpipe.monitor.detail.getByText(job.id, { exact: true }).first()).toBeVisible();
    await expect(cellpipe.monitor.graphTask('second')).toHaveAttribute('data-state', 'succeeded');
    await cellpipe.pipeline.stayInNotebook.uncheck();
  });
});
