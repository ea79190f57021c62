/**
 * Several users on the local executor, with real OS users made for this test (useradd; removed after):
 * each task runs as the OS account its owner is mapped to, reaches its own files and its job's inputs,
 * and nothing of the server (token, database) or of another user (code, logs, outputs). Without a
 * mapping the server refuses to start for more than one user. Needs root; skipped with the reason
 * printed otherwise.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSchema, type Job } from '@cellpipe/schema';
import { ConfigError, type ServerConfigInput } from '../src/config.js';
import { lookupOsUser, type OsUser } from '../src/executors/local/run-as.js';
import { startServer, type RunningServer } from '../src/main.js';
import { request, taskOf } from './jobs-fixtures.js';

jest.setTimeout(180_000);

const suffix = Math.random().toString(36).slice(2, 7);
const osNames = { alice: `cpa${suffix}`, bob: `cpb${suffix}` };
const TOKENS = { alice: 'alice-token-multi-1', bob: 'bob-token-multi-22' };
let scratch: string | undefined;
const os: Partial<Record<'alice' | 'bob', OsUser>> = {};
let skipReason: string | undefined;
/** An interpreter every user can run (the test runner's own may live in root's private folders). */
const PYTHON = '/usr/bin/python3';

if (process.getuid?.() !== 0) skipReason = 'creating OS users needs root';
else if (spawnSync('useradd', ['--help']).error) skipReason = 'useradd is not installed';
else {
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-multi-'));
  chmodSync(scratch, 0o755);
  for (const who of ['alice', 'bob'] as const) {
    const r = spawnSync('useradd', ['-m', '-d', join(scratch, `home-${who}`), '-s', '/bin/sh', osNames[who]], {
      encoding: 'utf8',
    });
    if (r.status !== 0) skipReason = `useradd failed: ${r.stderr.trim()}`;
    else os[who] = lookupOsUser(osNames[who]);
  }
  const probe = spawnSync(PYTHON, ['-c', 'pass'], { uid: os.alice?.uid ?? 0, gid: os.alice?.gid ?? 0 });
  if (!skipReason && probe.status !== 0) skipReason = `${PYTHON} cannot be run by another user here`;
}
if (skipReason) console.log(`skipping the multi-user tests: ${skipReason}`);
const withUsers = skipReason ? describe.skip : describe;

