/** Results and notifications in the extension: the chart's geometry, how values read, links, the forms' requests. */
import type { PipelineResults } from '@cellpipe/schema';
import { jobOfLink } from '../src/jobLink.js';
import { chartGeometry } from '../src/results/chart.js';
import { resultText } from '../src/results/format.js';
import { ResultsModel } from '../src/results/model.js';
import { createRequest, defaultValues, updateRequest, valuesOf } from '../src/schedules/form.js';

const SIZE = { width: 100, height: 50, pad: 5 };

describe('chartGeometry', () => {
  it('given values over runs, then the oldest is left, the highest on top, and the line joins them', () => {
    const g = chartGeometry([0.5, 0.75, 1], SIZE)!;
    expect(g.points.map((p) => [p.x, p.y])).toEqual([
      [5, 45],
      [50, 25],
      [95, 5],
    ]);
    expect(g.path).toBe('M5.0,45.0L50.0,25.0L95.0,5.0');
    expect([g.min, g.max]).toEqual([0.5, 1]);
  });

  it('when a run has no value, then the line has a gap there', () => {
    const g = chartGeometry([1, undefined, 3, 2], SIZE)!;
    expect(g.points.map((p) => p.run)).toEqual([0, 2, 3]);
    expect(g.path.match(/M/g)).toHaveLength(2);
  });

  it.each([
    [[7], 'one run sits in the middle'],
    [[2, 2, 2], 'a flat series sits in the middle'],
  ])('%j: %s', (values) => {
    const g = chartGeometry(values, SIZE)!;
    expect(new Set(g.points.map((p) => p.y))).toEqual(new Set([25]));
  });

  it('given no numbers, then there is no chart', () => {
    expect(chartGeometry([undefined, undefined], SIZE)).toBeNull();
  });
});

describe('resultText', () => {
  it.each([
    [0.93, '0.93'],
    [1 / 3, '0.333333'],
    [1200, '1200'],
    [1.5e-7, '1.500e-7'],
    [true, 'true'],
    ['resnet50', 'resnet50'],
    [undefined, ''],
  ])('%p reads %p', (value, text) => {
    expect(resultText(value)).toBe(text);
  });
});

describe('jobOfLink', () => {
  it.each([
    ['?cellpipe-job=abc123def', 'abc123def'],
    ['?reset&cellpipe-job=abc123def', 'abc123def'],
    ['?cellpipe-job=../../etc', null],
    ['?other=1', null],
    [undefined, null],
  ])('%p names %p', (search, id) => {
    expect(jobOfLink(search)).toBe(id);
  });
});

describe('the schedule form and notify', () => {
  const rule = { on: 'failure' as const, targets: ['team'] };

  it('given targets chosen, then create sends them; none chosen: nothing', () => {
    expect(createRequest({ ...defaultValues('f'), notify: [rule] }, 'f', 1, {}).notify).toEqual([rule]);
    expect(createRequest(defaultValues('f'), 'f', 1, {})).not.toHaveProperty('notify');
  });

  it('when the targets are taken away on edit, then the update clears them', () => {
    expect(updateRequest({ ...defaultValues('f'), notify: [] }, {}, 'latest').notify).toBeNull();
  });

  it('given a saved schedule with rules, then the form starts with them', () => {
    const saved = { ...createRequest(defaultValues('f'), 'f', 1, {}), notify: [rule] } as unknown as Parameters<
      typeof valuesOf
    >[0];
    expect(valuesOf({ ...saved, parameters: {}, version: 'latest' } as Parameters<typeof valuesOf>[0]).notify).toEqual([
      rule,
    ]);
  });
});

describe('ResultsModel', () => {
  it('given runs newest first, then a series reads oldest first with gaps where a run has none', async () => {
    const results: PipelineResults = {
      name: 'p',
      owner: 'alice',
      total: 3,
      columns: [{ task: 'fit', name: 'acc', type: 'number' }],
      runs: ['c', 'b', 'a'].map((id, i) => ({
        jobId: `job00${id}`,
        jobName: 'p',
        state: 'succeeded' as const,
        hash: 'h',
        createdAt: '2026-01-01T00:00:00Z',
        parameters: {},
        results: (i === 1 ? {} : { fit: { acc: 0.9 - i / 10 } }) as Record<string, Record<string, number>>,
      })),
    };
    const jobs = { summaries: () => [], jobEnded: { connect: () => true } };
    const model = new ResultsModel(
      { pipelineResults: async () => results } as never,
      { listPipelines: async () => ({ items: [] }) } as never,
      jobs as never,
    );
    await model.select('p');
    expect(model.series('fit', 'acc')).toEqual([0.7, undefined, 0.9]);
    expect(model.pipelines).toEqual(['p']);
  });
});
