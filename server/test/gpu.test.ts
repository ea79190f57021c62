/** GPU inventory parsing, the allocator, and GPU tasks waiting/releasing through the real engine. */
import { jest } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskEvent } from '@cellpipe/schema';
import { GpuAllocator, gpuNeed } from '../src/gpu/allocator.js';
import { parseDeclaredGpus, parseNvidiaSmiList } from '../src/gpu/inventory.js';
import { appendLine, request, startService, taskOf, until, waitForJob } from './jobs-fixtures.js';

jest.setTimeout(60_000);

// Real `nvidia-smi -L` output: a MIG-partitioned A100 (current drivers), a whole H100, and the
// older MIG line format (R450) that names the MIG device by its parent's UUID.
const NVIDIA_SMI = `GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f)
  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 2g.20gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
  MIG 1g.10gb     Device  2: (UUID: MIG-1d4fa8a0-4c8c-5a0a-8a6e-d7f9a4c3b1f0)
  MIG 1g.10gb     Device  3: (UUID: MIG-0e5a2c1b-9f3d-5b7e-a1c2-3d4e5f6a7b8c)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4)
GPU 2: A100-SXM4-40GB (UUID: GPU-e86cb44c-6756-fd30-cd4a-1e6da3caf9b0)
  MIG 3g.20gb Device 0: (UUID: MIG-GPU-e86cb44c-6756-fd30-cd4a-1e6da3caf9b0/1/0)
`;

