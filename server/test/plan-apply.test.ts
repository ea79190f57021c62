/**
 * `cellpipe plan` and `cellpipe apply` as CI runs them: the real CLI (server/dist) on a directory of
 * YAML files (a pipeline spec with its script, a pipeline pointing at a notebook next to it, two
 * schedules) against a real server app over HTTP. Additions, changes and removals; a second apply
 * changes nothing; --prune deletes only what the directory's own label (or --selector) marks.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { MANAGED_BY_LABEL, SavePipelineResultSchema } from '@cellpipe/schema';
import { normalizeRemote, sourceOf } from '../src/cli/declarative/source.js';
import { auth, listen, startApp, TOKENS, type TestApp } from './http-helpers.js';
import { request as pipelineRequest } from './jobs-fixtures.js';
import { runCli } from './serve-fixtures.js';

jest.setTimeout(240_000);

const SOURCE = 'example.org/team/ml#pipelines';

let h: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let dir: string;
beforeAll(async () => {
  h = await startApp();
  server = await listen(h.app);
});
afterAll(async () => {
  await server.close();
  await h.cleanup();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-declared-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], who: keyof typeof TOKENS = 'alice') =>
  runCli([...args, '--url', server.url, '--token', TOKENS[who]]);

const write = (rel: string, text: string): void => {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
};

/** A notebook whose cells carry `task:` tags. */
function taggedNotebook(cells: [task: string, code: string][]): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map(([task, source], i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: { tags: [`task:${task}`] },
      source,
      outputs: [],
      execution_count: null,
    })),
  });
}

const HEAD = 'apiVersion: cellpipe.io/v1\n';

function version1(): void {
  write(
    'train/train.ipynb',
    taggedNotebook([
      ['load', 'rows = 10'],
      ['fit', 'model = rows * 2'],
    ]),
  );
  write(
    'train/pipeline.yaml',
    `${HEAD}kind: Pipeline\nmetadata:\n  name: train\n  labels: {team: vision}\nnotebook: train.ipynb\n`,
  );
  write('etl/etl.py', 'print("etl")\n');
  write(
    'etl/pipeline.yaml',
    `${HEAD}kind: Pipeline\nmetadata: {name: etl}\nspec:\n  tasks:\n    - name: extract\n      source: {kind: script, path: etl.py}\n`,
  );
  write(
    'schedules/nightly.yaml',
    `${HEAD}kind: Schedule\nmetadata: {name: nightly}\nspec:\n  pipeline: train\n  cron: "30 2 * * *"\n  timezone: Europe/Berlin\n`,
  );
  write(
    'schedules/hourly.yml',
    `${HEAD}kind: Schedule\nmetadata: {name: hourly}\nspec:\n  pipeline: etl\n  every: 1h\n  paused: true\n`,
  );
}

const ownedBy = (labels: Record<string, string> | undefined) => labels?.[MANAGED_BY_LABEL];

