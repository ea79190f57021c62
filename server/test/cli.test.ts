/**
 * The `cellpipe` CLI end to end: `node server/dist/cli.js` (built by `npm run build` / `npx tsc -b server`)
 * with CELLPIPE_HOME in a temp dir, running the examples with real python3 tasks.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JobListSchema } from '@cellpipe/schema';

jest.setTimeout(180_000);

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const cliJs = join(repo, 'server', 'dist', 'cli.js');
const quickstart = join(repo, 'examples', 'quickstart.ipynb');

let home: string;
let scratch: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], extraEnv: Record<string, string> = {}): Result {
  const env: NodeJS.ProcessEnv = { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '', ...extraEnv };
  delete env.CELLPIPE_URL;
  delete env.CELLPIPE_TOKEN;
  const r = spawnSync(process.execPath, [cliJs, ...args], { env, encoding: 'utf8', timeout: 120_000, cwd: repo });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A notebook whose cells carry JupyterLab tags. */
function writeNotebook(name: string, cells: { tags?: string[]; source: string }[]): string {
  const path = join(scratch, name);
  writeFileSync(
    path,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: cells.map((c, i) => ({
        cell_type: 'code',
        id: `c${i}`,
        metadata: c.tags ? { tags: c.tags } : {},
        source: c.source,
        outputs: [],
        execution_count: null,
      })),
    }),
  );
  return path;
}

const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const code = (source: string) => ({ cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null });

/** A notebook without tags: by default three sections (#, ##, #) with code, markdown in between. */
function writeSections(
  name: string,
  cells = [
    md('# Load'),
    code('xs = [1, 2, 3]'),
    md('## Details'),
    code('total = sum(xs)'),
    md('# Report'),
    code('print("total", total)'),
  ],
): string {
  const path = join(scratch, name);
  writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells }));
  return path;
}

