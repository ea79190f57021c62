// `npm run bench schedules` (uses the built server/dist): 10,000 active schedules with mixed crons
// and time zones on one engine, firing for a few minutes of real time.
//  - fire latency: when each fired slot's job was committed, after the slot time (p50/p99/max);
//  - CPU of the server process per minute while firing, against a baseline measured in the same
//    run: the same number of jobs submitted straight to the job service;
//  - store growth per 100,000 fires (SQLite file after a checkpoint).
// Tasks run on an executor that ends them at once, so what is measured is the scheduler and the
// engine, not Python. CELLPIPE_BENCH_SCHEDULE_MINUTES sets the firing time (default 2).
//  - burst growth: CPU per fire when 100 and when 700 schedules share one slot, each on an engine of
//    its own; a ratio near 1 says a burst costs linear time, near 7 quadratic.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'server', 'dist');

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Asia/Tokyo',
  'Asia/Kolkata',
  'Australia/Sydney',
  'America/Sao_Paulo',
  'Africa/Lagos',
];

/** The mix: a few every-minute crons, many 5-minute and hourly ones, daily ones in every zone. */
function cronFor(i) {
  const m = (i * 7) % 60;
  const r = i % 50;
  if (r === 0) return '* * * * *'; // 2 %
  if (r <= 10) return `${m % 5}-59/5 * * * *`; // 20 %
  if (r <= 34) return `${m} * * * *`; // 48 %
  return `${m} ${(i * 11) % 24} * * *`; // 30 %
}

/** An executor whose attempts end at once, successfully. */
function instantExecutor() {
  return {
    name: 'bench',
    inventory: async () => ({ executor: 'bench', resources: [] }),
    async start(_spec, report) {
      setImmediate(() => {
        report({ type: 'running', handle: {} });
        report({ type: 'exited', exitCode: 0, result: { status: 'succeeded' } });
      });
    },
    async cancel() {},
    async reattach() {
      return 'not-found';
    },
    async close() {},
  };
}

function pipeline() {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: 'code', id: 'c0', metadata: {}, source: 'x = 1', outputs: [], execution_count: null }],
  };
  return {
    pipeline: {
      apiVersion: 'cellpipe.io/v1',
      kind: 'Pipeline',
      metadata: { name: 'bench' },
      spec: {
        source: { notebook: 'bench.ipynb' },
        setupCells: [],
        parameters: { n: { default: 1, type: 'integer' } },
        defaults: {},
        failurePolicy: 'continue',
        tasks: [
          {
            name: 't',
            source: { kind: 'cells' },
            cells: [0],
            dependsOn: [],
            inputs: [],
            outputs: [],
            resources: {},
            env: {},
            retries: 0,
          },
        ],
      },
    },
    files: { 'bench.ipynb': JSON.stringify(nb) },
  };
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function dbBytes(store, file) {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return statSync(file).size;
}

async function engine(home) {
  const [{ createJobService }, { createScheduling }, { SqliteStore }, { SqlitePipelineStore }, schema] =
    await Promise.all([
      import(join(dist, 'engine.js')),
      import(join(dist, 'scheduling.js')),
      import(join(dist, 'store', 'sqlite-store.js')),
      import(join(dist, 'store', 'pipeline-store.js')),
      import('@cellpipe/schema'),
    ]);
  const file = join(home, 'cellpipe.db');
  const store = new SqliteStore(file);
  const pipelineStore = new SqlitePipelineStore(store.db);
  const service = createJobService({ home, executor: instantExecutor(), store, versions: pipelineStore });
  await service.start();
  const scheduling = createScheduling({ store, pipelineStore, jobs: service, log: () => undefined });
  await scheduling.start();
  return { service, scheduling, store, file, schema };
}

/** N schedules whose one slot is the same instant: CPU per fire and latency of that burst. */
async function burst(n, schema) {
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-burst-'));
  const { service, scheduling, store } = await engine(home);
  try {
    await scheduling.pipelines.save('bench', schema.SavePipelineRequestSchema.parse(pipeline()));
    // Far enough ahead for the schedules to be created first (a few ms each, more under load).
    const slot = Math.ceil((Date.now() + 3000 + n * 10) / 1000) * 1000;
    for (let i = 0; i < n; i++) {
      const spec = schema.CreateScheduleRequestSchema.parse({
        name: `b${i}`,
        pipeline: 'bench',
        every: '1h',
        startAt: new Date(slot).toISOString(),
        parameters: { n: i },
        concurrency: 'allow',
      });
      await scheduling.schedules.create('bench', spec);
    }
    let ended = 0;
    const done = new Promise((resolve) => {
      service.events.on('job', (job) => {
        if (job.scheduleId && job.state === 'succeeded' && ++ended === n) resolve(undefined);
      });
    });
    await new Promise((r) => setTimeout(r, Math.max(0, slot - Date.now() - 200)));
    const cpuBefore = cpuMs();
    await done;
    await scheduling.scheduler.idle();
    const cpu = cpuMs() - cpuBefore;
    const latencies = store.db
      .prepare('SELECT slot, fired_at FROM schedule_runs WHERE job_id IS NOT NULL')
      .all()
      .map((r) => Date.parse(r.fired_at) - r.slot);
    return {
      fires: latencies.length,
      cpuMsPerFire: +(cpu / n).toFixed(2),
      fireLatencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
    };
  } finally {
    await scheduling.close();
    await service.close();
    rmSync(home, { recursive: true, force: true });
  }
}