test('additions, then changes and removals; a second apply changes nothing; --prune spares what others made', async () => {
  version1();
  const plan = await cli(['plan', dir, '--source', SOURCE]);
  expect(plan.stderr).toBe('');
  expect(plan.code).toBe(2);
  expect(plan.stdout).toBe(
    [
      `objects of this directory carry ${MANAGED_BY_LABEL}=${SOURCE}`,
      '+ create pipeline etl',
      '    1 task: extract',
      `    + label ${MANAGED_BY_LABEL}=${SOURCE}`,
      '+ create pipeline train',
      '    2 tasks: load, fit',
      `    + label ${MANAGED_BY_LABEL}=${SOURCE}`,
      '    + label team=vision',
      '+ create schedule hourly',
      '    runs etl (latest), every 1h, paused',
      `    + label ${MANAGED_BY_LABEL}=${SOURCE}`,
      '+ create schedule nightly',
      '    runs train (latest), cron "30 2 * * *" in Europe/Berlin',
      `    + label ${MANAGED_BY_LABEL}=${SOURCE}`,
      'Plan: 4 to create, 0 to change, 0 to delete.',
      '',
    ].join('\n'),
  );
  // Nothing changed yet; without a terminal, apply wants --yes.
  expect(h.scheduling.pipelines.list('alice')).toEqual([]);
  const unconfirmed = await cli(['apply', dir, '--source', SOURCE]);
  expect(unconfirmed.code).toBe(1);
  expect(unconfirmed.stderr).toBe(
    'error: apply changes the server: confirm it in a terminal, or pass --yes (as in CI)\n',
  );

  const applied = await cli(['apply', dir, '--source', SOURCE, '--yes']);
  expect(applied.code).toBe(0);
  expect(applied.stdout).toMatch(
    /saved pipeline etl version 1\nsaved pipeline train version 1\ncreated schedule hourly \(\w+\)\ncreated schedule nightly \(\w+\)\nApplied: 4 changes\.\n$/,
  );
  const pipelines = h.scheduling.pipelines.list('alice');
  expect(pipelines.map((p) => [p.name, p.versions, p.labels])).toEqual([
    ['etl', 1, { [MANAGED_BY_LABEL]: SOURCE }],
    ['train', 1, { team: 'vision', [MANAGED_BY_LABEL]: SOURCE }],
  ]);
  const schedules = h.scheduling.schedules.list('alice');
  expect(schedules.map((s) => [s.name, s.state, s.cron ?? s.every, ownedBy(s.labels)])).toEqual([
    ['hourly', 'paused', '1h', SOURCE],
    ['nightly', 'active', '30 2 * * *', SOURCE],
  ]);

  // Twice: nothing to do, nothing saved.
  const again = await cli(['plan', dir, '--source', SOURCE]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain('No changes: the server matches the directory (4 objects).\n');
  expect((await cli(['apply', dir, '--source', SOURCE, '--yes'])).code).toBe(0);
  expect(h.scheduling.pipelines.list('alice').map((p) => p.versions)).toEqual([1, 1]);

  // Made by hand, and by another user: never pruned.
  const manual = pipelineRequest([{ name: 'a', code: 'pass' }]);
  await h.scheduling.pipelines.save('alice', {
    pipeline: { ...manual.pipeline!, metadata: { name: 'manual' } },
    files: manual.files!,
  });
  await h.scheduling.schedules.create('alice', {
    name: 'by-hand',
    pipeline: 'manual',
    version: 'latest',
    every: '2h',
    timezone: 'UTC',
    parameters: {},
    concurrency: 'forbid',
    catchup: 'skip',
    maxCatchup: 5,
    keepSucceeded: 20,
    keepFailed: 20,
    paused: true,
  });
  expect((await cli(['apply', dir, '--source', SOURCE, '--yes'], 'bob')).code).toBe(0);

  // Version 2: a task's code and the notebook pipeline's timeout change, the cron changes, etl and
  // hourly go, report comes.
  write(
    'train/train.ipynb',
    taggedNotebook([
      ['load', 'rows = 20'],
      ['fit', 'model = rows * 2'],
    ]),
  );
  write(
    'train/pipeline.yaml',
    `${HEAD}kind: Pipeline\nmetadata:\n  name: train\n  labels: {team: vision}\nnotebook: train.ipynb\nspec: {timeout: 2h}\n`,
  );
  write(
    'schedules/nightly.yaml',
    `${HEAD}kind: Schedule\nmetadata: {name: nightly}\nspec:\n  pipeline: train\n  cron: "0 3 * * *"\n  timezone: Europe/Berlin\n`,
  );
  rmSync(join(dir, 'etl'), { recursive: true });
  rmSync(join(dir, 'schedules/hourly.yml'));
  write('report.yaml', `${HEAD}kind: Pipeline\nmetadata: {name: report}\nnotebook: report.ipynb\n`);
  write('report.ipynb', taggedNotebook([['render', 'print("report")']]));

  const changes = await cli(['plan', dir, '--source', SOURCE]);
  expect(changes.code).toBe(2);
  expect(changes.stdout).toContain(
    [
      '~ update pipeline train',
      '    version 1 → 2',
      '    ~ task load',
      '        code changed',
      '    ~ timeout: (none) → "2h"',
    ].join('\n'),
  );
  expect(changes.stdout).toContain('~ update schedule nightly\n    cron: "30 2 * * *" → "0 3 * * *"\n');
  expect(changes.stdout).toContain('+ create pipeline report\n');
  expect(changes.stdout).toContain('  schedule hourly is no longer declared here: kept (--prune deletes it)\n');
  expect(changes.stdout).toContain('  pipeline etl is no longer declared here: kept (--prune deletes it)\n');
  expect(changes.stdout).not.toMatch(/manual|by-hand/);
  expect(changes.stdout).toContain('Plan: 1 to create, 2 to change, 0 to delete.\n');

  const pruning = await cli(['plan', dir, '--source', SOURCE, '--prune']);
  expect(pruning.code).toBe(2);
  expect(pruning.stdout).toContain(
    '- delete schedule hourly\n    no longer declared (runs etl)\n- delete pipeline etl\n',
  );
  expect(pruning.stdout).toContain('Plan: 1 to create, 2 to change, 2 to delete.\n');

  const pruned = await cli(['apply', dir, '--source', SOURCE, '--prune', '--yes']);
  expect(pruned.stderr).toBe('');
  expect(pruned.code).toBe(0);
  expect(h.scheduling.pipelines.list('alice').map((p) => [p.name, p.versions])).toEqual([
    ['manual', 1],
    ['report', 1],
    ['train', 2],
  ]);
  expect(h.scheduling.pipelines.version('alice', 'train', 'latest').bundle.pipeline.spec.timeout).toBe('2h');
  expect(h.scheduling.schedules.list('alice').map((s) => [s.name, s.cron ?? s.every])).toEqual([
    ['by-hand', '2h'],
    ['nightly', '0 3 * * *'],
  ]);
  // Bob's own copies are his: Alice's prune left them alone.
  expect(h.scheduling.pipelines.list('bob').map((p) => p.name)).toEqual(['etl', 'train']);
  const twice = await cli(['apply', dir, '--source', SOURCE, '--prune', '--yes']);
  expect(twice.stdout).toContain('No changes');
  expect(twice.code).toBe(0);
});

test('--selector marks and limits what the directory owns', async () => {
  write('one.yaml', `${HEAD}kind: Pipeline\nmetadata: {name: sel-one}\nnotebook: one.ipynb\n`);
  write('one.ipynb', taggedNotebook([['a', 'x = 1']]));
  write('two.yaml', `${HEAD}kind: Pipeline\nmetadata: {name: sel-two}\nnotebook: one.ipynb\n`);
  expect((await cli(['apply', dir, '--selector', 'team=sel,env=prod', '--yes'])).code).toBe(0);
  expect(h.scheduling.pipelines.list('alice').find((p) => p.name === 'sel-one')?.labels).toEqual({
    team: 'sel',
    env: 'prod',
  });
  // Another directory with another selector owns nothing of these.
  rmSync(join(dir, 'two.yaml'));
  const other = await cli(['plan', dir, '--selector', 'team=sel,env=dev', '--prune']);
  expect(other.stdout).not.toMatch(/^- delete/m);
  const same = await cli(['plan', dir, '--selector', 'team=sel,env=prod', '--prune']);
  expect(same.stdout).toContain('- delete pipeline sel-two\n');
  expect(same.code).toBe(2);
  expect((await cli(['plan', dir, '--selector', 'nothing'])).stderr).toBe(
    'error: --selector must look like key=value[,key=value], not "nothing"\n',
  );
});

test.each<[string, Record<string, string>, RegExp]>([
  [
    'an unknown kind',
    { 'a.yaml': `${HEAD}kind: Widget\n` },
    /a\.yaml.*kind must be Pipeline or Schedule, not "Widget"/,
  ],
  [
    'a schedule field',
    {
      's.yaml': `${HEAD}kind: Schedule\nmetadata: {name: s}\nspec: {pipeline: p, cron: "* * * * *", catchup: never}\n`,
    },
    /s\.yaml.*spec\.catchup: Invalid option/,
  ],
  [
    'a notebook outside the directory',
    { 'p.yaml': `${HEAD}kind: Pipeline\nnotebook: ../x.ipynb\n` },
    /p\.yaml.*must not leave the manifest's directory/,
  ],
  [
    'two pipelines of one name',
    { 'a.yaml': `${HEAD}kind: Pipeline\nnotebook: n.ipynb\n`, 'b.yaml': `${HEAD}kind: Pipeline\nnotebook: n.ipynb\n` },
    /b\.yaml.*pipeline 'n' is declared in a\.yaml too/,
  ],
])('%s: exit 1, the file and field named, nothing changed', async (_what, files, message) => {
  write('n.ipynb', taggedNotebook([['a', 'x = 1']]));
  for (const [name, text] of Object.entries(files)) write(name, text);
  const r = await cli(['plan', dir]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(message);
});

test('a server-side refusal during plan is exit 1, not 2', async () => {
  write('s.yaml', `${HEAD}kind: Pipeline\nmetadata: {name: bad-labels, labels: {"Bad Key": x}}\nnotebook: n.ipynb\n`);
  write('n.ipynb', taggedNotebook([['a', 'x = 1']]));
  const r = await cli(['plan', dir, '--source', SOURCE]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('labels.Bad Key');
});

test("the source label: the repository's remote and the directory's path in it", async () => {
  expect(normalizeRemote('git@github.com:team/ml.git')).toBe('github.com/team/ml');
  expect(normalizeRemote('https://user:token@gitlab.example.org/team/ml.git/')).toBe('gitlab.example.org/team/ml');
  expect(normalizeRemote('ssh://git@host:2222/team/ml')).toBe('host:2222/team/ml');
  execFileSync('git', ['init', '-q', dir]);
  execFileSync('git', ['-C', dir, 'remote', 'add', 'origin', 'git@github.com:team/ml.git']);
  mkdirSync(join(dir, 'pipelines', 'nightly'), { recursive: true });
  expect(await sourceOf(join(dir, 'pipelines', 'nightly'))).toBe('github.com/team/ml#pipelines/nightly');
  expect(await sourceOf(dir)).toBe('github.com/team/ml');
});

describe('what apply asks of the server', () => {
  const save = (body: Record<string, unknown>, who: keyof typeof TOKENS = 'alice') =>
    request(h.app).post('/api/pipelines').set(auth(who)).send(body);

  test('a dry-run save stores nothing and says what a save would do, with the diff from the latest', async () => {
    const v1 = pipelineRequest([{ name: 'a', code: 'x = 1' }]);
    const named = (r: ReturnType<typeof pipelineRequest>) => ({
      ...r,
      pipeline: { ...r.pipeline!, metadata: { name: 'dry' } },
    });
    const first = SavePipelineResultSchema.parse(
      (await save({ ...named(v1), dryRun: true, labels: { a: 'b' } }).expect(200)).body,
    );
    expect(first).toMatchObject({
      created: true,
      dryRun: true,
      labels: { a: 'b' },
      version: { name: 'dry', version: 1 },
    });
    expect(first.diff).toBeUndefined();
    expect(h.scheduling.pipelines.list('alice').some((p) => p.name === 'dry')).toBe(false);
    await save({ ...named(v1), labels: { a: 'b' } }).expect(201);
    const same = SavePipelineResultSchema.parse((await save({ ...named(v1), dryRun: true }).expect(200)).body);
    expect(same).toMatchObject({ created: false, dryRun: true, labels: { a: 'b' }, version: { version: 1 } });
    const v2 = pipelineRequest([{ name: 'a', code: 'x = 2' }]);
    const changed = SavePipelineResultSchema.parse((await save({ ...named(v2), dryRun: true }).expect(200)).body);
    expect(changed).toMatchObject({ created: true, version: { version: 2 } });
    expect(changed.diff?.tasks.changed).toEqual([
      { task: 'a', fields: [{ field: 'code', from: expect.any(String), to: expect.any(String) }] },
    ]);
    expect(h.scheduling.pipelines.versions('alice', 'dry')).toHaveLength(1);
  });

  test("deleting a pipeline: refused while a schedule runs it, never another user's", async () => {
    const r = pipelineRequest([{ name: 'a', code: 'pass' }]);
    await save({ ...r, pipeline: { ...r.pipeline!, metadata: { name: 'doomed' } } }).expect(201);
    await request(h.app)
      .post('/api/schedules')
      .set(auth('alice'))
      .send({ name: 'uses-doomed', pipeline: 'doomed', every: '1h', paused: true })
      .expect(201);
    const refused = await request(h.app).delete('/api/pipelines/doomed').set(auth('alice')).expect(409);
    expect(refused.body.error.message).toBe("pipeline 'doomed' is run by schedule uses-doomed: delete it first");
    await request(h.app).delete('/api/pipelines/doomed').set(auth('bob')).expect(404);
    await request(h.app).delete('/api/pipelines/doomed?user=alice').set(auth('bob')).expect(403);
    await request(h.app).delete('/api/schedules/uses-doomed').set(auth('alice')).expect(204);
    await request(h.app).delete('/api/pipelines/doomed').set(auth('alice')).expect(204);
    await request(h.app).get('/api/pipelines/doomed/versions').set(auth('alice')).expect(404);
    // A new pipeline of that name starts again at version 1.
    const again = await save({ ...r, pipeline: { ...r.pipeline!, metadata: { name: 'doomed' } } }).expect(201);
    expect(SavePipelineResultSchema.parse(again.body).version.version).toBe(1);
  });
});
