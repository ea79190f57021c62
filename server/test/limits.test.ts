/**
 * What one request may cost: configurable limits answered with clear 413/400 errors naming the field
 * and the limit, against the real HTTP app and engine (SQLite file in a temp home).
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { loadConfig } from '../src/config.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { notebook, request as pipelineRequest } from './jobs-fixtures.js';
import { auth, startApp, type TestApp } from './http-helpers.js';

jest.setTimeout(60_000);

let t: TestApp;
let logged: unknown[];
beforeAll(async () => {
  logged = [];
  t = await startApp(
    { logError: (_m, err) => logged.push(err), bodyLimit: '50mb' },
    { limits: { tasksPerPipeline: 5, notebookCells: 6, notebookBytes: 200_000, cellBytes: 1000, jsonDepth: 32 } },
  );
});
afterAll(async () => {
  await t.cleanup();
});
afterEach(() => {
  // None of these may reach the 5xx path (a stack overflow used to).
  expect(logged).toEqual([]);
});

/** JSON text nested `depth` levels deep: [[[...]]]. Built as text: JSON.stringify itself would overflow. */
const deepJson = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

function post(body: string) {
  return request(t.app).post('/api/jobs').set(auth('alice')).set('Content-Type', 'application/json').send(body);
}

describe('JSON depth', () => {
  test('a parameter default nested 100,000 deep → 400 naming the field', async () => {
    const body = JSON.stringify(pipelineRequest([{ name: 'a', code: 'pass' }], { parameters: { p: { default: 0 } } }));
    const res = await post(body.replace('"default":0', `"default":${deepJson(100_000)}`)).expect(400);
    expect(res.body.error.message).toMatch(
      /^pipeline\.spec\.parameters\.p\.default\.0\.0\.0\.…: JSON nested more than 32 levels deep \(the limit is limits\.jsonDepth\)$/,
    );
    expect(res.body.error.details[0].path).toBe('pipeline.spec.parameters.p.default.0.0.0.…');
  });

  test('an override nested 5,000 deep → 400 naming the parameter', async () => {
    const body = JSON.stringify({
      ...pipelineRequest([{ name: 'a', code: 'pass' }], { parameters: { p: { default: 0 } } }),
      parameters: { p: 0 },
    });
    const res = await post(body.replace('"parameters":{"p":0}', `"parameters":{"p":${deepJson(5000)}}`)).expect(400);
    expect(res.body.error.message).toMatch(/^parameters\.p\.0\.0\.0\.0\.0\.0\.…: JSON nested more than 32 levels/);
  });

  test('a notebook file whose JSON nests too deep → 400 naming the file', async () => {
    const nb = JSON.stringify(notebook(['pass'])).replace('"metadata":{}', `"metadata":{"x":${deepJson(1000)}}`);
    const body = { ...pipelineRequest([{ name: 'a', code: 'pass' }]), files: { 'test.ipynb': nb } };
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(400);
    expect(res.body.error.details[0].path).toMatch(/^files\.test\.ipynb\.cells\.0\.metadata\.x\.0/);
  });

  test('nesting within the limit is accepted', async () => {
    const body = JSON.stringify(pipelineRequest([{ name: 'a', code: 'pass' }], { parameters: { p: { default: 0 } } }));
    await post(body.replace('"default":0', `"default":${deepJson(20)}`)).expect(201);
  });
});

describe('sizes', () => {
  test('more tasks than tasksPerPipeline → 413 naming the tasks and the limit', async () => {
    const tasks = Array.from({ length: 6 }, (_, i) => ({ name: `t${i}`, code: 'pass' }));
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(pipelineRequest(tasks)).expect(413);
    expect(res.body.error).toEqual({
      code: 'too_large',
      message: 'the pipeline is 6 tasks, over the limit of 5 tasks (limits.tasksPerPipeline)',
      details: [{ path: 'pipeline.spec.tasks', message: expect.any(String) }],
    });
  });

  test('a notebook with more cells than notebookCells → 413, before it is compiled', async () => {
    const content = notebook(Array.from({ length: 7 }, (_, i) => `x${i} = ${i}`));
    const res = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({ notebook: { path: 'n.ipynb', content } })
      .expect(413);
    expect(res.body.error.message).toBe('the notebook is 7 cells, over the limit of 6 cells (limits.notebookCells)');
    expect(res.body.error.details[0].path).toBe('notebook.content.cells');
  });

  test('a cell over cellBytes → 413 naming the cell', async () => {
    const body = pipelineRequest([
      { name: 'a', code: 'pass' },
      { name: 'b', code: `x = "${'y'.repeat(2000)}"` },
    ]);
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(413);
    expect(res.body.error.message).toMatch(/^cell 2 is 2 KB, over the limit of 1000 B \(limits\.cellBytes\)$/);
    expect(res.body.error.details[0].path).toBe('files.test.ipynb.cells.1.source');
  });

  test('a notebook file over notebookBytes → 413 naming the file', async () => {
    const big = JSON.stringify(notebook(['pass'])).replace(
      '"metadata":{}',
      `"metadata":{"x":"${'z'.repeat(300_000)}"}`,
    );
    const body = { ...pipelineRequest([{ name: 'a', code: 'pass' }]), files: { 'test.ipynb': big } };
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(413);
    expect(res.body.error.message).toMatch(/^file 'test\.ipynb' is 293\.\d KB, over the limit of 195\.3 KB/);
  });

  test('within every limit the job is accepted', async () => {
    const tasks = Array.from({ length: 5 }, (_, i) => ({ name: `t${i}`, code: 'pass' }));
    await request(t.app).post('/api/jobs').set(auth('alice')).send(pipelineRequest(tasks)).expect(201);
  });
});

test('limits come from the config file, the environment and flags, merged one by one', () => {
  const config = loadConfig({
    env: { CELLPIPE_HOME: '/nonexistent', CELLPIPE_LIMIT_TASKS_PER_PIPELINE: '100', CELLPIPE_LIMIT_CELL_BYTES: '2mb' },
    flags: { limits: { jsonDepth: 10 } },
  });
  expect(config.limits).toEqual({
    ...DEFAULT_LIMITS,
    tasksPerPipeline: 100,
    cellBytes: 2 * 1024 * 1024,
    jsonDepth: 10,
  });
  expect(() => loadConfig({ env: { CELLPIPE_HOME: '/nonexistent', CELLPIPE_LIMIT_JSON_DEPTH: 'deep' } })).toThrow(
    'invalid configuration in the environment:\n  CELLPIPE_LIMIT_JSON_DEPTH: Invalid input: expected number, received string',
  );
  expect(() =>
    loadConfig({ env: { CELLPIPE_HOME: '/nonexistent' }, flags: { limits: { taskPerPipeline: 1 } } }),
  ).toThrow(/limits: Unrecognized key: "taskPerPipeline"/);
});
