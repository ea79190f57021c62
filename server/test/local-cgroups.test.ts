/**
 * The local executor's containment, against the real thing: each attempt in its own cgroup on this
 * machine's cgroup trees (v2, or the v1 controllers), real python3 tasks that escape their process
 * group (new sessions, double forks), a real memory limit and the kernel's OOM killer. Skipped, with
 * the reason printed, where the machine gives the server no cgroup to create.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupManager, cgroupMounts } from '../src/executors/local/cgroup.js';
import { launcherPath, LocalExecutor } from '../src/executors/local/local-executor.js';
import { processAlive, request, startService, taskOf, until, waitForJob, type TestHome } from './jobs-fixtures.js';

jest.setTimeout(120_000);

const detected = CgroupManager.detect();
const cgroupsHere = detected instanceof CgroupManager;
if (!cgroupsHere) console.log(`skipping the cgroup tests: ${detected.unavailable}`);
const withCgroups = cgroupsHere ? describe : describe.skip;

/** Python that starts two processes outside its process group, records their pids, then says it is ready. */
const ESCAPE = `
import os, subprocess, time
out = os.environ['CELLPIPE_OUTPUT_DIR']
p = subprocess.Popen(['sleep', '1000'], start_new_session=True)
open(os.path.join(out, 'popen.pid'), 'w').write(str(p.pid))
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        open(os.path.join(out, 'daemon.pid'), 'w').write(str(os.getpid()))
        time.sleep(1000)
    os._exit(0)
os.waitpid(child, 0)
while not os.path.exists(os.path.join(out, 'daemon.pid')):
    time.sleep(0.05)
open(os.path.join(out, 'ready'), 'w').write('')
`;

function escapedPids(h: TestHome, jobId: string, task: string): number[] {
  const dir = h.service.layout.filesDir(jobId, task);
  return ['popen.pid', 'daemon.pid'].map((f) => Number(readFileSync(join(dir, f), 'utf8')));
}

