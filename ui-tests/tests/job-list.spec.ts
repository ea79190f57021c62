import { expect, test } from '@jupyterlab/galata';
import type { Request } from '@playwright/test';
import { Cellpipe } from './pages/cellpipe.js';
import { codeNotebook, submitJob } from './helpers/notebooks.js';

const listRequest = (r: Request) => r.method() === 'GET' && new URL(r.url()).pathname.endsWith('/cellpipe/api/jobs');

test.describe('a job list that scales', () => {
  test('200 jobs: server-side search, state, date and owner filters, paging as it scrolls, arrow keys, bulk delete', async ({
    page,
  }) => {
    test.setTimeout(300_000);
    const cellpipe = new Cellpipe(page);
    const suffix = Date.now().toString(36);
    const name = `sweep-${suffix}`;

    // Given 200 runs of one pipeline that fail at once (a MIG profile the server does not have) with
    // different learning rates, and 3 that succeed
    const failing = codeNotebook([
      { source: 'lr = 0.1', tags: ['parameters'] },
      { source: 'print(lr)', tags: ['task:train', 'mig:1g.10gb'] },
    ]);
    for (let i = 0; i < 200; i++) {
      await submitJob(page, failing, { path: 'sweep.ipynb', name, parameters: { lr: (i + 1) / 1000 } });
    }
    const working = codeNotebook([
      { source: 'lr = 0.1', tags: ['parameters'] },
      { source: 'print(lr)', tags: ['task:train'] },
    ]);
    const ok: string[] = [];
    for (let i = 0; i < 3; i++) ok.push((await submitJob(page, working, { path: 'sweep.ipynb', name })).id);

    // When the monitor lists jobs matching the pipeline's name
    await cellpipe.monitor.open();
    const searched = page.waitForRequest((r) => listRequest(r) && new URL(r.url()).searchParams.get('q') === name);
    await cellpipe.monitor.search.fill(name);
    await searched;

    // Then the server filtered them: the first page of 203, only some rows in the DOM
    await expect(cellpipe.monitor.listSummary).toHaveText('50 of 203 jobs');
    expect(await cellpipe.monitor.rows.count()).toBeLessThan(50);
    // And each row shows the parameter that tells runs of one pipeline apart
    await expect(cellpipe.monitor.rows.filter({ hasText: 'lr=0.2' })).toHaveCount(1);

    // When the list is scrolled to its end, the next page comes with the server's cursor
    const paged = page.waitForRequest((r) => listRequest(r) && new URL(r.url()).searchParams.has('cursor'));
    await cellpipe.monitor.rowList.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    const next = await paged;
    expect(new URL(next.url()).searchParams.get('q')).toBe(name);
    await expect(cellpipe.monitor.listSummary).toHaveText(/^(100|150|200|203) of 203 jobs$/);

    // When only succeeded jobs are asked for, the server filters by state
    const filtered = page.waitForRequest(
      (r) => listRequest(r) && new URL(r.url()).searchParams.get('state') === 'succeeded',
    );
    await cellpipe.monitor.stateFilter('succeeded').click();
    await filtered;
    await expect(cellpipe.monitor.listSummary).toHaveText('3 of 3 jobs', { timeout: 60_000 });
    for (const id of ok) await expect(cellpipe.monitor.job(id)).toHaveAttribute('data-state', 'succeeded');

    // The arrow keys move through the list
    await cellpipe.monitor.select(ok[2]!);
    await cellpipe.monitor.job(ok[2]!).getByRole('button').first().focus();
    await page.keyboard.press('ArrowDown');
    await expect(cellpipe.monitor.job(ok[1]!).getByRole('button').first()).toHaveAttribute('aria-pressed', 'true');
    await expect(cellpipe.monitor.job(ok[1]!).getByRole('button').first()).toBeFocused();

    // When two are ticked and deleted, it asks first, then the server has one left
    await cellpipe.monitor.job(ok[0]!).getByRole('checkbox').check();
    await cellpipe.monitor.job(ok[1]!).getByRole('checkbox').check();
    await cellpipe.monitor.list.getByRole('button', { name: 'Delete 2' }).click();
    await cellpipe.dialogButton('Delete 2 jobs').click();
    await expect(cellpipe.monitor.listSummary).toHaveText('1 of 1 job');
    const left = await page.request.get(`/cellpipe/api/jobs?q=${name}&state=succeeded`);
    expect(((await left.json()) as { items: { id: string }[] }).items.map((j) => j.id)).toEqual([ok[2]]);

    // The date and owner filters are the server's too: jobs of the last hour, then another user's
    const recent = page.waitForRequest((r) => listRequest(r) && new URL(r.url()).searchParams.has('since'));
    await cellpipe.monitor.createdFilter.selectOption({ label: 'Last hour' });
    const since = new URL((await recent).url()).searchParams.get('since')!;
    expect(Date.now() - Date.parse(since)).toBeGreaterThan(3_500_000);
    expect(Date.now() - Date.parse(since)).toBeLessThan(3_700_000);
    await expect(cellpipe.monitor.listSummary).toHaveText('1 of 1 job');
    const other = page.waitForRequest(
      (r) => listRequest(r) && new URL(r.url()).searchParams.get('user') === 'someone-else',
    );
    await cellpipe.monitor.ownerFilter.fill('someone-else');
    await other;
    await expect(cellpipe.monitor.list.getByText('No job matches these filters.')).toBeVisible();
  });
});