afterAll(() => {
  for (const name of Object.values(osNames)) spawnSync('userdel', [name]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function config(home: string, extra: Partial<ServerConfigInput> = {}): ServerConfigInput {
  return {
    home,
    port: 0,
    gpus: '',
    python: PYTHON,
    tokens: [
      { token: TOKENS.alice, user: 'alice' },
      { token: TOKENS.bob, user: 'bob' },
    ],
    ...extra,
  };
}

withUsers('several users on the local executor', () => {
  test('without local.runAs the server refuses to start, saying what to configure', async () => {
    const home = mkdtempSync(join(scratch!, 'refuse-'));
    const err = await startServer(config(home)).then(
      () => new Error('started'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(
      /^the local executor runs every task as this server's OS user \(root\), so with 3 users \(alice, bob, root\) any task could read the others' code, data and tokens\. Configure one of:\n {2}- local\.runAs:/,
    );
  });

  test('a mapping to a missing OS user, or job files inside the home, are refused at start', async () => {
    const home = mkdtempSync(join(scratch!, 'bad-'));
    const jobsDir = join(scratch!, `jobs-bad-${suffix}`);
    await expect(
      startServer(config(home, { jobsDir, local: { runAs: { alice: 'no-such-user-x', '*': '{user}' } } })),
    ).rejects.toThrow(/user 'alice' is mapped to OS user 'no-such-user-x', which does not exist on this machine/);
    await expect(
      startServer(
        config(home, {
          jobsDir: join(home, 'jobs'),
          local: { runAs: { alice: osNames.alice, bob: osNames.bob, '*': '{user}' } },
        }),
      ),
    ).rejects.toThrow(/local\.runAs needs jobsDir: a folder outside the home/);
  });

  describe('with each user mapped to an OS account', () => {
    let server: RunningServer;
    let home: string;
    let jobsDir: string;

    beforeAll(async () => {
      // Made beforehand and too open: the server must close them.
      home = join(scratch!, 'home');
      mkdirSync(home, { mode: 0o755 });
      chmodSync(home, 0o755);
      writeFileSync(join(home, 'cellpipe.db'), '');
      chmodSync(join(home, 'cellpipe.db'), 0o644);
      jobsDir = join(scratch!, 'jobs');
      server = await startServer(
        config(home, { jobsDir, local: { runAs: { alice: osNames.alice, bob: osNames.bob, '*': '{user}' } } }),
      );
    });
    afterAll(async () => {
      await server?.close();
    });

    const api = async (who: 'alice' | 'bob', method: string, path: string, body?: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { Authorization: `Bearer ${TOKENS[who]}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as unknown;
    };
    const finished = async (who: 'alice' | 'bob', id: string): Promise<Job> => {
      for (;;) {
        const job = JobSchema.parse(await api(who, 'GET', `/api/jobs/${id}`));
        if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return job;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const logOf = async (who: 'alice' | 'bob', id: string, task: string): Promise<string> => {
      const res = await fetch(`${server.url}/api/jobs/${id}/tasks/${task}/logs`, {
        headers: { Authorization: `Bearer ${TOKENS[who]}` },
      });
      return res.text();
    };

    test('the home and its database are readable by the server only, even when made beforehand', () => {
      expect(statSync(home).mode & 0o777).toBe(0o700);
      expect(statSync(join(home, 'cellpipe.db')).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, 'token')).mode & 0o777).toBe(0o600);
    });

    test("each task runs as its owner's OS user, gets its inputs, and cannot reach the server's or another user's data", async () => {
      // Bob's job first: its files are what Alice's task tries to reach.
      const bobJob = (await api(
        'bob',
        'POST',
        '/api/jobs',
        request([
          {
            name: 'secret',
            code: "import os\nsecret = 'bob-data'\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'model.bin'), 'w').write('bob')\nopen('notes.txt', 'w').write('bob')\nprint('uid', os.getuid())",
            outputs: ['secret'],
          },
        ]),
      )) as { id: string };
      const bobDone = await finished('bob', bobJob.id);
      expect(taskOf(bobDone, 'secret').state).toBe('succeeded');
      expect(await logOf('bob', bobJob.id, 'secret')).toContain(`uid ${os.bob!.uid}`);

      const bobDir = join(jobsDir, bobJob.id);
      const targets = {
        token: join(home, 'token'),
        database: join(home, 'cellpipe.db'),
        bobTaskJson: join(bobDir, 'tasks', 'secret', 'attempt-1', 'task.json'),
        bobLog: join(bobDir, 'tasks', 'secret', 'attempt-1.log'),
        bobOutput: join(bobDir, 'artifacts', 'secret', 'files', 'model.bin'),
        bobVars: join(bobDir, 'artifacts', 'secret', 'vars'),
        bobWorkFile: join(bobDir, 'work', 'notes.txt'),
        bobWork: join(bobDir, 'work'),
        jobsList: jobsDir,
      };
      const probe = `
import json, os
x = x + 1
out = {'uid': os.getuid(), 'gid': os.getgid(), 'home': os.environ['HOME'], 'x': x, 'read': {}, 'write': None, 'made': open('made.txt').read()}
for name, path in ${JSON.stringify(targets)}.items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'rb').read(1)
        out['read'][name] = 'allowed'
    except OSError as e:
        out['read'][name] = type(e).__name__
try:
    open(${JSON.stringify(join(bobDir, 'artifacts', 'secret', 'files', 'model.bin'))}, 'w').write('alice was here')
    out['write'] = 'allowed'
except OSError as e:
    out['write'] = type(e).__name__
print('PROBE=' + json.dumps(out))
`;
      const aliceJob = (await api(
        'alice',
        'POST',
        '/api/jobs',
        request([
          { name: 'make', code: "x = 41\nopen('made.txt', 'w').write('in the work folder')", outputs: ['x'] },
          { name: 'probe', code: probe, dependsOn: ['make'], inputs: ['x'] },
        ]),
      )) as { id: string };
      const aliceDone = await finished('alice', aliceJob.id);
      expect(aliceDone.tasks.map((t) => [t.name, t.state])).toEqual([
        ['make', 'succeeded'],
        ['probe', 'succeeded'],
      ]);
      const log = await logOf('alice', aliceJob.id, 'probe');
      const seen = JSON.parse(/^PROBE=(.*)$/m.exec(log)![1]!) as {
        uid: number;
        gid: number;
        home: string;
        x: number;
        read: Record<string, string>;
        write: string;
      };
      expect(seen).toMatchObject({ uid: os.alice!.uid, gid: os.alice!.gid, home: os.alice!.home, x: 42 });
      // The job's working folder: the tasks of the job share it, as its owner; nobody else reads it.
      expect(seen).toMatchObject({ made: 'in the work folder' });
      expect(statSync(join(jobsDir, aliceJob.id, 'work'))).toMatchObject({ uid: os.alice!.uid });
      expect(statSync(join(jobsDir, aliceJob.id, 'work')).mode & 0o777).toBe(0o700);
      expect(seen.read).toEqual(Object.fromEntries(Object.keys(targets).map((k) => [k, 'PermissionError'])));
      expect(seen.write).toBe('PermissionError');

      // What the server keeps stays the server's; what the task writes is its owner's.
      const aliceDir = join(jobsDir, aliceJob.id, 'tasks', 'probe');
      expect(statSync(join(aliceDir, 'attempt-1.log'))).toMatchObject({ uid: 0 });
      expect(statSync(join(aliceDir, 'attempt-1.log')).mode & 0o077).toBe(0);
      expect(statSync(join(aliceDir, 'attempt-1'))).toMatchObject({ uid: os.alice!.uid });
      expect(statSync(join(aliceDir, 'attempt-1')).mode & 0o777).toBe(0o700);
      expect(statSync(join(aliceDir, 'attempt-1', 'result.json'))).toMatchObject({ uid: os.alice!.uid });
    });

    test("a re-run's task writes to its own copy of a reused output, as its owner; the earlier job's stays as it was", async () => {
      const flag = join(scratch!, `fixed-${suffix}`);
      const job = (await api(
        'alice',
        'POST',
        '/api/jobs',
        request([
          {
            name: 'prep',
            code: "import os\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'data.txt'), 'w').write('original')",
          },
          {
            name: 'use',
            code:
              `import os\nif not os.path.exists(${JSON.stringify(flag)}):\n    raise RuntimeError('not yet')\n` +
              "open(os.path.join(os.environ['CELLPIPE_INPUT_DIR'], 'prep', 'files', 'data.txt'), 'a').write(' + re-run')",
            dependsOn: ['prep'],
          },
        ]),
      )) as { id: string };
      expect((await finished('alice', job.id)).state).toBe('failed');
      writeFileSync(flag, '');
      const rerun = JobSchema.parse(await api('alice', 'POST', `/api/jobs/${job.id}/rerun`, { mode: 'failed' }));
      expect((await finished('alice', rerun.id)).state).toBe('succeeded');
      const data = (id: string): string => join(jobsDir, id, 'artifacts', 'prep', 'files', 'data.txt');
      expect(readFileSync(data(rerun.id), 'utf8')).toBe('original + re-run');
      expect(statSync(data(rerun.id))).toMatchObject({ uid: os.alice!.uid });
      expect(readFileSync(data(job.id), 'utf8')).toBe('original');
    });
  });
});
