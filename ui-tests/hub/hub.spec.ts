/**
 * Cellpipe on a real JupyterHub, in the browser: alice tags the quickstart in her own JupyterLab,
 * runs it as a pipeline and watches it in the monitor; bob's JupyterLab (monitor, API calls through
 * his extension's proxy, event stream, log and artifact URLs) neither shows nor reaches her job; an
 * admin sees both; and the service itself: 401 without a Hub token, 403 naming the scope without
 * it, a browser without a session sent through the Hub's login, cookie writes needing the XSRF token.
 */
import { expect, test as galata } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { BADGE, Cellpipe } from '../tests/pages/cellpipe.js';
import { exampleNotebook, openNotebook, withoutTaskTags } from '../tests/helpers/notebooks.js';
import type { HubInfo } from './global-setup.js';

const hub = JSON.parse(process.env.CELLPIPE_HUB ?? '{}') as HubInfo;

/**
 * galata's page in a user's JupyterLab under the Hub: their saved Hub login, the server's URL as
 * the base, and a test folder made through the server's own contents API (galata's folder helper
 * assumes a server at the origin's root).
 */
const test = galata.extend<{ user: string }>({
  user: ['alice', { option: true }],
  baseURL: async ({ user }, use) => use(`${hub.proxyUrl}/user/${user}`),
  storageState: async ({ user }, use) => use(hub.storage?.[user]),
  tmpPath: async ({ request, baseURL }, use, testInfo) => {
    const folder = `hub-${testInfo.testId}`;
    const res = await request.put(`${baseURL}/api/contents/${folder}`, { data: { type: 'directory' } });
    expect([200, 201]).toContain(res.status());
    await use(folder);
  },
});

test.skip(Boolean(hub.skip), hub.skip ?? '');
test.describe.configure({ mode: 'serial' });

const QUICKSTART_TASKS: [number, string][] = [
  [3, 'generate'],
  [4, 'stats'],
  [5, 'histogram'],
  [7, 'report'],
];

/** What a page of the lab gets for a URL (the browser's own cookies and the page's token). */
function fetchFromPage(page: Page, url: string, init: { method?: string; headers?: Record<string, string> } = {}) {
  return page.evaluate(
    async ({ url, init }) => {
      const res = await fetch(url, init);
      return { status: res.status, text: (await res.text()).slice(0, 2000) };
    },
    { url, init },
  );
}

/** A call to the service with a Hub token, as scripts make them. */
async function service(path: string, token?: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${hub.serviceUrl}${path}`, {
    headers: token ? { Authorization: `token ${token}` } : {},
    redirect: 'manual',
  });
  return { status: res.status, body: await res.text() };
}

let alicesJob = '';

test.describe('alice', () => {
  test.use({ user: 'alice' });

  test('tags the quickstart in her JupyterLab, runs it through the Hub service and watches it succeed', async ({
    page,
    tmpPath,
  }) => {
    const cellpipe = new Cellpipe(page);
    await openNotebook(page, withoutTaskTags(exampleNotebook('quickstart.ipynb')), `${tmpPath}/quickstart.ipynb`);
    await cellpipe.taskEditor.open();
    for (const [index, name] of QUICKSTART_TASKS) {
      await page.notebook.selectCells(index);
      await cellpipe.taskEditor.tag({ 'Task name': name });
      await expect(page.locator(BADGE).filter({ hasText: name })).toBeVisible();
    }
    await page.notebook.save();
    await cellpipe.pipeline.open();
    await expect(cellpipe.pipeline.tasks).toHaveCount(QUICKSTART_TASKS.length);

    const submitted = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/user/alice/cellpipe/api/jobs',
    );
    await cellpipe.pipeline.run.click();
    const response = await submitted;
    expect(response.status()).toBe(201);
    const job = (await response.json()) as { id: string; owner: string };
    expect(job.owner).toBe('alice');
    alicesJob = job.id;

    await cellpipe.monitor.open();
    await cellpipe.monitor.select(job.id);
    await expect(cellpipe.monitor.job(job.id)).toHaveAttribute('data-state', 'succeeded', { timeout: 150_000 });
    for (const [, name] of QUICKSTART_TASKS) {
      await expect(cellpipe.monitor.graphTask(name)).toHaveAttribute('data-state', 'succeeded');
    }
    await cellpipe.monitor.taskButton('stats', 'Logs').click();
    await expect(cellpipe.monitor.log('stats')).toContainText(/mean=-?\d+\.\d{3} stdev=\d+\.\d{3}/);
  });
});

test.describe('bob', () => {
  test.use({ user: 'bob' });

  test("neither sees nor reaches alice's job: monitor, API, events, log and artifact URLs", async ({ page }) => {
    expect(alicesJob).not.toBe('');
    const cellpipe = new Cellpipe(page);
    // His own job, so his monitor is not empty for want of data.
    const own = await page.evaluate(async () => {
      const notebook = {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [
          { cell_type: 'code', metadata: { tags: ['task:hello'] }, source: 'print("bob was here")', outputs: [] },
        ],
      };
      const res = await fetch('/user/bob/cellpipe/api/jobs', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ notebook: { path: 'bob.ipynb', content: notebook } }),
      });
      return { status: res.status, job: (await res.json()) as { id: string; owner: string } };
    });
    expect(own.status).toBe(201);
    expect(own.job.owner).toBe('bob');

    await cellpipe.monitor.open();
    await expect(cellpipe.monitor.job(own.job.id)).toBeVisible();
    await expect(cellpipe.monitor.job(alicesJob)).toHaveCount(0);

    const proxied = `/user/bob/cellpipe/api/jobs/${alicesJob}`;
    for (const url of [
      proxied,
      `${proxied}/tasks/stats/logs`,
      `${proxied}/tasks/report/artifacts/report.json`,
      `${proxied}/tasks/stats/notebook`,
      `/user/bob/cellpipe/api/events?job=${alicesJob}`,
    ]) {
      const res = await fetchFromPage(page, url);
      expect([url, res.status]).toEqual([url, 404]);
    }
    const cancel = await fetchFromPage(page, `${proxied}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(404);
    const list = await fetchFromPage(page, '/user/bob/cellpipe/api/jobs');
    expect(list.text).toContain(own.job.id);
    expect(list.text).not.toContain(alicesJob);

    // His event stream (through his proxy) carries his job's events, never hers.
    const events = await page.evaluate(
      async ({ mine, hers }) => {
        const source = new EventSource('/user/bob/cellpipe/api/events');
        const seen: string[] = [];
        const done = new Promise<void>((resolve) => {
          const record = (e: MessageEvent<string>) => {
            seen.push(e.data);
            if (e.data.includes(mine)) resolve();
          };
          source.addEventListener('job', record);
          source.addEventListener('task', record);
        });
        // Something of his own happens: a re-run.
        await fetch(`/user/bob/cellpipe/api/jobs/${mine}/rerun`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ mode: 'all' }),
        });
        await done;
        source.close();
        return { seen: seen.length, hers: seen.some((d) => d.includes(hers)) };
      },
      { mine: own.job.id, hers: alicesJob },
    );
    expect(events.seen).toBeGreaterThan(0);
    expect(events.hers).toBe(false);
  });
});

