// What a /metrics scrape costs as the store grows (uses the built server/dist; run `npm run build` first).
//  - a store of 1,000 jobs (the baseline) and one of 100,000, each job with 3 tasks, in every state;
//  - GET /metrics through the real app over HTTP: median and p95 of 30 scrapes at each size, and the
//    ratio of the medians (near 1: the scrape does not grow with the store);
//  - for reference, what the scrape used to do: walk every job page by page (service.list).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'server', 'dist');
const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
const TASK_STATES = ['pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'];
const TOKEN = 'bench-metrics-token';

const pipeline = {
  apiVersion: 'cellpipe.io/v1',
  kind: 'Pipeline',
  metadata: { name: 'bench' },
  spec: { tasks: ['a', 'b', 'c'].map((name) => ({ name, source: { kind: 'script', path: `${name}.py` } })) },
};

/** An executor that is never asked to run anything (the service is not started). */
const idleExecutor = {
  name: 'idle',
  inventory: async () => ({ executor: 'idle', resources: [] }),
  start: async () => undefined,
  cancel: async () => undefined,
  reattach: async () => 'not-found',
  close: async () => undefined,
};

function fill(store, jobs) {
  const created = new Date().toISOString();
  store.db.transaction(() => {
    for (let i = 0; i < jobs; i++) {
      const job = {
        id: `b${i.toString(36).padStart(7, '0')}`,
        name: 'bench',
        owner: `user${i % 50}`,
        state: JOB_STATES[i % JOB_STATES.length],
        executor: 'idle',
        createdAt: created,
        pipeline,
        parameters: {},
      };
      const tasks = ['a', 'b', 'c'].map((name, j) => ({
        name,
        state: TASK_STATES[(i + j) % TASK_STATES.length],
        dependsOn: [],
        resources: {},
        attempt: 1,
        maxAttempts: 1,
        outputs: [],
        artifacts: [],
      }));
      store.insertJob(job, tasks);
    }
  })();
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const round = (ms) => +ms.toFixed(2);

async function measure(jobs, scrapes = 30) {
  const [{ createJobService }, { SqliteStore }, { createApp }, { TokenAuthenticator }] = await Promise.all([
    import(join(dist, 'engine.js')),
    import(join(dist, 'store', 'sqlite-store.js')),
    import(join(dist, 'http', 'app.js')),
    import(join(dist, 'auth', 'token-authenticator.js')),
  ]);
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-metrics-'));
  const store = new SqliteStore(join(home, 'cellpipe.db'));
  const t0 = performance.now();
  fill(store, jobs);
  const fillMs = performance.now() - t0;
  const service = createJobService({ home, executor: idleExecutor, store });
  const shutdown = new AbortController();
  const app = createApp({
    service,
    authenticator: new TokenAuthenticator([{ token: TOKEN, user: 'ops', admin: true }]),
    shutdown: shutdown.signal,
    logError: () => undefined,
  });
  const server = createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/metrics`;
  try {
    const times = [];
    let text = '';
    for (let i = 0; i < scrapes + 3; i++) {
      const t = performance.now();
      const res = await fetch(url);
      text = await res.text();
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      if (i >= 3) times.push(performance.now() - t);
    }
    const reported = Number(/^cellpipe_jobs\{state="succeeded"\} (\d+)$/m.exec(text)?.[1]);
    if (reported !== jobs / JOB_STATES.length) throw new Error(`scrape says ${reported} succeeded jobs`);
    const walk = performance.now();
    let walked = 0;
    let cursor;
    do {
      const page = service.list({ limit: 500, cursor });
      walked += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    const walkMs = performance.now() - walk;
    if (walked !== jobs) throw new Error(`walked ${walked} of ${jobs} jobs`);
    return {
      jobs,
      tasks: jobs * 3,
      fillMs: Math.round(fillMs),
      scrapeMedianMs: round(quantile(times, 0.5)),
      scrapeP95Ms: round(quantile(times, 0.95)),
      walkEveryJobMs: Math.round(walkMs),
    };
  } finally {
    shutdown.abort();
    await new Promise((r) => server.close(r));
    server.closeAllConnections();
    await service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

export async function benchMetrics() {
  const load = loadavg()[0];
  const baseline = await measure(1_000);
  const large = await measure(100_000);
  return {
    baseline,
    large,
    scrapeRatio: round(large.scrapeMedianMs / baseline.scrapeMedianMs),
    loadavg: +load.toFixed(2),
  };
}
