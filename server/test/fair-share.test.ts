/**
 * Fair use of GPUs on the local executor: per-user and per-team limits (config `gpuLimits`) hold a
 * task in the queue, nothing started for it, with a reason a person understands, while other users'
 * tasks run on the free devices. Real runner processes on a declared inventory (CELLPIPE_GPUS).
 */
import { jest } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '@cellpipe/schema';
import { Teams } from '../src/auth/teams.js';
import { loadConfig } from '../src/config.js';
import { GpuLimits } from '../src/gpu/fair-share.js';
import { request, startService, taskOf, until, waitForJob } from './jobs-fixtures.js';

jest.setTimeout(90_000);

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-fair-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** Python that marks that it started, then holds its device until `release` exists. */
function holdUntil(started: string, release: string): string {
  return (
    `import os, time\nopen(${JSON.stringify(started)}, 'w').close()\n` +
    `for _ in range(1200):\n    if os.path.exists(${JSON.stringify(release)}): break\n    time.sleep(0.05)\n`
  );
}

describe('the gpuLimits configuration', () => {
  test('reads kinds as CELLPIPE_GPUS names them, and names the field of a bad entry', () => {
    const file = join(scratch, 'config.yaml');
    writeFileSync(
      file,
      'teams:\n  vision: {groups: [vision]}\n' +
        'gpuLimits:\n  user: {gpu: 2, mig-3g.20gb: 1}\n  teams:\n    vision: {mig-3g.20gb: 4}\n  users:\n    alice: {gpu: 4}\n',
    );
    const config = loadConfig({ configFile: file, env: { CELLPIPE_HOME: scratch } });
    expect(config.gpuLimits).toEqual({
      user: { gpu: 2, 'mig-3g.20gb': 1 },
      team: {},
      teams: { vision: { 'mig-3g.20gb': 4 } },
      users: { alice: { gpu: 4 } },
    });
    writeFileSync(file, 'gpuLimits:\n  user: {gpus: 2}\n');
    expect(() => loadConfig({ configFile: file, env: { CELLPIPE_HOME: scratch } })).toThrow(
      /gpuLimits\.user\.gpus: .*gpu or mig-<profile>/,
    );
    writeFileSync(file, 'gpuLimits:\n  user: {gpu: -1}\n');
    expect(() => loadConfig({ configFile: file, env: { CELLPIPE_HOME: scratch } })).toThrow(/gpuLimits\.user\.gpu/);
    writeFileSync(file, 'gpuLimits:\n  teams:\n    visoin: {gpu: 1}\n');
    expect(() => loadConfig({ configFile: file, env: { CELLPIPE_HOME: scratch } })).toThrow(
      /gpuLimits\.teams\.visoin: no team "visoin" in teams:/,
    );
    writeFileSync(file, 'gpuLimits:\n  everyone: {gpu: 1}\n');
    expect(() => loadConfig({ configFile: file, env: { CELLPIPE_HOME: scratch } })).toThrow(/everyone/);
  });
});