test("an admin sees both users' jobs; without a Hub token 401, without the scope 403 naming it", async () => {
  const all = await service('/api/jobs', hub.tokens.admin);
  expect(all.status).toBe(200);
  const owners = (JSON.parse(all.body) as { items: { owner: string; id: string }[] }).items;
  expect(owners.map((j) => j.owner)).toEqual(expect.arrayContaining(['alice', 'bob']));
  expect(owners.map((j) => j.id)).toContain(alicesJob);
  expect((await service(`/api/jobs/${alicesJob}/tasks/stats/logs`, hub.tokens.admin)).body).toMatch(/mean=/);

  expect((await service('/api/jobs')).status).toBe(401);
  expect((await service('/api/jobs', 'not-a-hub-token')).status).toBe(401);
  const carol = await service('/api/jobs', hub.tokens.carol);
  expect(carol.status).toBe(403);
  expect(carol.body).toContain('access:services!service=cellpipe');
});

test('a browser without a session is sent through the Hub login; its cookie writes need the XSRF token', async ({
  browser,
}) => {
  // No Hub session either (the test's default context carries alice's).
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  try {
    // A link to a job, opened without any session: the Hub's login page first.
    await page.goto(`${hub.serviceUrl}/`);
    await expect(page).toHaveURL(/\/hub\/login/);
    await page.fill('#username_input', 'alice');
    await page.fill('#password_input', hub.password);
    await page.click('#login_submit');
    // Back at the service, through the Hub's OAuth, as alice.
    await expect(page).toHaveURL(`${hub.serviceUrl}/`);
    await expect(page.locator('#who')).toContainText('Signed in as alice');
    await expect(page.locator(`a[href$="/api/jobs/${alicesJob}"]`)).toBeVisible();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'service-cellpipe-session');
    expect(session).toMatchObject({ path: '/services/cellpipe', httpOnly: true });

    // Reads ride on the cookie; a write needs the XSRF header too. (The browser's own requests with
    // its cookies, from outside the page: the page's CSP lets no script fetch anything.)
    const job = `${hub.serviceUrl}/api/jobs/${alicesJob}`;
    expect((await context.request.get(job)).status()).toBe(200);
    const bare = await context.request.post(`${job}/rerun`, { data: { mode: 'all' } });
    expect(bare.status()).toBe(403);
    expect(await bare.text()).toContain('X-XSRFToken');
    const forged = await context.request.post(`${job}/rerun`, {
      data: { mode: 'all' },
      headers: { 'X-XSRFToken': 'guessed' },
    });
    expect(forged.status()).toBe(403);
    const xsrf = cookies.find((c) => c.name === 'service-cellpipe-xsrf')!.value;
    const signed = await context.request.post(`${job}/rerun`, {
      data: { mode: 'all' },
      headers: { 'X-XSRFToken': decodeURIComponent(xsrf) },
    });
    expect(signed.status()).toBe(201);
    expect(await signed.json()).toMatchObject({ owner: 'alice', parentJobId: alicesJob });
  } finally {
    await context.close();
  }
});
