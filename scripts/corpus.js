// The notebook corpus: does a pipeline give the same results as running the notebook top to bottom?
//
// For every notebook of server/test/corpus/manifest.json:
//   1. run it top to bottom twice in a Jupyter kernel (nbclient, server/test/corpus/reference.py);
//      a cell whose outputs differ between those two runs is nondeterministic and not compared;
//   2. run it as a pipeline, split into tasks at its markdown headings with no other change
//      (`cellpipe run nb.ipynb --split-at-headings`: the embedded server, SQLite, the local executor,
//      the real runner), in the same Python environment;
//   3. compare every code cell's outputs (stdout, stderr, text/plain of results and displays, errors).
//
//   node scripts/corpus.js [--only ID,ID] [--jobs N] [--out report.json] [--manifest FILE] [--fresh]
//
// The two top-to-bottom runs of a notebook are kept in the cache, keyed by everything that decides
// them (the notebook's folder, the venv, reference.py); --fresh runs them again.
//
// The notebooks come from pinned PyPI sdists (package, version, sha256, path inside the archive),
// downloaded with pip into ${CELLPIPE_CACHE:-~/.cache/cellpipe}/corpus on first use, and from
// notebooks of this repository (server/test/corpus/notebooks/). The report (JSON) goes to stdout
// and to --out; progress to stderr.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const corpusDir = join(repo, 'server', 'test', 'corpus');
const cliJs = join(repo, 'server', 'dist', 'cli.js');
const schemaNode = join(repo, 'schema', 'dist', 'node.js');

const log = (line) => process.stderr.write(`corpus: ${line}\n`);