describe('per-user limits on the local executor', () => {
  test("a task over its owner's share waits, nothing started, while another user's runs on a free GPU", async () => {
    const h = await startService({ gpus: 'gpu:3', gpuLimits: new GpuLimits({ user: { gpu: 1 } }) });
    try {
      const release = join(scratch, 'release');
      const started = (name: string): string => join(scratch, `${name}.started`);
      const alice = await h.service.submit(
        'alice',
        request([
          { name: 'first', code: holdUntil(started('first'), release), resources: { gpu: 1 } },
          { name: 'second', code: holdUntil(started('second'), release), resources: { gpu: 1 } },
          { name: 'cpu', code: 'x = 1\n' },
        ]),
      );
      const bob = await h.service.submit(
        'bob',
        request([{ name: 'other', code: holdUntil(started('other'), release), resources: { gpu: 1 } }]),
      );
      // Bob's task and one of Alice's hold a GPU each (a third is free); Alice's other one waits.
      await until(() => existsSync(started('other')), "bob's task to start");
      const waiting = await waitForJob(h.service, alice.id, (j) =>
        j.tasks.some((t) => t.waitingReason?.startsWith('waiting: user alice')),
      );
      const held = (j: Job) => j.tasks.filter((t) => t.state === 'running' && t.resources.gpu).map((t) => t.name);
      expect(held(waiting)).toHaveLength(1);
      const queued = waiting.tasks.find((t) => t.waitingReason)!;
      expect(queued).toMatchObject({
        state: 'queued',
        attempt: 0,
        waitingReason: 'waiting: user alice already uses 1 of 1 nvidia.com/gpu',
      });
      // Held back by the server itself: the executor never saw it (it holds no device, and no
      // process of it started).
      expect(existsSync(started(queued.name))).toBe(false);
      const gpu = (await h.service.inventory()).resources.find((r) => r.resource === 'nvidia.com/gpu')!;
      expect(gpu).toMatchObject({ allocatable: 3, used: 2, free: 1 });
      expect(gpu.waiting).toEqual([
        expect.objectContaining({ user: 'alice', task: queued.name, reason: queued.waitingReason }),
      ]);
      // A task without GPUs is not held back by its owner's GPU share.
      await waitForJob(h.service, alice.id, (j) => taskOf(j, 'cpu').state === 'succeeded');

      writeFileSync(release, '');
      const [a, b] = await Promise.all([waitForJob(h.service, alice.id), waitForJob(h.service, bob.id)]);
      expect(a.state).toBe('succeeded');
      expect(b.state).toBe('succeeded');
      expect(taskOf(a, queued.name)).toMatchObject({ attempt: 1 });
      await until(() => existsSync(started(queued.name)), 'the held-back task to have run');
      expect(taskOf(a, queued.name).waitingReason).toBeUndefined();
    } finally {
      await h.cleanup();
    }
  });

  test('a MIG profile is limited on its own, and a task over a whole share fails at once', async () => {
    const h = await startService({
      gpus: 'gpu:2,mig-3g.20gb:2',
      gpuLimits: new GpuLimits({ user: { 'mig-3g.20gb': 1 }, users: { alice: { gpu: 1 } } }),
    });
    try {
      const release = join(scratch, 'release');
      const job = await h.service.submit(
        'alice',
        request([
          { name: 'slice', code: holdUntil(join(scratch, 'slice'), release), resources: { mig: '3g.20gb' } },
          { name: 'slice2', code: 'pass\n', resources: { mig: '3g.20gb' } },
          { name: 'big', code: 'pass\n', resources: { gpu: 2 } },
        ]),
      );
      const waiting = await waitForJob(
        h.service,
        job.id,
        (j) => j.tasks.some((t) => t.waitingReason?.startsWith('waiting:')) && taskOf(j, 'big').state === 'failed',
      );
      const slices = waiting.tasks.filter((t) => t.name.startsWith('slice'));
      expect(slices.map((t) => t.waitingReason ?? 'runs')).toEqual(
        expect.arrayContaining(['runs', 'waiting: user alice already uses 1 of 1 nvidia.com/mig-3g.20gb']),
      );
      expect(taskOf(waiting, 'big')).toMatchObject({
        state: 'failed',
        attempt: 0,
        error: {
          reason: 'unschedulable',
          message: 'needs 2 nvidia.com/gpu but user alice may hold at most 1 at once (gpuLimits.users.alice)',
        },
      });
      writeFileSync(release, '');
      const done = await waitForJob(h.service, job.id);
      expect(
        done.tasks
          .filter((t) => t.state === 'succeeded')
          .map((t) => t.name)
          .sort(),
      ).toEqual(['slice', 'slice2']);
    } finally {
      await h.cleanup();
    }
  });
});

describe('per-team limits on the local executor (teams from the configuration)', () => {
  test("a team's share counts every member's tasks; a user of another team is not held back", async () => {
    const teams = new Teams({ vision: { users: ['alice', 'bob'] }, nlp: { users: ['carol'] } });
    const h = await startService({
      gpus: 'gpu:3',
      gpuLimits: new GpuLimits({ team: { gpu: 1 } }),
      teamOf: (owner) => teams.primaryOfUser(owner),
    });
    try {
      const release = join(scratch, 'release');
      const started = (name: string): string => join(scratch, `${name}.started`);
      const hold = (name: string) => ({ name, code: holdUntil(started(name), release), resources: { gpu: 1 } });
      const alice = await h.service.submit('alice', request([hold('a')]));
      await until(() => existsSync(started('a')), "alice's task to start");
      const bob = await h.service.submit('bob', request([hold('b')]));
      const carol = await h.service.submit('carol', request([hold('c')]));
      // carol's team has its own share: her task runs while bob's waits for alice's to end.
      await until(() => existsSync(started('c')), "carol's task to start");
      const waiting = await waitForJob(h.service, bob.id, (j) => taskOf(j, 'b').waitingReason !== undefined);
      expect(taskOf(waiting, 'b')).toMatchObject({
        state: 'queued',
        attempt: 0,
        waitingReason: 'waiting: team vision already uses 1 of 1 nvidia.com/gpu',
      });
      expect(existsSync(started('b'))).toBe(false);

      writeFileSync(release, '');
      for (const job of [alice, bob, carol]) expect((await waitForJob(h.service, job.id)).state).toBe('succeeded');
      expect(existsSync(started('b'))).toBe(true);
    } finally {
      await h.cleanup();
    }
  });
});
