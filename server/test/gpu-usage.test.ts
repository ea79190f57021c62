/**
 * GPU use per attempt: the nvidia-smi CSV parser on recorded answers (unit), and the whole path —
 * real local executor, real Python task, SQLite store and HTTP API — with a fake `nvidia-smi` first on
 * the server's PATH. The fake is a boundary fake (there is no GPU here): it checks it was asked the
 * documented query and prints fixed CSV for the GPU UUIDs the test declares (CELLPIPE_GPUS syntax).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { JobSchema } from '@cellpipe/schema';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { parseDeclaredGpus } from '../src/gpu/inventory.js';
import { GPU_QUERY, GpuUsageAccumulator, parseGpuQuery } from '../src/gpu/usage-sampler.js';
import { auth, startApp, type TestApp } from './http-helpers.js';
import { request as jobRequest, waitForJob } from './jobs-fixtures.js';

const MiB = 1024 * 1024;

describe('parseGpuQuery', () => {
  it('reads uuid, utilisation % and memory MiB; N/A and Not Supported are no value', () => {
    // Recorded shapes: a busy A100, an idle one, a GPU in MIG mode (utilisation N/A), a consumer board.
    const text = [
      'GPU-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4, 87, 14540',
      'GPU-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901, 0, 4',
      'GPU-5c3b2a10-aaaa-bbbb-cccc-0123456789ab, [N/A], 20123',
      'GPU-77777777-8888-9999-aaaa-bbbbbbbbbbbb, [Not Supported], [Not Supported]',
      '',
    ].join('\r\n');
    const r = parseGpuQuery(text);
    expect(r.get('GPU-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4')).toEqual({ utilization: 87, memoryBytes: 14540 * MiB });
    expect(r.get('GPU-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901')).toEqual({ utilization: 0, memoryBytes: 4 * MiB });
    expect(r.get('GPU-5c3b2a10-aaaa-bbbb-cccc-0123456789ab')).toEqual({ memoryBytes: 20123 * MiB });
    expect(r.get('GPU-77777777-8888-9999-aaaa-bbbbbbbbbbbb')).toEqual({});
    expect(r.size).toBe(4);
  });

  it('ignores what is not a CSV answer (an error message, a blank output)', () => {
    expect(parseGpuQuery('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.').size).toBe(
      0,
    );
    expect(parseGpuQuery('').size).toBe(0);
  });
});

describe('GpuUsageAccumulator', () => {
  it("keeps mean and peak utilisation and the most memory held at once, over the attempt's GPUs only", () => {
    const acc = new GpuUsageAccumulator(['A', 'B']);
    acc.add(parseGpuQuery('A, 90, 1000\nB, 30, 500\nOTHER, 100, 80000'));
    acc.add(parseGpuQuery('A, 50, 2000\nB, 10, 100\nOTHER, 100, 80000'));
    // Means per sample 60 and 30 → 45; peak one GPU's 90; memory 1500 then 2100 MiB.
    expect(acc.result()).toEqual({
      gpuUtilizationMeanPercent: 45,
      gpuUtilizationPeakPercent: 90,
      gpuMemoryPeakBytes: 2100 * MiB,
    });
  });

  it('records nothing when no sample named its GPUs', () => {
    const acc = new GpuUsageAccumulator(['A']);
    acc.add(parseGpuQuery('OTHER, 100, 80000'));
    expect(acc.result()).toEqual({});
  });
});

describe('GPU use through the local executor, store and API (fake nvidia-smi on PATH)', () => {
  const GPU_A = 'GPU-0a0a0a0a-1111-2222-3333-444444444444';
  const GPU_B = 'GPU-0b0b0b0b-1111-2222-3333-444444444444';
  const MIG = 'MIG-0c0c0c0c-1111-2222-3333-444444444444';
  let bin: string;
  let t: TestApp;
  const savedPath = process.env.PATH;

  /**
   * The fake answers the documented query only; `mode` = ok prints the fixed CSV, fail exits 9. Real
   * nvidia-smi does not list MIG devices in --query-gpu; the fake does, so that a sampler wrongly
   * sampling a MIG device would be seen.
   */
  function fakeNvidiaSmi(mode: 'ok' | 'fail'): void {
    const script = `#!/bin/sh
[ "$*" = "${GPU_QUERY.join(' ')}" ] || { echo "unexpected arguments: $*" >&2; exit 2; }
${mode === 'fail' ? 'echo "NVIDIA-SMI has failed" >&2; exit 9' : `printf '%s\\n' '${GPU_A}, 80, 1000' '${GPU_B}, 40, 3000' 'GPU-ffffffff-0000-0000-0000-000000000000, 100, 70000' '${MIG}, 50, 2000'`}
`;
    writeFileSync(join(bin, 'nvidia-smi'), script);
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
  }

  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), 'cellpipe-fake-smi-'));
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
    const executor = new LocalExecutor({
      devices: parseDeclaredGpus(`gpu=${GPU_A},gpu=${GPU_B},mig-1g.10gb=${MIG}`),
      gpuSampling: { intervalMs: 100 },
      cgroups: false,
      warn: () => undefined,
    });
    t = await startApp({}, { executor });
  });
  afterAll(async () => {
    await t.cleanup();
    process.env.PATH = savedPath;
    rmSync(bin, { recursive: true, force: true });
  });

  async function runJob(tasks: Parameters<typeof jobRequest>[0]) {
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(jobRequest(tasks)).expect(201);
    const id = (res.body as { id: string }).id;
    await waitForJob(t.service, id);
    const got = await request(t.app).get(`/api/jobs/${id}`).set(auth('alice')).expect(200);
    return { id, job: JobSchema.parse(got.body) };
  }

  test('an attempt on whole GPUs records their mean/peak utilisation and peak memory; MIG and CPU tasks none', async () => {
    fakeNvidiaSmi('ok');
    const { id, job } = await runJob([
      { name: 'train', code: 'import time\ntime.sleep(1.5)', resources: { gpu: 2 } },
      { name: 'slice', code: 'import time\ntime.sleep(1.5)', resources: { mig: '1g.10gb' } },
      { name: 'cpu', code: 'import time\ntime.sleep(0.5)' },
    ]);
    const task = (name: string) => job.tasks.find((x) => x.name === name)!;
    expect(job.tasks.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Only the two GPUs the attempt holds count (the third line is another GPU). Without cgroups the
    // executor measures no memory or CPU time: those are the runner's getrusage (result.json usage),
    // which never samples GPUs itself outside a container.
    expect(task('train').usage).toEqual({
      gpuUtilizationMeanPercent: 60,
      gpuUtilizationPeakPercent: 80,
      gpuMemoryPeakBytes: 4000 * MiB,
      peakMemoryBytes: expect.any(Number),
      cpuSeconds: expect.any(Number),
    });
    // nvidia-smi reports no utilisation per MIG instance: nothing is recorded for one, even when named.
    expect(task('slice').usage?.gpuMemoryPeakBytes).toBeUndefined();
    expect(task('slice').usage?.gpuUtilizationMeanPercent).toBeUndefined();
    expect(task('cpu').usage?.gpuUtilizationMeanPercent).toBeUndefined();
    // The attempt's row in SQLite carries the same numbers.
    expect(t.service.store.attempts(id, 'train')[0]!.usage).toEqual(task('train').usage);
  });

  test('a failing nvidia-smi records nothing and does not fail the task', async () => {
    fakeNvidiaSmi('fail');
    const { job } = await runJob([{ name: 'train', code: 'import time\ntime.sleep(0.5)', resources: { gpu: 1 } }]);
    expect(job.tasks[0]!.state).toBe('succeeded');
    expect(job.tasks[0]!.usage?.gpuUtilizationMeanPercent).toBeUndefined();
    expect(job.tasks[0]!.usage?.gpuMemoryPeakBytes).toBeUndefined();
  });
});
