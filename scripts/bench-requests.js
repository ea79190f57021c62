// What one request can cost the server (uses the built server/dist; run `npm run build` first).
//  - submitting a long chain: 2,000 and 20,000 tasks, each reading a variable from its parent, and
//    20,000 tasks all reading from the root; wall time of the POST and the longest event-loop stall,
//    per task, with the 2,000-task chain as the baseline (a ratio near 1 means linear);
//  - what readers that stop reading cost: the server's memory growth with 20 stalled downloads of a
//    64 MiB log and 20 stalled event streams while a task raises a 20 MB exception, against the same
//    number of readers that do read (the baseline).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { notebook } from './bench-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'server', 'dist');

/** A chain t0 → t1 → ... where task i reads `x0` (from: 'root') or `x{i-1}` (from: 'parent'). */
function chainRequest(n, from) {
  const tasks = Array.from({ length: n }, (_, i) => ({
    name: `t${i}`,
    source: { kind: 'cells' },
    cells: [i],
    dependsOn: i ? [`t${i - 1}`] : [],
    inputs: i ? [from === 'root' ? 'x0' : `x${i - 1}`] : [],
    outputs: [`x${i}`],
    resources: {},
    env: {},
  }));
  return {
    pipeline: {
      apiVersion: 'cellpipe.io/v1',
      kind: 'Pipeline',
      metadata: { name: `chain-${n}` },
      spec: { source: { notebook: 'chain.ipynb' }, tasks },
    },
    files: { 'chain.ipynb': notebook(tasks.map((_, i) => `x${i} = ${i}`)) },
  };
}

async function submitChain(server, n, from) {
  const body = JSON.stringify(chainRequest(n, from));
  const headers = { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' };
  const stall = monitorEventLoopDelay({ resolution: 10 });
  stall.enable();
  const t0 = performance.now();
  const res = await fetch(`${server.url}/api/jobs`, { method: 'POST', headers, body });
  const wallMs = performance.now() - t0;
  stall.disable();
  const job = await res.json();
  if (res.status !== 201) throw new Error(`submit ${n}: ${res.status} ${JSON.stringify(job).slice(0, 300)}`);
  await fetch(`${server.url}/api/jobs/${job.id}/cancel`, { method: 'POST', headers });
  return {
    tasks: n,
    readsFrom: from,
    bodyMiB: +(body.length / 2 ** 20).toFixed(1),
    submitMs: Math.round(wallMs),
    perTaskUs: +((wallMs * 1000) / n).toFixed(1),
    longestStallMs: Math.round(stall.max / 1e6),
  };
}

const MiB = 1024 * 1024;

/** Resident memory of this process after a full collection, in MiB. */
function rssMiB() {
  globalThis.gc?.();
  return process.memoryUsage().rss / MiB;
}

/** Opens `count` raw GETs; `read` false leaves each response unread (the kernel's buffers fill, then stop). */
async function openReaders(server, path, count, read) {
  const { port } = new URL(server.url);
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const s = connect(Number(port), '127.0.0.1', () => {
            s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
            if (read) s.on('data', () => undefined);
            else s.pause();
            resolve(s);
          });
          s.on('error', reject);
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 3000));
  return sockets;
}

async function waitJob(server, id) {
  const headers = { Authorization: `Bearer ${server.token}` };
  for (;;) {
    const job = await (await fetch(`${server.url}/api/jobs/${id}`, { headers })).json();
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stalledReaders(server) {
  const headers = { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' };
  const submit = async (code) => {
    const body = JSON.stringify({ ...chainRequest(1, 'parent'), files: { 'chain.ipynb': notebook([code]) } });
    const job = await (await fetch(`${server.url}/api/jobs`, { method: 'POST', headers, body })).json();
    return waitJob(server, job.id);
  };
  const logJob = await submit('pass');
  writeFileSync(server.service.logPath(logJob.id, 't0', 1), 'x'.repeat(64 * MiB));
  const logs = `/api/jobs/${logJob.id}/tasks/t0/logs`;
  const result = {};
  for (const read of [true, false]) {
    const before = rssMiB();
    const sockets = [
      ...(await openReaders(server, logs, 20, read)),
      ...(await openReaders(server, '/api/events', 20, read)),
    ];
    const failed = await submit('raise ValueError("e" * 20_000_000)');
    const grewMiB = +(rssMiB() - before).toFixed(1);
    result[read ? 'readingBaseline' : 'stalled'] = { grewMiB, exceptionTask: failed.state };
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
  }
  return result;
}

export async function benchRequests() {
  const { startServer } = await import(join(dist, 'main.js'));
  const readersHome = mkdtempSync(join(tmpdir(), 'cellpipe-bench-readers-'));
  const readersServer = await startServer({ home: readersHome, port: 0, gpus: '' });
  let readers;
  try {
    readers = await stalledReaders(readersServer);
  } finally {
    await readersServer.close();
    rmSync(readersHome, { recursive: true, force: true });
  }
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-bench-req-'));
  const server = await startServer({ home, port: 0, gpus: '' });
  try {
    await submitChain(server, 200, 'parent'); // warm-up
    const base = await submitChain(server, 2000, 'parent');
    const parent = await submitChain(server, 20000, 'parent');
    const root = await submitChain(server, 20000, 'root');
    return {
      readers,
      chain: { baseline: base, parent, root },
      // Per-task cost of the 20,000-task chains over the 2,000-task one: near 1 when linear, near 10 when quadratic.
      perTaskRatio: {
        parent: +(parent.perTaskUs / base.perTaskUs).toFixed(2),
        root: +(root.perTaskUs / base.perTaskUs).toFixed(2),
      },
      loadAverage1m: +loadavg()[0].toFixed(2),
    };
  } finally {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchRequests(), null, 2));
}
