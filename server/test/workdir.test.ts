/**
 * The job's working folder through the real parts: notebooks compiled by the server, the local
 * executor running the runner on python3, and `cellpipe run` with its embedded server. As in Jupyter,
 * a task works in the notebook's folder: relative paths read the files beside the notebook, and a
 * file one task writes there is read by the tasks after it.
 *
 * @slow (real processes; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../src/jobs/errors.js';
import { startService, taggedNotebook, taskOf, waitForJob, type TestHome } from './jobs-fixtures.js';

jest.setTimeout(180_000);

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cliJs = join(repo, 'server', 'dist', 'cli.js');

// Cell 1 reads data.csv beside the notebook and writes a CSV; cell 3 reads that CSV. `out` (a name
// cell 3 reads) makes the reading task depend on the writing one; cell 2 depends on neither.
const csvNotebook = taggedNotebook([
  {
    tags: ['task:double'],
    source: [
      'import os',
      "rows = [line.split(',') for line in open('data.csv').read().split()]",
      "out = 'doubled.csv'",
      "with open(out, 'w') as fh:",
      '    for name, value in rows:',
      "        fh.write(f'{name},{2 * int(value)}\\n')",
      "open('cwd-double.txt', 'w').write(os.getcwd())",
    ].join('\n'),
  },
  { tags: ['task:other'], source: "import os\nopen('cwd-other.txt', 'w').write(os.getcwd())" },
  {
    tags: ['task:total'],
    source: [
      "total = sum(int(line.split(',')[1]) for line in open(out))",
      "open('total.txt', 'w').write(str(total))",
    ].join('\n'),
  },
]);

let h: TestHome;
let folder: string;
beforeAll(async () => {
  h = await startService();
});
afterAll(async () => {
  await h.cleanup();
});
beforeEach(() => {
  folder = realpathSync(mkdtempSync(join(tmpdir(), 'cellpipe-notebook-')));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

test("every task works in the notebook's folder: it reads the files beside the notebook and those earlier tasks wrote", async () => {
  writeFileSync(join(folder, 'data.csv'), 'a,1\nb,20\nc,300\n');
  const job = await h.service.submit('alice', {
    notebook: { path: 'analysis.ipynb', content: csvNotebook },
    workDir: folder,
  });
  expect(job.tasks.find((t) => t.name === 'total')?.dependsOn).toEqual(['double']);
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  expect(readFileSync(join(folder, 'doubled.csv'), 'utf8')).toBe('a,2\nb,40\nc,600\n');
  expect(readFileSync(join(folder, 'total.txt'), 'utf8')).toBe('642');
  expect(readFileSync(join(folder, 'cwd-double.txt'), 'utf8')).toBe(folder);
  expect(readFileSync(join(folder, 'cwd-other.txt'), 'utf8')).toBe(folder);
  // Nothing of it lands in the job's own folder.
  expect(existsSync(join(h.home, 'jobs', job.id, 'work'))).toBe(false);
});

test('a job that names no folder: its tasks share one of the job; a literal path orders the tasks that use it', async () => {
  const job = await h.service.submit('alice', {
    notebook: {
      path: 'files.ipynb',
      content: taggedNotebook([
        // Slow, so a reader that did not wait for it would find no file.
        { tags: ['task:write'], source: "import time\ntime.sleep(1)\nopen('numbers.txt', 'w').write('1 2 3 4')" },
        { tags: ['task:read'], source: "n = sum(map(int, open('numbers.txt').read().split()))\nprint(n)" },
        { tags: ['task:where'], source: "import os\nopen('where.txt', 'w').write(os.getcwd())" },
      ]),
    },
  });
  // No variable and no after: tag: the file alone makes the edge.
  expect(job.tasks.map((t) => [t.name, t.dependsOn])).toEqual([
    ['write', []],
    ['read', ['write']],
    ['where', []],
  ]);
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  const work = join(h.home, 'jobs', job.id, 'work');
  expect(readFileSync(join(work, 'numbers.txt'), 'utf8')).toBe('1 2 3 4');
  expect(readFileSync(join(work, 'where.txt'), 'utf8')).toBe(realpathSync(work));
  const log = readFileSync(
    join(h.home, 'jobs', job.id, 'tasks', 'read', `attempt-${taskOf(done, 'read').attempt}.log`),
    'utf8',
  );
  expect(log).toMatch(/^10$/m);
});

test('a folder that is not there is refused, naming the field', async () => {
  const missing = join(folder, 'nope');
  const refused = h.service.submit('alice', { notebook: { path: 'x.ipynb', content: csvNotebook }, workDir: missing });
  await expect(refused).rejects.toBeInstanceOf(ValidationError);
  await expect(refused).rejects.toMatchObject({
    path: 'workDir',
    message: `no folder ${missing} on the server's machine`,
  });
});

test("JupyterLab's folder (workDirUnseen: own) is used where the server sees the notebook in it, else the job gets its own", async () => {
  writeFileSync(join(folder, 'data.csv'), 'a,1\nb,2\n');
  writeFileSync(join(folder, 'analysis.ipynb'), JSON.stringify(csvNotebook));
  const seen = await h.service.submit('alice', {
    notebook: { path: 'projects/analysis.ipynb', content: csvNotebook },
    workDir: folder,
    workDirUnseen: 'own',
  });
  expect((await waitForJob(h.service, seen.id)).state).toBe('succeeded');
  expect(readFileSync(join(folder, 'total.txt'), 'utf8')).toBe('6');
  expect(existsSync(join(h.home, 'jobs', seen.id, 'work'))).toBe(false);

  // A folder of that name that does not hold the notebook (another machine's path), and one that is
  // not there at all: no error, the tasks work in the job's own folder (where data.csv is not).
  const elsewhere = realpathSync(mkdtempSync(join(tmpdir(), 'cellpipe-elsewhere-')));
  try {
    for (const workDir of [elsewhere, join(folder, 'nope')]) {
      const job = await h.service.submit('alice', {
        notebook: { path: 'analysis.ipynb', content: csvNotebook },
        workDir,
        workDirUnseen: 'own',
      });
      const done = await waitForJob(h.service, job.id);
      expect(taskOf(done, 'double').error?.message).toMatch(/FileNotFoundError.*data\.csv/);
      expect(readFileSync(join(h.home, 'jobs', job.id, 'work', 'cwd-other.txt'), 'utf8')).toBe(
        realpathSync(join(h.home, 'jobs', job.id, 'work')),
      );
    }
    expect(existsSync(join(elsewhere, 'cwd-other.txt'))).toBe(false);
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test("`cellpipe run` from another folder runs the tasks in the notebook's folder", () => {
  writeFileSync(join(folder, 'data.csv'), 'x,5\ny,7\n');
  writeFileSync(join(folder, 'analysis.ipynb'), JSON.stringify(csvNotebook));
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-home-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '' };
    delete env.CELLPIPE_URL;
    delete env.CELLPIPE_TOKEN;
    const r = spawnSync(process.execPath, [cliJs, 'run', join(folder, 'analysis.ipynb')], {
      env,
      encoding: 'utf8',
      timeout: 150_000,
      cwd: repo,
    });
    expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(readFileSync(join(folder, 'total.txt'), 'utf8')).toBe('24');
    expect(readFileSync(join(folder, 'cwd-other.txt'), 'utf8')).toBe(folder);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

describe('files the compiler cannot see are reported, never silent', () => {
  // The paths are built at run time: the compiler sees no file, so only a variable orders the tasks.
  const write = "name = 'sco' + 'res'\nwith open(name + '.csv', 'w') as fh:\n    fh.write('ann,91')";
  const read =
    "import time\ntime.sleep(1)\nsource = 'sco' + 'res'\nwith open(source + '.csv') as fh:\n    print(fh.read())";

  test('two tasks that do not depend on each other, one writing a file the other reads: a file-order warning', async () => {
    const job = await h.service.submit('alice', {
      notebook: {
        path: 'hidden.ipynb',
        content: taggedNotebook([
          { tags: ['task:produce'], source: write },
          { tags: ['task:consume'], source: read },
        ]),
      },
      workDir: folder,
    });
    expect(job.tasks.map((t) => t.dependsOn)).toEqual([[], []]);
    const done = await waitForJob(h.service, job.id);
    // Whichever ended second reports it, whether or not the reader found the file in time.
    expect(done.warnings).toEqual([
      expect.objectContaining({
        kind: 'file-order',
        message: expect.stringContaining(
          "tasks 'produce' and 'consume' both use 'scores.csv' in the working folder ('produce' writes, 'consume' reads)",
        ),
      }),
    ]);
  });

  test('the same tasks in order (the reader depends on the writer through a variable): no warning', async () => {
    const job = await h.service.submit('alice', {
      notebook: {
        path: 'ordered.ipynb',
        content: taggedNotebook([
          { tags: ['task:produce'], source: write },
          { tags: ['task:consume'], source: `${read}\nprint(name)` },
        ]),
      },
      workDir: folder,
    });
    expect(job.tasks.map((t) => t.dependsOn)).toEqual([[], ['produce']]);
    const done = await waitForJob(h.service, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.warnings).toEqual([]);
  });
});

test('a task that continues the global random sequence an earlier task drew from: a random-state warning on the job', async () => {
  const job = await h.service.submit('alice', {
    notebook: {
      path: 'random.ipynb',
      content: taggedNotebook([
        { tags: ['setup'], source: 'import random\nrandom.seed(1)' },
        { tags: ['task:first'], source: 'a = random.random()' },
        { tags: ['task:second'], source: 'b = random.random()' },
        { tags: ['task:own'], source: 'random.seed(5)\nc = random.random()' },
        { tags: ['task:none'], source: 'd = 1' },
      ]),
    },
    workDir: folder,
  });
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  const found = (done.warnings ?? []).filter((w) => w.kind === 'random-state');
  expect(found.length).toBeGreaterThanOrEqual(1);
  // Whichever of the two ends second says it (both may, if they end together); only 'second' differs.
  for (const w of found) {
    expect(w).toMatchObject({ variable: 'random' });
    expect(w.message).toContain(
      "task 'second' draws from the global random state of random without seeding it first, and task 'first' before it",
    );
  }
  expect((done.warnings ?? []).filter((w) => w.kind !== 'random-state')).toEqual([]);
});

test("a re-run of the failed tasks finds in the job's own folder what the tasks it reuses wrote there", async () => {
  const flag = join(folder, 'fixed');
  const job = await h.service.submit('alice', {
    notebook: {
      path: 'rerun.ipynb',
      content: taggedNotebook([
        {
          tags: ['task:write'],
          source: "import os\nos.makedirs('out', exist_ok=True)\nopen('out/n.txt', 'w').write('7')",
        },
        {
          tags: ['task:read'],
          source: `import os\nassert os.path.exists(${JSON.stringify(flag)}), 'not yet'\nn = int(open('out/n.txt').read())\nprint(n * 6)`,
        },
      ]),
    },
  });
  expect(job.tasks.map((t) => t.dependsOn)).toEqual([[], ['write']]);
  const failed = await waitForJob(h.service, job.id);
  expect(failed.tasks.map((t) => t.state)).toEqual(['succeeded', 'failed']);
  writeFileSync(flag, '');
  const rerun = await h.service.rerun(job.id, 'failed');
  const done = await waitForJob(h.service, rerun.id);
  expect(done.tasks.map((t) => [t.name, t.state, Boolean(t.reused)])).toEqual([
    ['write', 'succeeded', true],
    ['read', 'succeeded', false],
  ]);
  const log = readFileSync(join(h.home, 'jobs', rerun.id, 'tasks', 'read', 'attempt-1.log'), 'utf8');
  expect(log).toMatch(/^42$/m);
});

test('what setup cells do with files orders nothing: they run in every task', async () => {
  const job = await h.service.submit('alice', {
    notebook: {
      path: 'setup-log.ipynb',
      content: taggedNotebook([
        { tags: ['setup'], source: "log = 'ru' + 'n.log'\nopen(log, 'a').write('started\\n')" },
        { tags: ['task:a'], source: 'x = 1' },
        { tags: ['task:b'], source: 'y = 2' },
      ]),
    },
    workDir: folder,
  });
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  expect(readFileSync(join(folder, 'run.log'), 'utf8')).toBe('started\nstarted\n');
  expect(done.warnings).toEqual([]);
});

test('a task that imports and seeds the generator itself, and a later one that draws from it: a random-state warning', async () => {
  const job = await h.service.submit('alice', {
    notebook: {
      path: 'random-import.ipynb',
      content: taggedNotebook([
        { tags: ['task:seeded'], source: 'import random\nrandom.seed(1234)\nfirst = random.random()' },
        { tags: ['task:shuffle'], source: 'deck = list(range(10))\nrandom.shuffle(deck)\nprint(deck)' },
      ]),
    },
    workDir: folder,
  });
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  expect(done.warnings?.length).toBeGreaterThanOrEqual(1);
  for (const w of done.warnings ?? []) {
    expect(w.message).toContain("task 'shuffle' draws from the global random state of random without seeding it first");
  }
});
