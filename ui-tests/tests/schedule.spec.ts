import { expect, test } from '@jupyterlab/galata';
import { Cellpipe, proxied } from './pages/cellpipe.js';
import { codeNotebook, openNotebook } from './helpers/notebooks.js';

test.describe('schedules', () => {
  test('a schedule made from the sidebar fires jobs in the server until it is paused', async ({ page, tmpPath }) => {
    const cellpipe = new Cellpipe(page);

    // Given a one-task notebook with a parameter
    const nb = codeNotebook([
      { source: 'greeting = "hello"', tags: ['parameters'] },
      { source: 'print(greeting)', tags: ['task:greet'] },
    ]);
    await openNotebook(page, nb, `${tmpPath}/greet.ipynb`);
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(1);

    // When "Schedule…" is opened: a cron is read back in words and the server's next fire times show
    await cellpipe.pipeline.schedule.click();
    const dialog = cellpipe.scheduleDialog;
    await expect(dialog.field('Time zone')).not.toHaveValue('');
    await dialog.field('Cron').fill('30 2 * * *');
    await dialog.field('Time zone').selectOption('Europe/Berlin');
    await expect(dialog.reading).toHaveText('At 02:30, every day, Europe/Berlin');
    await expect(dialog.fires).toHaveCount(5);
    await expect(dialog.fires.first()).toContainText('02:30');

    // And it is saved to run every 5 seconds
    await dialog.field('Name').fill('greet-often');
    await dialog.field('Runs').selectOption('every');
    await dialog.field('Every').fill('5s');
    await expect(dialog.reading).toHaveText('Every 5s');
    await expect(dialog.fires).toHaveCount(5);
    const created = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(proxied('schedules')),
    );
    await dialog.save.click();
    const schedule = (await (await created).json()) as { id: string };

    // Then the Schedules tab lists it, and a job it started appears in the monitor, saying so
    await expect(cellpipe.schedules.row('greet-often')).toContainText('active');
    await cellpipe.monitor.open();
    await expect(cellpipe.monitor.scheduledJobs(schedule.id).first()).toBeVisible({ timeout: 60_000 });
    await cellpipe.monitor.scheduledJobs(schedule.id).first().getByRole('button').first().click();
    await expect(cellpipe.monitor.detail).toContainText(`schedule ${schedule.id}`);

    // When it is paused
    await cellpipe.schedules.open();
    await cellpipe.schedules.button('greet-often', 'Pause').click();
    await expect(cellpipe.schedules.row('greet-often')).toContainText('paused');

    // Then no further runs start (three slots pass)
    const count = async (): Promise<number> => {
      const res = await page.request.get(proxied('jobs?limit=500'));
      const list = (await res.json()) as { items: { scheduleId?: string }[] };
      return list.items.filter((j) => j.scheduleId === schedule.id).length;
    };
    const afterPause = await count();
    await page.waitForTimeout(16_000);
    expect(await count()).toBe(afterPause);
  });
});
