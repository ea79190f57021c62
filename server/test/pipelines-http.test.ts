/**
 * Saved pipelines through the real HTTP app (real JobService, SQLite file, python3 tasks): versions
 * by content, diff, export/import round trip, running a version, and the version every job records.
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { JobSchema, PipelineDiffSchema, PipelineVersionDetailSchema, SavePipelineResultSchema } from '@cellpipe/schema';
import { auth, startApp, type TestApp } from './http-helpers.js';
import { waitForJob } from './jobs-fixtures.js';

jest.setTimeout(120_000);

let t: TestApp;
beforeEach(async () => {
  t = await startApp();
});
afterEach(async () => {
  await t.cleanup();
});

/** A tagged notebook: two tasks, the second reading what the first binds. */
function notebook(train: string, extra: Record<string, unknown> = {}) {
  const cell = (source: string, tags: string[], outputs: unknown[] = []) => ({
    cell_type: 'code',
    metadata: { tags },
    source,
    outputs,
    execution_count: outputs.length ? 1 : null,
  });
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      cell('n = 3', ['parameters']),
      cell('data = list(range(n))', ['task:prep'], [{ output_type: 'stream', name: 'stdout', text: 'x' }]),
      cell(train, ['task:train', 'gpu:0']),
    ],
    ...extra,
  };
}

const save = (content: unknown, who: 'alice' | 'bob' = 'alice', message?: string) =>
  request(t.app)
    .post('/api/pipelines')
    .set(auth(who))
    .send({ notebook: { path: 'flow.ipynb', content }, ...(message ? { message } : {}) });