withCgroups('with a cgroup per attempt', () => {
  let h: TestHome;
  beforeAll(async () => {
    h = await startService({
      executor: new LocalExecutor({ killGraceMs: 500, cgroups: detected as CgroupManager }),
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  test('cancel kills what the task started in new sessions (Popen start_new_session, double fork + setsid)', async () => {
    const job = await h.service.submit('alice', request([{ name: 'escape', code: `${ESCAPE}\ntime.sleep(1000)` }]));
    await until(() => existsSync(join(h.service.layout.filesDir(job.id, 'escape'), 'ready')), 'the task to escape');
    const pids = escapedPids(h, job.id, 'escape');
    expect(pids.every(processAlive)).toBe(true);
    await h.service.cancel(job.id);
    const done = await waitForJob(h.service, job.id);
    expect(taskOf(done, 'escape')).toMatchObject({ state: 'cancelled' });
    expect(pids.filter(processAlive)).toEqual([]);
  });

  test('what a task leaves running is killed when it ends', async () => {
    const job = await h.service.submit('alice', request([{ name: 'leaver', code: ESCAPE }]));
    const done = await waitForJob(h.service, job.id);
    expect(taskOf(done, 'leaver').state).toBe('succeeded');
    expect(escapedPids(h, job.id, 'leaver').filter(processAlive)).toEqual([]);
  });

  test('memory: is enforced; an OOM kill is reported as such, with what the attempt used', async () => {
    if (!(detected as CgroupManager).enforcesMemory) {
      console.log('skipping the memory limit test: no memory cgroup controller here');
      return;
    }
    const job = await h.service.submit(
      'alice',
      request([{ name: 'hog', code: "x = 'x' * (400 * 1024 * 1024)\nprint(len(x))", resources: { memory: '64Mi' } }]),
    );
    const hog = taskOf(await waitForJob(h.service, job.id), 'hog');
    expect(hog.state).toBe('failed');
    expect(hog.error).toMatchObject({
      reason: 'oom',
      message: expect.stringMatching(/^the task ran out of memory: .* for going over its memory: 64Mi$/),
    });
    expect(hog.usage?.peakMemoryBytes).toBeGreaterThan(0);
    expect(hog.usage!.peakMemoryBytes!).toBeLessThanOrEqual(64 * 1024 * 1024);
    // The attempt's record in the store carries the same numbers.
    expect(h.service.store.attempts(job.id, 'hog')[0]).toMatchObject({ reason: 'oom', usage: hog.usage });
  });

  test('cpu: sets the cgroup quota; peak memory and CPU seconds are recorded per attempt', async () => {
    const job = await h.service.submit(
      'alice',
      request([
        {
          name: 'spin',
          code: "import os, time\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'ready'), 'w')\nt = time.time()\nwhile time.time() - t < 2: pass",
          resources: { cpu: '250m' },
        },
      ]),
    );
    await until(() => existsSync(join(h.service.layout.filesDir(job.id, 'spin'), 'ready')), 'the task to run');
    const mounts = cgroupMounts();
    const name = `${job.id}.spin.1`;
    const v2 = mounts.v2 && readFileSync(join(mounts.v2, 'cellpipe', 'cgroup.subtree_control'), 'utf8');
    if (v2 && v2.includes('cpu')) {
      expect(readFileSync(join(mounts.v2!, 'cellpipe', name, 'cpu.max'), 'utf8').trim()).toBe('25000 100000');
    } else if (mounts.v1.has('cpu')) {
      expect(readFileSync(join(mounts.v1.get('cpu')!, 'cellpipe', name, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe(
        '25000',
      );
    }
    const spin = taskOf(await waitForJob(h.service, job.id), 'spin');
    expect(spin.state).toBe('succeeded');
    expect(spin.usage?.cpuSeconds).toBeGreaterThan(0);
    expect(spin.usage?.peakMemoryBytes).toBeGreaterThan(0);
    // Its cgroup is gone once it ended.
    for (const dir of [mounts.v2, ...mounts.v1.values()].filter(Boolean)) {
      expect(existsSync(join(dir!, 'cellpipe', name))).toBe(false);
    }
  });
});

withCgroups('left-over attempt cgroups', () => {
  test('empty ones are removed once they are old; one with a process in it is kept', async () => {
    const manager = detected as CgroupManager;
    const idle = manager.create(`sweep-idle-${process.pid}`, {});
    const busy = manager.create(`sweep-busy-${process.pid}`, {});
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    busy.attach(sleeper.pid!);
    try {
      manager.sweep();
      // Too young to be anybody's leftover yet.
      expect(idle.dirs.every((d) => existsSync(d))).toBe(true);
      manager.sweep(Date.now() + 11 * 60_000);
      expect(idle.dirs.some((d) => existsSync(d))).toBe(false);
      expect(busy.dirs.every((d) => existsSync(d))).toBe(true);
    } finally {
      await busy.kill();
      await busy.remove();
    }
  });
});

describe('without cgroups (process groups only)', () => {
  test('no cgroup tree means a clear reason to fall back', () => {
    expect(CgroupManager.detect({ mountinfo: '/nonexistent/mountinfo' })).toEqual({
      unavailable: 'no cgroup tree is mounted',
    });
  });
});

describe('the launcher', () => {
  let h: TestHome;
  beforeAll(async () => {
    h = await startService({ executor: new LocalExecutor({ killGraceMs: 500, logBytesPerAttempt: 10_000 }) });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  test('a log over logBytesPerAttempt is cut with a note; the task goes on and succeeds', async () => {
    const code = "import sys\nfor i in range(1000):\n    sys.stdout.write('y' * 1023 + '\\n')\nprint('done')";
    const job = await h.service.submit('alice', request([{ name: 'chatty', code }]));
    const task = taskOf(await waitForJob(h.service, job.id), 'chatty');
    expect(task.state).toBe('succeeded');
    const log = h.service.logPath(job.id, 'chatty');
    expect(statSync(log).size).toBeLessThan(10_000 + 300);
    expect(readFileSync(log, 'utf8')).toMatch(
      /\n\[cellpipe\] this attempt's log reached 10000 bytes \(limits\.logBytesPerAttempt\); later output is dropped, the task goes on\n$/,
    );
  });

  test('without its "go" (the server died before the task was in its cgroup) it starts nothing', () => {
    const marker = join(h.home, 'ran');
    const r = spawnSync('python3', ['-I', '-S', launcherPath(), '--', 'touch', marker], { input: '' });
    expect(r.status).toBe(111);
    expect(existsSync(marker)).toBe(false);
    expect(readdirSync(h.home)).not.toContain('ran');
  });
});