/** The project venv (numpy, pandas, nbclient, ipykernel): scripts/python-env.sh builds or reuses it. */
export function projectPython() {
  const r = spawnSync('bash', [join(repo, 'scripts', 'python-env.sh'), '--no-extension'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error('scripts/python-env.sh failed');
  const venv = r.stdout.trim().split('\n').pop();
  return join(venv, 'bin', 'python');
}

/** A manifest; `dir` is where its repository notebooks' paths start. */
export function loadManifest(path = join(corpusDir, 'manifest.json')) {
  return { ...JSON.parse(readFileSync(path, 'utf8')), dir: dirname(path) };
}

function cacheRoot() {
  return join(process.env.CELLPIPE_CACHE || join(homedir(), '.cache', 'cellpipe'), 'corpus');
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The sdist of a pinned package, downloaded once with pip and checked against its sha256. */
function sdist(python, source) {
  const dir = join(cacheRoot(), 'sdists');
  mkdirSync(dir, { recursive: true });
  const cached = join(dir, source.archive);
  if (existsSync(cached) && sha256(cached) === source.sha256) return cached;
  const tmp = mkdtempSync(join(dir, '.download-'));
  try {
    log(`downloading ${source.package}==${source.version} (sdist)`);
    // pip reads the sdist's metadata, which means running its build backend: the venv's own
    // backends first (no download; hatchling's projects need JupyterLab to build), else pip's
    // isolated build environment.
    const pipDownload = (...extra) =>
      spawnSync(
        python,
        [
          '-m',
          'pip',
          'download',
          '--quiet',
          '--disable-pip-version-check',
          '--no-deps',
          // The sdist of this package only: its build dependencies come as wheels.
          '--no-binary',
          source.package,
          ...extra,
          `${source.package}==${source.version}`,
          '-d',
          tmp,
        ],
        { encoding: 'utf8' },
      );
    let r = pipDownload('--no-build-isolation');
    if (r.status !== 0) r = pipDownload();
    const file = readdirSync(tmp).find((f) => f === source.archive);
    if (r.status !== 0 || !file)
      throw new Error(`pip download ${source.package}==${source.version} failed:\n${r.stderr}`);
    const got = sha256(join(tmp, file));
    if (got !== source.sha256) throw new Error(`${file}: sha256 ${got}, the manifest pins ${source.sha256}`);
    renameSync(join(tmp, file), join(dir, file));
    return join(dir, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Applies the manifest's declared edits (the only changes allowed) to one notebook file. */
function applyEdits(path, edits) {
  if (!edits?.length) return;
  const nb = JSON.parse(readFileSync(path, 'utf8'));
  for (const edit of edits) {
    const cell = nb.cells[edit.cell];
    const source = Array.isArray(cell?.source) ? cell.source.join('') : cell?.source;
    if (typeof source !== 'string' || !source.includes(edit.find))
      throw new Error(`${path}: edit of cell ${edit.cell} does not apply: ${JSON.stringify(edit.find)} not found`);
    cell.source = source.replace(edit.find, edit.replace);
  }
  writeFileSync(path, JSON.stringify(nb, null, 1));
}

/**
 * A folder holding the notebook (and the files it reads) as it would sit in its own repository;
 * returns { dir, notebook } with notebook relative to dir.
 */
export function materialize(python, manifest, entry) {
  const dir = join(cacheRoot(), 'notebooks', entry.id);
  const stamp = join(dir, '.entry.json');
  const want = JSON.stringify(entry);
  const notebook = basename(entry.path);
  // Extracted sdists are reused; this repository's notebooks are copied afresh (they change).
  if (entry.source !== 'repository' && existsSync(stamp) && readFileSync(stamp, 'utf8') === want)
    return { dir, notebook };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (entry.source === 'repository') {
    cpSync(join(manifest.dir, entry.path), join(dir, notebook));
    for (const f of entry.files ?? [])
      cpSync(join(manifest.dir, dirname(entry.path), f), join(dir, f), { recursive: true });
  } else {
    const source = manifest.sources[entry.source];
    if (!source) throw new Error(`${entry.id}: unknown source ${entry.source}`);
    const archive = sdist(python, source);
    const top = source.archive.replace(/\.tar\.gz$/, '');
    const folder = dirname(entry.path);
    const members = [entry.path, ...(entry.files ?? []).map((f) => join(folder, f))].map((p) => `${top}/${p}`);
    const strip = 1 + (folder === '.' ? 0 : folder.split('/').length);
    const r = spawnSync('tar', ['-xzf', archive, '-C', dir, `--strip-components=${strip}`, ...members], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${entry.id}: tar failed: ${r.stderr}`);
  }
  applyEdits(join(dir, notebook), entry.edits);
  writeFileSync(stamp, want);
  return { dir, notebook };
}

function run(cmd, args, options) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function scratchCopy(src, scratch, name) {
  const dst = join(scratch, name);
  cpSync(src, dst, { recursive: true, filter: (p) => basename(p) !== '.entry.json' });
  return dst;
}

/** One top-to-bottom run in a kernel, in a fresh copy of the notebook's folder. */
async function topToBottom(python, src, notebook, scratch, name) {
  const dir = scratchCopy(src, scratch, name);
  const r = await run(python, [join(corpusDir, 'reference.py'), join(dir, notebook), dir], { cwd: dir });
  try {
    return JSON.parse(r.stdout);
  } catch {
    return { status: 'crash', error: { cell: null, ename: 'reference.py', evalue: r.stderr.slice(-2000) }, cells: {} };
  }
}

/** The notebook as a pipeline through the CLI, in a fresh copy of its folder and a fresh home. */
async function asPipeline(python, src, notebook, scratch) {
  const dir = scratchCopy(src, scratch, 'pipeline');
  const home = join(scratch, 'home');
  const env = { ...process.env, CELLPIPE_HOME: home, CELLPIPE_PYTHON: python, CELLPIPE_GPUS: '' };
  delete env.CELLPIPE_URL;
  delete env.CELLPIPE_TOKEN;
  // The same split the CLI makes, for which task each cell belongs to.
  const { loadPipelineFile } = await import(schemaNode);
  const compiled = await loadPipelineFile(join(dir, notebook), { splitAtHeadings: {} });
  const taskOf = {};
  for (const t of compiled.pipeline?.spec.tasks ?? []) for (const c of t.cells ?? []) taskOf[c] = t.name;
  const started = Date.now();
  const r = await run(process.execPath, [cliJs, 'run', join(dir, notebook), '--split-at-headings'], { cwd: dir, env });
  const seconds = (Date.now() - started) / 1000;
  const jobId = /^job ([a-z0-9]+)$/m.exec(r.stdout)?.[1];
  if (!jobId)
    return { status: 'not-submitted', seconds, message: (r.stderr || r.stdout).trim().slice(-2000), cells: {}, taskOf };
  const tasksDir = join(home, 'jobs', jobId, 'tasks');
  const tasks = {};
  const cells = {};
  const warnings = [];
  for (const task of existsSync(tasksDir) ? readdirSync(tasksDir) : []) {
    const attempts = readdirSync(join(tasksDir, task))
      .map((f) => /^attempt-(\d+)$/.exec(f)?.[1])
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => b - a);
    if (!attempts.length) {
      tasks[task] = { status: 'not-run' };
      continue;
    }
    const at = join(tasksDir, task, `attempt-${attempts[0]}`);
    const result = readJson(join(at, 'result.json'));
    tasks[task] = {
      status: result?.status ?? 'no-result',
      ...(result?.error ? { error: { message: result.error.message, cell: result.error.cell } } : {}),
    };
    for (const w of result?.warnings ?? []) warnings.push({ ...w, task });
    const executed = readJson(join(at, 'executed.ipynb'));
    for (const cell of executed?.cells ?? []) {
      const meta = cell.metadata?.cellpipe;
      if (meta?.index === undefined) continue;
      // A setup cell runs in every task; a top-to-bottom run shows it once: keep the first.
      if (meta.role === 'task' || cells[meta.index] === undefined) cells[meta.index] = { task, outputs: cell.outputs };
    }
  }
  return { status: r.code === 0 ? 'succeeded' : 'failed', jobId, seconds, tasks, cells, warnings, taskOf };
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

const text = (v) => (Array.isArray(v) ? v.join('') : (v ?? ''));

/**
 * What is compared of a cell's outputs: the stdout and stderr text (each stream on its own: how the
 * two interleave depends on buffering), and in order the text/plain of every result and display
 * and the name and message of an error. Tracebacks, execution counts and rich formats are not.
 */
export function comparable(outputs) {
  const streams = { stdout: '', stderr: '' };
  const items = [];
  for (const o of outputs ?? []) {
    if (o.output_type === 'stream') streams[o.name] = (streams[o.name] ?? '') + text(o.text);
    else if (o.output_type === 'error') items.push(`error ${o.ename}: ${o.evalue}`);
    else if (o.output_type === 'execute_result' || o.output_type === 'display_data') {
      const plain = o.data?.['text/plain'];
      if (plain !== undefined)
        items.push(`${o.output_type === 'execute_result' ? 'result' : 'display'} ${text(plain)}`);
    }
  }
  return { stdout: streams.stdout, stderr: streams.stderr, items };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The first line where two texts differ, for a report a person can read. */
function firstDifference(expected, got) {
  for (const key of ['stdout', 'stderr']) {
    if (expected[key] === got[key]) continue;
    const e = expected[key].split('\n');
    const g = got[key].split('\n');
    let i = 0;
    while (i < e.length && e[i] === g[i]) i++;
    return { what: key, line: i + 1, expected: e[i] ?? '<end>', got: g[i] ?? '<end>' };
  }
  let i = 0;
  while (i < expected.items.length && expected.items[i] === got.items[i]) i++;
  return { what: 'outputs', item: i + 1, expected: expected.items[i] ?? '<none>', got: got.items[i] ?? '<none>' };
}

const clip = (s, n = 300) => (s.length > n ? `${s.slice(0, n)}…` : s);

export function compareRuns(first, second, pipeline) {
  const cells = { matched: 0, differed: 0, nondeterministic: 0, reported: 0 };
  const differences = [];
  // "input-mutated" warnings: from the cell where the runtime check saw an input change on (the
  // task's first cell when it could not tell the cell), a difference is reported, not silent; the
  // same from the first cell of a task a "file-order" or "random-state" warning names.
  const firstCellOf = (task) =>
    Math.min(
      ...Object.entries(pipeline.taskOf ?? {})
        .filter(([, t]) => t === task)
        .map(([c]) => Number(c)),
    );
  const reportedFrom = Math.min(
    ...(pipeline.warnings ?? [])
      .filter((w) => ['input-mutated', 'file-order', 'random-state'].includes(w.kind))
      .map((w) => (typeof w.cell === 'number' ? w.cell : firstCellOf(w.task))),
  );
  for (const index of Object.keys(first.cells ?? {})
    .map(Number)
    .sort((a, b) => a - b)) {
    const a = comparable(first.cells[index]);
    const b = comparable(second.cells?.[index]);
    if (!same(a, b)) {
      cells.nondeterministic++;
      continue;
    }
    const ran = pipeline.cells[index];
    const task = ran?.task ?? pipeline.taskOf?.[index];
    const own = task === undefined ? undefined : pipeline.tasks?.[task];
    const got = comparable(ran?.outputs);
    // An empty or comment-only cell has no step in the executed notebook: it "ran" when its task did.
    const ranOk = ran !== undefined || task === undefined || own?.status === 'succeeded';
    if (ranOk && same(a, got)) {
      cells.matched++;
      continue;
    }
    if (index >= reportedFrom) {
      cells.reported++;
      continue;
    }
    cells.differed++;
    if (ranOk) {
      differences.push({ cell: index, task, ...mapValues(firstDifference(a, got), clip) });
      continue;
    }
    const failed =
      own?.status === 'failed'
        ? [task, own]
        : Object.entries(pipeline.tasks ?? {}).find(([, t]) => t.status === 'failed');
    differences.push({
      cell: index,
      task,
      what: 'not run',
      ...(failed ? { because: `task ${failed[0]} failed: ${clip(failed[1].error?.message ?? '')}` } : {}),
    });
  }
  return { cells, differences };
}

function mapValues(o, fn) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? fn(v) : v]));
}

/** Every file of a folder, hashed with what else decides a top-to-bottom run's outputs. */
function referenceKey(python, dir) {
  const hash = createHash('sha256');
  hash.update(python);
  for (const f of [join(corpusDir, 'reference.py'), join(repo, 'scripts', 'requirements-dev.txt')])
    hash.update(readFileSync(f));
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      if (name === '.entry.json') continue;
      const path = join(d, name);
      hash.update(path.slice(dir.length));
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

/**
 * The two top-to-bottom runs, kept in the cache by what decides them (the notebook's folder, the
 * venv, reference.py): they are the yardstick, and measuring it again only adds noise and minutes.
 * `fresh` runs them anyway. The pipeline runs alongside the second run.
 */
async function withReference(python, dir, notebook, scratch, fresh, pipelineRun) {
  const cached = join(cacheRoot(), 'reference', `${referenceKey(python, dir)}.json`);
  const kept = fresh ? undefined : readJson(cached);
  if (kept) return { ...kept, pipeline: kept.first.status === 'ok' ? await pipelineRun() : undefined };
  const first = await topToBottom(python, dir, notebook, scratch, 'run1');
  if (first.status !== 'ok') return { first };
  const [second, pipeline] = await Promise.all([topToBottom(python, dir, notebook, scratch, 'run2'), pipelineRun()]);
  mkdirSync(dirname(cached), { recursive: true });
  writeFileSync(cached, JSON.stringify({ first, second }));
  return { first, second, pipeline };
}

async function checkNotebook(python, entry, { dir, notebook }, fresh) {
  const scratch = mkdtempSync(join(tmpdir(), `cellpipe-corpus-${entry.id}-`));
  try {
    const started = Date.now();
    const { first, second, pipeline } = await withReference(python, dir, notebook, scratch, fresh, () =>
      asPipeline(python, dir, notebook, scratch),
    );
    const row = { id: entry.id, topToBottom: first.status, topToBottomSeconds: first.seconds };
    if (first.status !== 'ok') {
      row.topToBottomError = first.error;
      return row;
    }
    row.pipeline = pipeline.status;
    row.pipelineSeconds = pipeline.seconds;
    row.tasks = new Set(Object.values(pipeline.taskOf ?? {})).size;
    if (pipeline.message) row.pipelineMessage = pipeline.message;
    const failed = Object.entries(pipeline.tasks ?? {}).filter(([, t]) => t.status !== 'succeeded');
    if (failed.length) row.failedTasks = Object.fromEntries(failed.map(([n, t]) => [n, t]));
    if (pipeline.warnings?.length) row.warnings = pipeline.warnings;
    const { cells, differences } = compareRuns(first, second, pipeline);
    row.cells = cells;
    if (differences.length) {
      row.firstDifference = differences[0];
      row.differences = differences.slice(0, 10);
    }
    row.seconds = (Date.now() - started) / 1000;
    return row;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs the corpus (or the ids in `only`) with `jobs` notebooks at a time; returns the report. */
export async function runCorpus({ only, jobs, manifest: manifestPath, fresh } = {}) {
  if (!existsSync(cliJs)) throw new Error('server/dist/cli.js is missing: run npm run build first');
  const python = projectPython();
  const manifest = loadManifest(manifestPath);
  const entries = manifest.notebooks.filter((e) => !only?.length || only.includes(e.id));
  const started = Date.now();
  const rows = new Array(entries.length);
  // Downloads and extraction first, one at a time: pip runs synchronously.
  const folders = entries.map((entry, i) => {
    try {
      return materialize(python, manifest, entry);
    } catch (e) {
      rows[i] = { id: entry.id, topToBottom: 'harness-error', message: String(e?.message ?? e) };
      return undefined;
    }
  });
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      const entry = entries[i];
      if (!folders[i]) continue;
      try {
        rows[i] = await checkNotebook(python, entry, folders[i], fresh);
      } catch (e) {
        rows[i] = { id: entry.id, topToBottom: 'harness-error', message: String(e?.message ?? e) };
      }
      const r = rows[i];
      log(
        `${entry.id}: top-to-bottom ${r.topToBottom}` +
          (r.pipeline ? `, pipeline ${r.pipeline} (${r.tasks} tasks), cells ${JSON.stringify(r.cells)}` : ''),
      );
    }
  };
  const n = Math.max(1, jobs ?? Number(process.env.CELLPIPE_CORPUS_JOBS || Math.min(2, availableParallelism())));
  await Promise.all(Array.from({ length: n }, worker));
  return summarize(rows, (Date.now() - started) / 1000, python, n);
}

function summarize(rows, seconds, python, jobs) {
  const versions = spawnSync(
    python,
    [
      '-c',
      'import json,sys,numpy,pandas;print(json.dumps([sys.version.split()[0],numpy.__version__,pandas.__version__]))',
    ],
    { encoding: 'utf8' },
  );
  const [py, numpy, pandas] = JSON.parse(versions.stdout || '[null,null,null]');
  const runnable = rows.filter((r) => r.topToBottom === 'ok');
  const cells = { matched: 0, differed: 0, nondeterministic: 0, reported: 0 };
  for (const r of runnable) for (const k of Object.keys(cells)) cells[k] += r.cells?.[k] ?? 0;
  const compared = cells.matched + cells.differed;
  const ranAsPipeline = runnable.filter((r) => r.pipeline === 'succeeded').length;
  const identical = runnable.filter((r) => r.pipeline === 'succeeded' && r.cells?.differed === 0).length;
  return {
    date: new Date().toISOString(),
    python: py,
    numpy,
    pandas,
    jobs,
    seconds: Math.round(seconds * 10) / 10,
    notebooks: rows.length,
    runTopToBottom: runnable.length,
    ranAsPipeline,
    pipelineRate: runnable.length ? ranAsPipeline / runnable.length : null,
    sameResults: identical,
    cells,
    cellMatchRate: compared ? cells.matched / compared : null,
    results: rows,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const report = await runCorpus({
    only: flag('--only')?.split(','),
    manifest: flag('--manifest'),
    fresh: args.includes('--fresh'),
    jobs: flag('--jobs') ? Number(flag('--jobs')) : undefined,
  });
  const json = JSON.stringify(report, null, 2);
  if (flag('--out')) writeFileSync(flag('--out'), json + '\n');
  console.log(json);
}
