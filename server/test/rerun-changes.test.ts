/**
 * "Re-run with my changes": the plan (which tasks of an earlier job are reused, and why the others run)
 * from real compiled notebooks, and the re-run itself against the real engine (SQLite file, python3
 * tasks), driven through the HTTP API.
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { JobSchema, RerunPlanSchema, type RerunPlan, type TaskState } from '@cellpipe/schema';
import { freezeJob } from '../src/jobs/freeze.js';
import { planRerun } from '../src/jobs/rerun-plan.js';
import { waitForJob } from './jobs-fixtures.js';
import { auth, startApp, type TestApp } from './http-helpers.js';

jest.setTimeout(90_000);

interface Cell {
  source: string;
  tags?: string[];
  type?: 'code' | 'markdown';
}

function nb(cells: Cell[]): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((c, i) => ({
      cell_type: c.type ?? 'code',
      id: `c${i}`,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      ...(c.type === 'markdown' ? {} : { outputs: [], execution_count: null }),
    })),
  };
}

/** load → clean → train → report; load's `size` is read by no task. */
const BASE: Cell[] = [
  { source: 'import math' },
  { source: 'lr = 0.1', tags: ['parameters'] },
  { source: 'raw = list(range(10))\nsize = len(raw)', tags: ['task:load'] },
  { source: 'data = [x * 2 for x in raw]', tags: ['task:clean'] },
  { source: 'model = sum(data) * lr', tags: ['task:train'] },
  { source: 'print(model)', tags: ['task:report'] },
];

const withCell = (cells: Cell[], index: number, cell: Cell): Cell[] => cells.map((c, i) => (i === index ? cell : c));

function plan(
  before: Cell[],
  after: Cell[],
  options: { states?: Record<string, TaskState>; parameters?: Record<string, unknown> } = {},
): RerunPlan {
  const earlier = freezeJob({ notebook: { path: 'flow.ipynb', content: nb(before) } });
  const next = freezeJob({ notebook: { path: 'flow.ipynb', content: nb(after) }, parameters: options.parameters });
  const states = new Map(
    earlier.pipeline.spec.tasks.map((t) => [t.name, options.states?.[t.name] ?? ('succeeded' as TaskState)]),
  );
  return planRerun(
    { jobId: 'earlier1', pipeline: earlier.pipeline, bases: earlier.bases, states },
    { jobId: '', pipeline: next.pipeline, bases: next.bases },
  );
}

/** Each task as "name: reuse" or "name: kind,kind". */
const summary = (p: RerunPlan): string[] =>
  p.tasks.map((t) => `${t.name}: ${t.reuse ? 'reuse' : t.reasons.map((r) => r.kind).join(',')}`);

describe('planRerun', () => {
  test('an unchanged notebook reuses every task, each with the same hash as before', () => {
    const p = plan(BASE, BASE);
    expect(summary(p)).toEqual(['load: reuse', 'clean: reuse', 'train: reuse', 'report: reuse']);
    expect(p.unchanged).toBe(true);
    expect(p.tasks[0]!.reasons).toEqual([
      { kind: 'unchanged', message: 'unchanged since job earlier1, where it succeeded' },
    ]);
    expect(plan(BASE, BASE).tasks.map((t) => t.hash)).toEqual(p.tasks.map((t) => t.hash));
  });

  test.each<[string, Cell[], string[]]>([
    [
      'a change to a downstream cell re-runs only that task',
      withCell(BASE, 5, { source: 'print("model:", model)', tags: ['task:report'] }),
      ['load: reuse', 'clean: reuse', 'train: reuse', 'report: code'],
    ],
    [
      'a change to an upstream cell re-runs it and everything after it',
      withCell(BASE, 3, { source: 'data = [x * 3 for x in raw]', tags: ['task:clean'] }),
      ['load: reuse', 'clean: code', 'train: upstream', 'report: upstream'],
    ],
    [
      'a changed setup cell re-runs every task',
      withCell(BASE, 0, { source: 'import math, json' }),
      ['load: setup', 'clean: setup,upstream', 'train: setup,upstream', 'report: setup,upstream'],
    ],
    [
      'another image for one task re-runs it and its downstream',
      withCell(BASE, 4, { source: 'model = sum(data) * lr', tags: ['task:train', 'image:registry/team/torch:2'] }),
      ['load: reuse', 'clean: reuse', 'train: image', 'report: upstream'],
    ],
    [
      'a markdown cell inserted above moves every cell but changes nothing',
      [{ source: '# Notes', type: 'markdown' }, ...BASE],
      ['load: reuse', 'clean: reuse', 'train: reuse', 'report: reuse'],
    ],
    [
      'a new task runs, and the task it now reads from runs again to save what it did not',
      [...BASE, { source: 'print(size)', tags: ['task:count'] }],
      ['load: outputs', 'clean: upstream', 'train: upstream', 'report: upstream', 'count: new,upstream'],
    ],
  ])('%s', (_name, after, expected) => {
    expect(summary(plan(BASE, after))).toEqual(expected);
  });

  test('a changed parameter re-runs every task and names the parameter', () => {
    const p = plan(BASE, BASE, { parameters: { lr: 0.01 } });
    expect(summary(p)).toEqual([
      'load: parameters',
      'clean: parameters,upstream',
      'train: parameters,upstream',
      'report: parameters,upstream',
    ]);
    expect(p.tasks[2]!.reasons[0]).toEqual({ kind: 'parameters', message: 'parameter lr changed' });
    expect(p.unchanged).toBe(false);
  });

  test('a task that failed before runs again even when nothing changed; the notebook still reads as unchanged', () => {
    const p = plan(BASE, BASE, { states: { train: 'failed', report: 'skipped' } });
    expect(summary(p)).toEqual([
      'load: reuse',
      'clean: reuse',
      'train: not-succeeded',
      'report: not-succeeded,upstream',
    ]);
    expect(p.tasks[2]!.reasons[0]!.message).toBe('it failed in job earlier1');
    expect(p.tasks[3]!.reasons.at(-1)!.message).toBe("upstream task 'train' runs again");
    expect(p.unchanged).toBe(true);
  });
});