/** The id from the `job <id>` line a run prints first; throws when that line is missing. */
function jobIdOf(stdout: string): string {
  const id = /^job ([a-z0-9]+)$/.exec(stdout.split('\n')[0] ?? '')?.[1];
  if (!id) throw new Error(`no "job <id>" first line in:\n${stdout}`);
  return id;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const serverPid = (): number | undefined => {
  try {
    return (JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
};

/** Stop whatever server this home still runs, and wait until it is gone. */
async function stopServer(): Promise<void> {
  const pid = serverPid();
  if (pid === undefined || pid === process.pid || !pidAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await until(() => !pidAlive(pid), `server ${pid} to stop`);
}

beforeAll(() => {
  if (!existsSync(cliJs)) throw new Error(`${cliJs} is missing: build first (npx tsc -b server)`);
});
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cellpipe-cli-home-'));
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-cli-'));
});
afterEach(async () => {
  await stopServer();
  rmSync(home, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe('compile and validate', () => {
  test('the quickstart compiles to YAML and JSON and validates', () => {
    const yaml = cli(['compile', quickstart]);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/^apiVersion: cellpipe.io\/v1\nkind: Pipeline\n/);
    const json = cli(['compile', quickstart, '--output', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).spec.tasks.map((t: { name: string }) => t.name)).toEqual([
      'generate',
      'stats',
      'histogram',
      'report',
    ]);
    expect(cli(['validate', quickstart])).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    expect(cli(['validate', join(repo, 'examples', 'multi-file', 'pipeline.yaml')]).code).toBe(0);
  });

  test('every problem is printed with its cell position; exit 2', () => {
    const nb = writeNotebook('broken.ipynb', [
      { tags: ['task:prep'], source: 'x = 1' },
      { tags: ['task:train', 'after:nowhere'], source: 'y = x' },
      { tags: ['task:eval', 'gpu:two'], source: 'z = 2' },
    ]);
    const r = cli(['validate', nb]);
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^.*broken\.ipynb: cell 2\b.*nowhere/),
        expect.stringMatching(/^.*broken\.ipynb: cell 3\b/),
      ]),
    );
    const compiled = cli(['compile', nb]);
    expect(compiled.code).toBe(2);
    expect(compiled.stdout).toBe('');
    expect(compiled.stderr).toContain('cell 2');
    const missing = cli(['validate', join(scratch, 'nope.ipynb')]);
    expect(missing.code).toBe(2);
  });

  test('a value that cannot pass between tasks is an error naming the variable, the producing task and the cell', () => {
    const nb = writeNotebook('handle.ipynb', [
      { tags: ['task:open'], source: 'fh = open("data.csv")' },
      { tags: ['task:read'], source: 'rows = fh.readlines()' },
    ]);
    expect(cli(['validate', nb])).toEqual({
      code: 2,
      stdout: `${nb}: cell 1, line 1, column 1, task 'open': 'fh' is an open file (made by open()) (cell 1): it cannot pass from task 'open' to task 'read', which reads it (cell 2); values pass between tasks pickled, so make it in 'read'\n`,
      stderr: '',
    });
  });

  test('--split-at-headings [level]: one task per markdown section, no tags needed', () => {
    const nb = writeSections('sections.ipynb');
    const tasksOf = (args: string[]) => {
      const r = cli(['compile', nb, '--output', 'json', ...args]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).spec.tasks.map((t: { name: string; cells: number[] }) => [t.name, t.cells]);
    };
    expect(tasksOf(['--split-at-headings'])).toEqual([
      ['load', [1]],
      ['details', [3]],
      ['report', [5]],
    ]);
    expect(tasksOf(['--split-at-headings', '1'])).toEqual([
      ['load', [1, 3]],
      ['report', [5]],
    ]);
    // Without the flag the notebook has no tasks at all.
    const untagged = cli(['compile', nb]);
    expect(untagged.code).toBe(2);
    expect(untagged.stderr).toContain('the notebook has no tasks');
    expect(cli(['validate', nb, '--split-at-headings'])).toMatchObject({ code: 0, stdout: 'ok\n' });
    const bad = cli(['compile', nb, '--split-at-headings', '9']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--split-at-headings must be an integer from 1 to 6');
  });

  test('--split-at-headings joins the sections a value that cannot pass flows between, and says so', () => {
    const nb = writeSections('handles.ipynb', [
      md('# Open it'),
      code('fh = open("data.csv")'),
      md('# Read it'),
      code('rows = fh.readlines()'),
      md('# Count'),
      code('print(len(rows))'),
    ]);
    expect(cli(['validate', nb, '--split-at-headings'])).toEqual({
      code: 0,
      stdout: 'ok\n',
      stderr: `${nb}: cell 2, task 'open-it': note: sections 'Open it', 'Read it' run as one task ('open-it'), because 'fh' is an open file (made by open()) and cannot pass between tasks\n`,
    });
  });

  test('usage errors exit 2 and every command has help', () => {
    expect(cli(['run']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
    for (const cmd of [
      'compile',
      'validate',
      'serve',
      'run',
      'status',
      'logs',
      'cancel',
      'jobs',
      'rerun',
      'stop',
      'pipelines',
      'schedule',
    ]) {
      const help = cli([cmd, '--help']);
      expect([cmd, help.code]).toEqual([cmd, 0]);
      expect(help.stdout).toContain(`Usage: cellpipe ${cmd}`);
    }
  });
});

describe('run with an embedded server', () => {
  test('quickstart: job id first, progress, where to look; status, logs, jobs', () => {
    const r = cli(['run', quickstart, '--param', 'n_samples=500']);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const id = jobIdOf(r.stdout);
    expect(id).toBeDefined();
    // The stream opens with a snapshot (generate may already run), then every change.
    for (const task of ['stats', 'histogram', 'report']) expect(lines).toContain(`task ${task} pending`);
    expect(lines).toContain('task generate running on local');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^task report succeeded in \d/),
        expect.stringMatching(new RegExp(`^job ${id} succeeded in `)),
      ]),
    );
    expect(lines).toContain(`logs: cellpipe logs ${id} generate`);
    const nbLine = lines.find((l) => l.startsWith('  report: '));
    expect(nbLine && existsSync(nbLine.slice('  report: '.length))).toBe(true);
    // The embedded server is gone with the command.
    expect(existsSync(join(home, 'server.json'))).toBe(false);

    const status = cli(['status', id, '--json']);
    expect(status.code).toBe(0);
    const job = JSON.parse(status.stdout);
    expect(job).toMatchObject({ id, state: 'succeeded', parameters: expect.objectContaining({ n_samples: 500 }) });
    expect(job.tasks.map((t: { name: string; state: string }) => [t.name, t.state])).toEqual([
      ['generate', 'succeeded'],
      ['stats', 'succeeded'],
      ['histogram', 'succeeded'],
      ['report', 'succeeded'],
    ]);
    const text = cli(['status', id]);
    expect(text.stdout).toMatch(new RegExp(`^job ${id} quickstart succeeded\n`));

    const logs = cli(['logs', id, 'stats']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/mean=/);

    const jobs = cli(['jobs', '--json']);
    expect(JobListSchema.parse(JSON.parse(jobs.stdout)).items.map((j) => j.id)).toEqual([id]);
    expect(cli(['status', 'zzzzzzzz']).code).toBe(1);
  });

  test('run --split-at-headings runs each section as a task, values flowing between them', () => {
    const r = cli(['run', writeSections('sections.ipynb'), '--split-at-headings']);
    expect(r.code).toBe(0);
    const id = jobIdOf(r.stdout);
    const job = JSON.parse(cli(['status', id, '--json']).stdout);
    expect(job.tasks.map((t: { name: string; state: string }) => [t.name, t.state])).toEqual([
      ['load', 'succeeded'],
      ['details', 'succeeded'],
      ['report', 'succeeded'],
    ]);
    expect(cli(['logs', id, 'report']).stdout).toContain('total 6');
  });

  test('a failing notebook exits 1 and says which cell failed', () => {
    const nb = writeNotebook('fails.ipynb', [
      { tags: ['task:ok'], source: 'x = 1' },
      { tags: ['task:boom'], source: 'raise ValueError("no good")' },
    ]);
    const r = cli(['run', nb]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[0]).toMatch(/^job [a-z0-9]+$/);
    expect(r.stdout).toMatch(/^task boom failed .*error: ValueError: no good \(cell 2\)$/m);
    expect(r.stdout).toMatch(/^job [a-z0-9]+ failed in /m);
    const id = jobIdOf(r.stdout);

    // Re-running only what failed reuses the task that succeeded (and fails again the same way).
    const rerun = cli(['rerun', id, '--failed']);
    expect(rerun.code).toBe(1);
    const newId = jobIdOf(rerun.stdout);
    expect(newId).toBeDefined();
    expect(newId).not.toBe(id);
    expect(rerun.stdout).toMatch(/^task ok succeeded reused$/m);
    const job = JSON.parse(cli(['status', newId, '--json']).stdout);
    expect(job).toMatchObject({ parentJobId: id, state: 'failed' });
    const states = cli(['jobs', '--json', '--state', 'failed']);
    expect(JobListSchema.parse(JSON.parse(states.stdout)).items.map((j) => j.id)).toEqual([newId, id]);
  });

  test('control characters in a job name and in error text reach the terminal escaped', () => {
    // ESC sequences that would clear the screen and set the window title, a carriage return and a
    // newline that would fake a table row, a bidi override that would reorder the line.
    const nb = writeNotebook('evil.ipynb', [
      { tags: ['task:boom'], source: 'raise ValueError("\\x1b]0;owned\\x07bad\\r\\nboom  succeeded  1/1\\u202e")' },
    ]);
    const name = 'evil\x1b[2J\x1b[H\nFAKE  succeeded';
    const run = cli(['run', nb, '--name', name]);
    expect(run.code).toBe(1);
    const id = jobIdOf(run.stdout);
    const status = cli(['status', id]);
    const jobs = cli(['jobs']);
    for (const r of [run, status, jobs]) {
      expect(r.stdout + r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    }
    expect(status.stdout).toContain('evil\\x1b[2J\\x1b[H\\nFAKE  succeeded');
    expect(status.stdout).toMatch(/^boom +failed +1\/1 .*\\x1b\]0;owned\\x07bad\\r\\nboom  succeeded  1\/1\\u202e/m);
    // One header and one job: the name's newline did not add a row.
    expect(jobs.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(run.stdout).toMatch(/^ {2}task boom failed: ValueError: \\x1b\]0;owned/m);
  });

  test('a run that outlives the embedded server it used takes over the job', async () => {
    const count = join(scratch, 'runs.txt');
    const nb = (name: string, secs: number) =>
      writeNotebook(`${name}.ipynb`, [
        {
          tags: [`task:${name}`],
          source: `import time\nopen(${JSON.stringify(count)}, 'a').write('${name}\\n')\ntime.sleep(${secs})`,
        },
      ]);
    const run = (file: string): Promise<Result> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [cliJs, 'run', file], {
          env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    // The first run serves the home for its duration; the second finds it and submits there.
    const first = run(nb('short', 3));
    await until(() => existsSync(join(home, 'server.json')), 'the first embedded server');
    const second = run(nb('long', 6));
    const [a, b] = await Promise.all([first, second]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^job [a-z0-9]+ succeeded in /m);
    expect(readFileSync(count, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['long', 'short']);
  });

  test('invalid input exits 2', () => {
    expect(cli(['run', quickstart, '--param', 'nonsense']).code).toBe(2);
    const unknown = cli(['run', quickstart, '--param', 'nope=1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('nope');
  });
});

describe('pipelines and schedules', () => {
  test('save, versions, diff, export/import; a schedule with its next fires; bad input names the field', () => {
    const first = cli(['pipelines', 'save', quickstart, '-m', 'first']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^saved quickstart version 1 \([0-9a-f]{12}\)\n$/);
    expect(cli(['pipelines', 'save', quickstart]).stdout).toMatch(/version 1 has identical content/);
    const versions = JSON.parse(cli(['pipelines', 'versions', 'quickstart', '--json']).stdout) as {
      items: { version: number; message: string }[];
    };
    expect(versions.items.map((v) => [v.version, v.message])).toEqual([[1, 'first']]);
    const exported = join(scratch, 'quickstart.export.yaml');
    expect(cli(['pipelines', 'export', 'quickstart', '1', '-o', exported]).code).toBe(0);
    const imported = cli(['pipelines', 'import', exported, '--name', 'copy', '--json']);
    expect(JSON.parse(imported.stdout)).toMatchObject({ created: true, version: { name: 'copy', version: 1 } });
    expect(cli(['pipelines', 'diff', 'quickstart', '1', '1']).stdout).toBe('quickstart: version 1 → 1: identical\n');

    const created = cli([
      'schedule',
      'create',
      'nightly',
      '--pipeline',
      'quickstart',
      '--cron',
      '30 2 * * *',
      '--tz',
      'Europe/Berlin',
      '--param',
      'n_samples=500',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const s = JSON.parse(created.stdout) as { nextFires: string[]; parameters: unknown };
    expect(s.nextFires).toHaveLength(5);
    expect(s.parameters).toEqual({ n_samples: 500 });
    const shown = cli(['schedule', 'show', 'nightly']);
    expect(shown.stdout).toContain('cron "30 2 * * *" in Europe/Berlin');
    expect(shown.stdout).toMatch(/02:30:00 (CET|CEST)/);
    const list = JSON.parse(cli(['schedule', 'list', '--json']).stdout) as { items: { name: string }[] };
    expect(list.items.map((i) => i.name)).toEqual(['nightly']);
    expect(cli(['schedule', 'pause', 'nightly']).stdout).toBe('schedule nightly paused\n');

    for (const [args, message] of [
      [['--cron', '61 * * * *'], "  cron: cron '61 * * * *': Invalid value for minute: 61"],
      [['--cron', '0 2 * * *', '--tz', 'Mars/Olympus'], '  timezone: unknown IANA time zone'],
      [
        ['--every', '1h', '--pipeline-version', '9'],
        "  version: pipeline 'quickstart' has no version 9 (versions 1 to 1)",
      ],
      [
        ['--every', '1h', '--start', '2030-01-02T00:00:00Z', '--end', '2030-01-01T00:00:00Z'],
        '  endAt: endAt (2030-01-01T00:00:00Z) must be after startAt (2030-01-02T00:00:00Z)',
      ],
    ] as const) {
      const r = cli(['schedule', 'create', 'bad', '--pipeline', 'quickstart', ...args]);
      expect([args, r.code]).toEqual([args, 2]);
      expect(r.stderr.split('\n')).toContain(message);
    }
    const zero = cli(['schedule', 'create', 'bad', '--pipeline', 'quickstart', '--every', '1h', '--max-runs', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--max-runs must be an integer ≥ 1');
  });
});

describe('background server', () => {
  test('run --detach starts a daemon; status reaches it; a second server is refused', async () => {
    const r = cli(['run', quickstart, '--detach']);
    expect(r.code).toBe(0);
    const id = jobIdOf(r.stdout);
    expect(id).toBeDefined();
    const pid = serverPid();
    expect(pid && pidAlive(pid)).toBe(true);
    await until(() => JSON.parse(cli(['status', id, '--json']).stdout).state === 'succeeded', 'the detached job');

    const second = cli(['serve', '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`error: another cellpipe server (pid ${pid}) is using ${home}\n`);

    expect(cli(['stop'])).toEqual({ code: 0, stdout: `stopped cellpipe server (pid ${pid})\n`, stderr: '' });
    expect(pid && pidAlive(pid)).toBe(false);
    expect(existsSync(join(home, 'server.json'))).toBe(false);
    expect(cli(['stop']).stdout).toBe(`no cellpipe server is running for ${home}\n`);
  });

  test('cancel waits for the running tasks to stop and prints the job as cancelled', async () => {
    const started = join(scratch, 'started');
    const nb = writeNotebook('long.ipynb', [
      { tags: ['task:long'], source: `import time\nopen(${JSON.stringify(started)}, 'w').close()\ntime.sleep(120)` },
    ]);
    const r = cli(['run', nb, '--detach']);
    expect(r.code).toBe(0);
    const id = jobIdOf(r.stdout);
    await until(() => existsSync(started), 'the task to start');
    const cancelled = cli(['cancel', id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `job ${id} cancelled\n` });
    const job = JSON.parse(cli(['status', id, '--json']).stdout) as { state: string; tasks: { state: string }[] };
    expect([job.state, job.tasks[0]?.state]).toEqual(['cancelled', 'cancelled']);
  });

  test('cancel --task stops one task, skips its downstream and lets the rest finish', async () => {
    const started = join(scratch, 'started');
    const nb = writeNotebook('branches.ipynb', [
      { tags: ['task:long'], source: `import time\nopen(${JSON.stringify(started)}, 'w').close()\ntime.sleep(120)` },
      { tags: ['task:after', 'after:long'], source: 'pass' },
      { tags: ['task:other'], source: 'x = 1' },
    ]);
    const r = cli(['run', nb, '--detach']);
    expect(r.code).toBe(0);
    const id = jobIdOf(r.stdout);
    await until(() => existsSync(started), 'the task to start');
    expect(cli(['cancel', id, '--task', 'long'])).toMatchObject({
      code: 0,
      stdout: `task long of job ${id} cancelled\n`,
    });
    await until(() => JSON.parse(cli(['status', id, '--json']).stdout).state === 'failed', 'the job to end');
    const job = JSON.parse(cli(['status', id, '--json']).stdout) as { tasks: { name: string; state: string }[] };
    expect(Object.fromEntries(job.tasks.map((t) => [t.name, t.state]))).toEqual({
      long: 'cancelled',
      after: 'skipped',
      other: 'succeeded',
    });
    const again = cli(['cancel', id, '--task', 'long']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`task "long" of job ${id} already ended (cancelled)`);
  });

  test('run against a remote server names executed notebooks only for tasks that wrote one', async () => {
    const first = cli(['run', writeNotebook('warm.ipynb', [{ tags: ['task:warm'], source: 'x = 1' }]), '--detach']);
    expect(first.code).toBe(0);
    const info = JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { url: string };
    const token = readFileSync(join(home, 'token'), 'utf8').trim();
    // No GPU here: the gpu task is refused (attempt 1, never ran), the other one runs.
    const nb = writeNotebook('mixed.ipynb', [
      { tags: ['task:ran'], source: 'y = 2' },
      { tags: ['task:never', 'gpu:1'], source: 'z = 3' },
    ]);
    const r = cli(['run', nb, '--url', info.url, '--token', token]);
    expect(r.code).toBe(1);
    const id = jobIdOf(r.stdout);
    expect(r.stdout).toContain(`notebook ran: ${info.url}/api/jobs/${id}/tasks/ran/notebook\n`);
    expect(r.stdout).not.toContain('notebook never');
  });

  test('serve killed mid-job and restarted finishes the job, running nothing twice', async () => {
    const count = join(scratch, 'runs.txt');
    const nb = writeNotebook('slow.ipynb', [
      {
        tags: ['task:slow'],
        source: `import time\nopen(${JSON.stringify(count)}, 'a').write('start\\n')\ntime.sleep(3)\nopen(${JSON.stringify(count)}, 'a').write('done\\n')`,
      },
      { tags: ['task:after', 'after:slow'], source: `open(${JSON.stringify(count)}, 'a').write('after\\n')` },
    ]);
    const serve = (): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [cliJs, 'serve', '--port', '0'], {
          env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (/^cellpipe listening on http:\/\/127\.0\.0\.1:\d+\n/.test(out)) resolve(child);
        });
        child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });

    const first = await serve();
    const r = cli(['run', nb, '--detach']);
    expect(r.code).toBe(0);
    const id = jobIdOf(r.stdout);
    await until(() => existsSync(count) && readFileSync(count, 'utf8').includes('start'), 'the task to start');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = await serve();
    try {
      await until(
        () => JSON.parse(cli(['status', id, '--json']).stdout).state === 'succeeded',
        'the job to finish after the restart',
      );
      expect(readFileSync(count, 'utf8')).toBe('start\ndone\nafter\n');
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    expect(existsSync(join(home, 'server.json'))).toBe(false);
  });
});

describe('serve --executor kubernetes', () => {
  test('refuses without a data path; uses --kubeconfig/--context, naming the setting it cannot use', () => {
    const missing = join(scratch, 'no-such-kubeconfig');
    // A configuration that cannot work is bad input: exit 2.
    const noUrl = cli(['serve', '--port', '0', '--executor', 'kubernetes', '--kubeconfig', missing]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/kubernetes\.serverUrl: required with the server data store \(the default\)/);
    const config = join(scratch, 'k8s-config.yaml');
    writeFileSync(config, 'kubernetes:\n  serverUrl: http://cellpipe.cellpipe.svc:8765\n');
    const r = cli(['serve', '--port', '0', '--config', config, '--executor', 'kubernetes', '--kubeconfig', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`kubernetes.kubeconfig: ${missing} does not exist`);

    const kubeconfig = join(scratch, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: here, context: {cluster: c, user: u}}]\n' +
        'current-context: here\n',
    );
    const wrong = cli([
      'serve',
      '--port',
      '0',
      '--config',
      config,
      '--executor',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--context',
      'there',
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`kubernetes.context: ${kubeconfig} has no context "there" (it has: here)`);
  });

  test('run refuses to start a server of its own that the pods of the server data store could not reach', () => {
    const other = join(scratch, 'k8s-home');
    mkdirSync(other, { recursive: true });
    writeFileSync(
      join(other, 'config.yaml'),
      'executor: kubernetes\nkubernetes:\n  serverUrl: http://cellpipe.cellpipe.svc:8765\n',
    );
    const r = cli(['run', quickstart], { CELLPIPE_HOME: other });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /passes task data through a server its pods reach at http:\/\/cellpipe\.cellpipe\.svc:8765: start that server with `cellpipe serve`/,
    );
    expect(existsSync(join(other, 'jobs'))).toBe(false);
  });
});