describe('inventory', () => {
  test('parses nvidia-smi -L: MIG devices replace their parent GPU', () => {
    const devices = parseNvidiaSmiList(NVIDIA_SMI);
    expect(devices.map((d) => [d.resource, d.id])).toEqual([
      ['nvidia.com/mig-3g.40gb', 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f'],
      ['nvidia.com/mig-2g.20gb', 'MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb'],
      ['nvidia.com/mig-1g.10gb', 'MIG-1d4fa8a0-4c8c-5a0a-8a6e-d7f9a4c3b1f0'],
      ['nvidia.com/mig-1g.10gb', 'MIG-0e5a2c1b-9f3d-5b7e-a1c2-3d4e5f6a7b8c'],
      ['nvidia.com/gpu', 'GPU-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4'],
      ['nvidia.com/mig-3g.20gb', 'MIG-GPU-e86cb44c-6756-fd30-cd4a-1e6da3caf9b0/1/0'],
    ]);
    expect(parseNvidiaSmiList('No devices were found\n')).toEqual([]);
  });

  test('parses declared inventories and rejects bad entries', () => {
    const devices = parseDeclaredGpus('gpu:2,mig-3g.20gb:1,mig-1g.10gb:2');
    expect(devices.map((d) => d.resource)).toEqual([
      'nvidia.com/gpu',
      'nvidia.com/gpu',
      'nvidia.com/mig-3g.20gb',
      'nvidia.com/mig-1g.10gb',
      'nvidia.com/mig-1g.10gb',
    ]);
    expect(new Set(devices.map((d) => d.id)).size).toBe(5);
    expect(parseDeclaredGpus('gpu=GPU-abc, mig-1g.10gb=MIG-def').map((d) => d.id)).toEqual(['GPU-abc', 'MIG-def']);
    expect(parseDeclaredGpus('')).toEqual([]);
    expect(parseDeclaredGpus('none')).toEqual([]);
    expect(() => parseDeclaredGpus('tpu:1')).toThrow(/bad GPU declaration "tpu:1"/);
    expect(() => parseDeclaredGpus('gpu=$(rm -rf /)')).toThrow(/bad GPU declaration/);
  });
});

describe('allocator', () => {
  const holder = { user: 'u', jobId: 'j', task: 't', since: '2026-01-01T00:00:00.000Z' };

  test('hands out, explains waiting, releases, and reports holders', () => {
    const a = new GpuAllocator(parseDeclaredGpus('gpu:2,mig-3g.20gb:1'));
    const first = a.tryAcquire('k1', holder, gpuNeed({ gpu: 2 }));
    expect(first.ok).toBe(true);
    expect(a.tryAcquire('k2', holder, gpuNeed({ gpu: 1 }))).toEqual({
      ok: false,
      reason: 'waiting for a free nvidia.com/gpu (0 of 2 free)',
    });
    expect(a.tryAcquire('k3', holder, gpuNeed({ mig: '3g.20gb' })).ok).toBe(true);
    expect(a.tryAcquire('k4', holder, gpuNeed({ mig: '3g.20gb' }))).toEqual({
      ok: false,
      reason: 'waiting for a free nvidia.com/mig-3g.20gb (0 of 1 free)',
    });
    const gpu = a.resources().find((r) => r.resource === 'nvidia.com/gpu')!;
    expect(gpu).toMatchObject({ allocatable: 2, used: 2, free: 0 });
    expect(gpu.holders).toEqual([{ user: 'u', jobId: 'j', task: 't', since: holder.since, count: 2 }]);
    a.release('k1');
    expect(a.tryAcquire('k2', holder, gpuNeed({ gpu: 1 })).ok).toBe(true);
    expect(a.tryAcquire('cpu', holder, gpuNeed({ cpu: '2' }))).toEqual({ ok: true, devices: [] });
  });

  test('knows requests that can never be met', () => {
    const a = new GpuAllocator(parseDeclaredGpus('gpu:1,mig-1g.10gb:2'));
    expect(a.impossible(gpuNeed({ gpu: 1 }))).toBeUndefined();
    expect(a.impossible(gpuNeed({ gpu: 2 }))).toContain('needs 2 nvidia.com/gpu but this machine has 1');
    expect(a.impossible(gpuNeed({ mig: '3g.20gb' }))).toContain('nvidia.com/mig-3g.20gb');
    expect(a.impossible(gpuNeed({}))).toBeUndefined();
  });
});

describe('GPU tasks through the engine (declared inventory)', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cellpipe-gpu-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  test('a task waits for a held MIG device, gets it when released, through CUDA_VISIBLE_DEVICES', async () => {
    const h = await startService({ gpus: 'mig-3g.20gb:1,gpu:1' });
    try {
      const release = join(scratch, 'release');
      const seen = join(scratch, 'seen');
      const waitRelease = `import os, time\nfor _ in range(400):\n    if os.path.exists(${JSON.stringify(release)}): break\n    time.sleep(0.05)\n`;
      const record = (name: string): string =>
        appendLine(seen, `${name} {os.environ.get('CUDA_VISIBLE_DEVICES')!r}`).replace('_f.write(', '_f.write(f');
      const reasons: string[] = [];
      const onTask = (e: TaskEvent): void => {
        if (e.task.waitingReason) reasons.push(`${e.task.name}: ${e.task.waitingReason}`);
      };
      h.service.events.on('task', onTask);
      const job = await h.service.submit(
        'alice',
        request([
          { name: 'first', code: `import os\n${record('first')}${waitRelease}`, resources: { mig: '3g.20gb' } },
          { name: 'second', code: `import os\n${record('second')}`, resources: { mig: '3g.20gb' } },
          { name: 'cpu', code: `import os\n${record('cpu')}` },
        ]),
      );
      // One holds the slice; the other waits with a plain reason while the slice is held.
      await until(() => reasons.length > 0 && existsSync(seen), 'a task to wait for the MIG slice');
      expect(reasons[0]).toMatch(/^(first|second): waiting for a free nvidia.com\/mig-3g.20gb \(0 of 1 free\)$/);
      const inv = await h.service.inventory();
      const mig = inv.resources.find((r) => r.resource === 'nvidia.com/mig-3g.20gb')!;
      expect(mig).toMatchObject({ allocatable: 1, used: 1, free: 0 });
      expect(mig.holders[0]).toMatchObject({ user: 'alice', jobId: job.id, count: 1 });
      const waiting = h.service.get(job.id)!.tasks.find((t) => t.waitingReason);
      expect(waiting?.state).toBe('queued');
      await import('node:fs').then((fs) => fs.writeFileSync(release, ''));
      const done = await waitForJob(h.service, job.id);
      h.service.events.off('task', onTask);
      expect(done.state).toBe('succeeded');
      const lines = readFileSync(seen, 'utf8').trim().split('\n').sort();
      // Each MIG task saw the one slice; the CPU task saw no GPU at all.
      expect(lines).toEqual(["cpu ''", "first 'fake-mig-3g.20gb-0'", "second 'fake-mig-3g.20gb-0'"]);
      expect(taskOf(done, 'first').placement).toContain('fake-mig-3g.20gb-0');
      expect(taskOf(done, 'second').waitingReason).toBeUndefined();
      // Released the moment the tasks ended.
      const after = (await h.service.inventory()).resources.find((r) => r.resource === 'nvidia.com/mig-3g.20gb')!;
      expect(after).toMatchObject({ used: 0, free: 1, holders: [] });
    } finally {
      await h.cleanup();
    }
  });

  test('a request the inventory can never satisfy fails at once with a clear error', async () => {
    const h = await startService({ gpus: 'gpu:1' });
    try {
      const job = await h.service.submit(
        'alice',
        request([
          { name: 'big', code: 'pass\n', resources: { gpu: 4 } },
          { name: 'mig', code: 'pass\n', resources: { mig: '1g.10gb' } },
          { name: 'ok', code: 'pass\n', resources: { gpu: 1 } },
        ]),
      );
      const done = await waitForJob(h.service, job.id);
      expect(done.state).toBe('failed');
      expect(taskOf(done, 'big').error).toMatchObject({ reason: 'unschedulable' });
      expect(taskOf(done, 'big').error?.message).toContain('needs 4 nvidia.com/gpu but this machine has 1');
      expect(taskOf(done, 'mig').error?.message).toContain('nvidia.com/mig-1g.10gb');
      expect(taskOf(done, 'ok').state).toBe('succeeded');
    } finally {
      await h.cleanup();
    }
  });
});