describe('POST /api/jobs/:id/rerun-plan and /rerun-changes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const failing: Cell[] = [
    { source: 'value = 21\nprint("prepared", value)', tags: ['task:prepare'] },
    { source: 'raise ValueError("fix me")\nresult = value * 2', tags: ['task:check'] },
  ];
  const fixed = withCell(failing, 1, { source: 'result = value * 2\nprint("result", result)', tags: ['task:check'] });
  const body = (cells: Cell[]) => ({ notebook: { path: 'flaky.ipynb', content: nb(cells) } });

  test('after fixing the failing cell, the re-run reuses the upstream task and runs the fixed one with its input', async () => {
    // Given a job whose second task failed
    const first = JobSchema.parse(
      (await request(t.app).post('/api/jobs').set(auth('alice')).send(body(failing)).expect(201)).body,
    );
    const failed = await waitForJob(t.service, first.id);
    expect(failed.state).toBe('failed');

    // When the plan is asked with the fixed notebook
    const planRes = await request(t.app)
      .post(`/api/jobs/${first.id}/rerun-plan`)
      .set(auth('alice'))
      .send(body(fixed))
      .expect(200);
    const p = RerunPlanSchema.parse(planRes.body);
    // Then prepare is reused, and check runs because its code changed (and it failed before)
    expect(summary(p)).toEqual(['prepare: reuse', 'check: code,not-succeeded']);
    expect(p.unchanged).toBe(false);

    // When the re-run with changes starts
    const res = await request(t.app)
      .post(`/api/jobs/${first.id}/rerun-changes`)
      .set(auth('alice'))
      .send(body(fixed))
      .expect(201);
    const second = JobSchema.parse(res.body);
    expect(second.parentJobId).toBe(first.id);
    const done = await waitForJob(t.service, second.id);

    // Then it succeeds: prepare was not run again, check ran the new code with prepare's value
    expect(done.state).toBe('succeeded');
    expect(done.tasks.map((x) => [x.name, x.state, x.reused ?? false])).toEqual([
      ['prepare', 'succeeded', true],
      ['check', 'succeeded', false],
    ]);
    const log = await request(t.app).get(`/api/jobs/${second.id}/tasks/check/logs`).set(auth('alice')).expect(200);
    expect(log.text).toContain('result 42');
    // And the new job runs the fixed code: its pipeline is the new one
    expect(done.pipeline.spec.tasks.map((x) => x.name)).toEqual(['prepare', 'check']);
  });

  test("another user's job, a bad notebook and an unfinished job are refused with the reason", async () => {
    const mine = JobSchema.parse(
      (await request(t.app).post('/api/jobs').set(auth('alice')).send(body(fixed)).expect(201)).body,
    );
    await request(t.app).post(`/api/jobs/${mine.id}/rerun-plan`).set(auth('bob')).send(body(fixed)).expect(404);
    const bad = await request(t.app)
      .post(`/api/jobs/${mine.id}/rerun-plan`)
      .set(auth('alice'))
      .send(body([{ source: 'x = 1', tags: ['task:a', 'after:nowhere'] }]))
      .expect(400);
    expect(bad.body.error.details[0]).toMatchObject({ cell: 1, task: 'a' });
    await waitForJob(t.service, mine.id);
    const slow = JobSchema.parse(
      (
        await request(t.app)
          .post('/api/jobs')
          .set(auth('alice'))
          .send(body([{ source: 'import time\ntime.sleep(30)', tags: ['task:slow'] }]))
          .expect(201)
      ).body,
    );
    const busy = await request(t.app)
      .post(`/api/jobs/${slow.id}/rerun-changes`)
      .set(auth('alice'))
      .send(body(fixed))
      .expect(409);
    expect(busy.body.error.message).toMatch(/re-run it with changes once it has finished/);
    await request(t.app).post(`/api/jobs/${slow.id}/cancel`).set(auth('alice')).expect(200);
    await waitForJob(t.service, slow.id);
  });
});