export async function benchSchedules(options = {}) {
  const steady = await firing(options);
  // After the 10,000 schedules' engine is closed, so nothing else fires meanwhile.
  const schema = await import('@cellpipe/schema');
  const small = await burst(100, schema);
  const large = await burst(700, schema);
  return {
    ...steady,
    burstGrowth: {
      what: 'CPU per fire when 100 and when 700 schedules fire in one slot (each on its own engine)',
      fires100: small,
      fires700: large,
      perFireRatio: small.cpuMsPerFire ? +(large.cpuMsPerFire / small.cpuMsPerFire).toFixed(2) : null,
    },
  };
}

/** 10,000 schedules firing for `minutes` minutes. */
async function firing(options) {
  const count = options.schedules ?? 10_000;
  const minutes = options.minutes ?? Number(process.env.CELLPIPE_BENCH_SCHEDULE_MINUTES || 2);
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-sched-'));
  const { service, scheduling, store, file, schema } = await engine(home);
  try {
    await scheduling.pipelines.save('bench', schema.SavePipelineRequestSchema.parse(pipeline()));
    const createStart = performance.now();
    for (let i = 0; i < count; i++) {
      const spec = schema.CreateScheduleRequestSchema.parse({
        name: `s${i}`,
        pipeline: 'bench',
        cron: cronFor(i),
        timezone: ZONES[i % ZONES.length],
        parameters: { n: i },
        concurrency: 'allow',
      });
      await scheduling.schedules.create('bench', spec);
    }
    const createMs = performance.now() - createStart;

    // Fire from the next whole minute for `minutes` minutes.
    const from = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
    const until = from + minutes * 60_000;
    await new Promise((r) => setTimeout(r, from - Date.now() - 500));
    const bytesBefore = dbBytes(store, file);
    const cpuBefore = cpuMs();
    const wallBefore = performance.now();
    await new Promise((r) => setTimeout(r, until - Date.now() + 5_000));
    await scheduling.scheduler.idle();
    const cpuFiring = cpuMs() - cpuBefore;
    const wallFiring = performance.now() - wallBefore;
    const rows = store.db
      .prepare('SELECT slot, fired_at FROM schedule_runs WHERE job_id IS NOT NULL AND slot >= ? AND slot < ?')
      .all(from, until);
    const latencies = rows.map((r) => Date.parse(r.fired_at) - r.slot);
    const skipped = store.db
      .prepare("SELECT count(*) AS n FROM schedule_runs WHERE outcome = 'skipped' AND slot >= ? AND slot < ?")
      .get(from, until).n;
    const bytesAfter = dbBytes(store, file);
    const fires = rows.length;

    // Baseline: the same number of jobs submitted directly (no scheduler), same engine and executor.
    const request = schema.SubmitJobRequestSchema.parse(pipeline());
    const cpuBase = cpuMs();
    const wallBase = performance.now();
    let done = 0;
    const finished = new Promise((resolve) => {
      const on = (job) => {
        if (job.name === 'baseline' && ['succeeded', 'failed', 'cancelled'].includes(job.state) && ++done === fires)
          resolve(undefined);
      };
      service.events.on('job', on);
    });
    for (let i = 0; i < fires; i++) {
      await service.submit('bench', { ...request, name: 'baseline', parameters: { n: i } });
      if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    }
    if (fires) await finished;
    const cpuBaseline = cpuMs() - cpuBase;
    const wallBaseline = performance.now() - wallBase;

    return {
      schedules: count,
      minutes,
      createSchedulesMs: Math.round(createMs),
      fires,
      skippedSlots: skipped,
      fireLatencyMs: {
        p50: pct(latencies, 50),
        p99: pct(latencies, 99),
        max: latencies.length ? Math.max(...latencies) : null,
        targetP99: 1000,
      },
      cpuMsPerMinute: Math.round(cpuFiring / (wallFiring / 60_000)),
      cpuMsPerFire: fires ? +(cpuFiring / fires).toFixed(2) : null,
      baseline: {
        what: 'the same number of jobs submitted straight to the job service',
        cpuMs: Math.round(cpuBaseline),
        wallMs: Math.round(wallBaseline),
        cpuMsPerJob: fires ? +(cpuBaseline / fires).toFixed(2) : null,
      },
      cpuRatioToBaseline: cpuBaseline ? +(cpuFiring / cpuBaseline).toFixed(2) : null,
      storeBytesPer100kFires: fires ? Math.round(((bytesAfter - bytesBefore) / fires) * 100_000) : null,
      loadavg: loadavg().map((x) => +x.toFixed(2)),
    };
  } finally {
    await scheduling.close();
    await service.close();
    rmSync(home, { recursive: true, force: true });
  }
}