describe('/api/pipelines', () => {
  it('saves versions by content: outputs alone are no new version, a code change is', async () => {
    const first = await save(notebook('total = sum(data)'), 'alice', 'first');
    expect(first.status).toBe(201);
    const v1 = SavePipelineResultSchema.parse(first.body);
    expect(v1).toMatchObject({
      created: true,
      version: { name: 'flow', version: 1, author: 'alice', message: 'first' },
    });

    const executedAgain = notebook('total = sum(data)');
    executedAgain.cells[2]!.outputs = [{ output_type: 'stream', name: 'stdout', text: 'ran again' }];
    const same = await save(executedAgain);
    expect(same.status).toBe(200);
    expect(SavePipelineResultSchema.parse(same.body)).toMatchObject({
      created: false,
      version: { version: 1, hash: v1.version.hash },
    });

    const changed = await save(notebook('total = sum(data) * 2'), 'alice', 'double');
    expect(changed.status).toBe(201);
    expect(changed.body.version).toMatchObject({ version: 2 });
    expect(changed.body.version.hash).not.toBe(v1.version.hash);

    // Another user's pipelines are their own namespace.
    expect((await save(notebook('total = sum(data)'), 'bob')).body.version).toMatchObject({ owner: 'bob', version: 1 });

    const list = await request(t.app).get('/api/pipelines').set(auth('alice'));
    expect(list.body.items).toEqual([
      expect.objectContaining({ name: 'flow', versions: 2, latest: expect.objectContaining({ version: 2 }) }),
    ]);
    const versions = await request(t.app).get('/api/pipelines/flow/versions').set(auth('alice'));
    expect(versions.body.items.map((v: { version: number; message: string }) => [v.version, v.message])).toEqual([
      [2, 'double'],
      [1, 'first'],
    ]);
  });

  it('diffs two versions per task and field', async () => {
    await save(notebook('total = sum(data)'));
    const nb = notebook('total = sum(data) * 2');
    nb.cells[2]!.metadata = { tags: ['task:train', 'gpu:1'] };
    nb.cells.push({
      cell_type: 'code',
      metadata: { tags: ['task:report'] },
      source: 'print(total)',
      outputs: [],
      execution_count: null,
    });
    await save(nb);
    const res = await request(t.app).get('/api/pipelines/flow/diff?from=1&to=2').set(auth('alice'));
    expect(res.status).toBe(200);
    const diff = PipelineDiffSchema.parse(res.body);
    expect(diff.tasks.added).toEqual(['report']);
    expect(diff.tasks.removed).toEqual([]);
    const train = diff.tasks.changed.find((c) => c.task === 'train')!;
    expect(train.fields).toEqual([
      { field: 'code', from: 'total = sum(data)', to: 'total = sum(data) * 2' },
      // report now reads total, so train outputs it
      { field: 'outputs', from: [], to: ['total'] },
      { field: 'resources.gpu', from: 0, to: 1 },
    ]);
    expect(diff.files.changed).toEqual(['flow.ipynb']);
    const same = await request(t.app).get('/api/pipelines/flow/diff?from=2&to=latest').set(auth('alice'));
    expect(same.body.identical).toBe(true);
  });

  it('exports one self-contained YAML document that imports to the same content', async () => {
    await save(notebook('total = sum(data)'), 'alice', 'first');
    const exported = await request(t.app).get('/api/pipelines/flow/versions/1/export').set(auth('alice'));
    expect(exported.status).toBe(200);
    expect(exported.type).toBe('application/yaml');
    const doc = parseYaml(exported.text) as { kind: string; files: Record<string, string>; metadata: { hash: string } };
    expect(doc.kind).toBe('PipelineExport');
    expect(Object.keys(doc.files)).toEqual(['flow.ipynb']);
    expect(JSON.parse(doc.files['flow.ipynb']!).cells[2].source).toBe('total = sum(data)');

    const imported = await request(t.app).post('/api/pipelines/import').set(auth('bob')).send({ yaml: exported.text });
    expect(imported.status).toBe(201);
    expect(imported.body.version).toMatchObject({ owner: 'bob', name: 'flow', version: 1, hash: doc.metadata.hash });
    const again = await request(t.app).post('/api/pipelines/import').set(auth('alice')).send({ yaml: exported.text });
    expect(again.body).toMatchObject({ created: false, version: { version: 1 } });

    const detail = PipelineVersionDetailSchema.parse(
      (await request(t.app).get('/api/pipelines/flow/versions/latest').set(auth('bob'))).body,
    );
    expect(detail.bundle.files['flow.ipynb']).toBe(doc.files['flow.ipynb']);
  });

  it('names the field of bad input', async () => {
    const bad = await request(t.app).post('/api/pipelines/import').set(auth('alice')).send({ yaml: 'kind: Nope\n' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toMatch(/^yaml\./);
    const missing = await request(t.app).get('/api/pipelines/flow/versions/3').set(auth('alice'));
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe("no saved pipeline 'flow'");
    await save(notebook('total = sum(data)'));
    const noVersion = await request(t.app).get('/api/pipelines/flow/versions/3').set(auth('alice'));
    expect(noVersion.body.error.message).toBe("pipeline 'flow' has no version 3 (versions 1 to 1)");
    const badVersion = await request(t.app).get('/api/pipelines/flow/versions/zero').set(auth('alice'));
    expect(badVersion.status).toBe(400);
    expect(badVersion.body.error.details[0].path).toBe('params.version');
    const unknownDep = notebook('total = sum(data)');
    unknownDep.cells[2]!.metadata = { tags: ['task:train', 'after:nowhere'] };
    const refused = await save(unknownDep);
    expect(refused.status).toBe(400);
    expect(refused.body.error.details[0]).toMatchObject({ path: expect.stringMatching(/^notebook\.content/), cell: 3 });
  });

  it('runs a saved version, and every job records the version it ran (ad-hoc runs too)', async () => {
    await save(notebook('total = sum(data)'));
    const v2 = (await save(notebook('total = sum(data) + n'))).body.version;
    const run = await request(t.app)
      .post('/api/pipelines/flow/versions/1/run')
      .set(auth('alice'))
      .send({ parameters: { n: 5 } });
    expect(run.status).toBe(201);
    const job = JobSchema.parse(run.body);
    expect(job.pipelineRef).toMatchObject({ name: 'flow', version: 1 });
    expect(job.parameters).toEqual({ n: 5 });
    expect((await waitForJob(t.service, job.id)).state).toBe('succeeded');

    // An ad-hoc run of saved content names that version; of unsaved content, only its hash.
    const adhoc = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({ notebook: { path: 'flow.ipynb', content: notebook('total = sum(data) + n') } });
    expect(adhoc.body.pipelineRef).toEqual({ name: 'flow', version: 2, hash: v2.hash });
    const unsaved = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({ notebook: { path: 'flow.ipynb', content: notebook('total = 0') } });
    expect(unsaved.body.pipelineRef).toEqual({ name: 'flow', hash: expect.stringMatching(/^[a-f0-9]{64}$/) });
    const list = await request(t.app).get('/api/jobs').set(auth('alice'));
    expect(list.body.items.map((j: { pipelineRef?: { version?: number } }) => j.pipelineRef?.version)).toEqual([
      undefined,
      2,
      1,
    ]);
    for (const j of [adhoc.body.id, unsaved.body.id]) await waitForJob(t.service, j);
  });
});
