/** The job list's pure parts: the API query for a filter, and what tells runs of one pipeline apart. */
import type { JobSummary } from '@cellpipe/schema';
import { differingParameters } from '../src/components/jobs/differingParameters.js';
import { filterQuery, isFiltered, NO_FILTER, type JobFilter } from '../src/monitor/jobListModel.js';

const now = Date.parse('2024-05-10T12:00:00.000Z');

describe('filterQuery', () => {
  it.each<[string, Partial<JobFilter>, object]>([
    ['no filter', {}, {}],
    ['search words, trimmed', { search: '  resnet lr ' }, { q: 'resnet lr' }],
    ['several states', { states: ['failed', 'cancelled'] }, { states: ['failed', 'cancelled'] }],
    ['another owner', { user: ' bob ' }, { user: 'bob' }],
    ['the last 24 hours', { createdWithin: 'day' }, { since: '2024-05-09T12:00:00.000Z' }],
    ['the last 7 days', { createdWithin: 'week' }, { since: '2024-05-03T12:00:00.000Z' }],
  ])('%s', (_name, patch, expected) => {
    const filter = { ...NO_FILTER, ...patch };
    expect(filterQuery(filter, now)).toEqual(expected);
    expect(isFiltered(filter)).toBe(Object.keys(expected).length > 0);
  });
});

function run(id: string, name: string, parameters?: Record<string, unknown>): JobSummary {
  return {
    id,
    name,
    owner: 'ada',
    state: 'succeeded',
    executor: 'local',
    createdAt: '2024-05-01T00:00:00Z',
    taskCounts: { pending: 0, queued: 0, running: 0, succeeded: 1, failed: 0, cancelled: 0, skipped: 0 },
    ...(parameters ? { parameters } : {}),
  };
}

describe('differingParameters', () => {
  it('shows, for runs of one pipeline, the parameters whose values differ; a lone run shows none', () => {
    const shown = differingParameters([
      run('a00001', 'batch', { lr: 0.1, epochs: 10, data: 'x' }),
      run('a00002', 'batch', { lr: 0.01, epochs: 10, data: 'x' }),
      run('a00003', 'batch', { lr: 0.01, epochs: 20, data: 'x' }),
      run('a00004', 'other', { lr: 5 }),
    ]);
    expect(Object.fromEntries(shown)).toEqual({
      a00001: ['epochs=10', 'lr=0.1'],
      a00002: ['epochs=10', 'lr=0.01'],
      a00003: ['epochs=20', 'lr=0.01'],
    });
  });

  it('shows a parameter one run sets and another does not, and JSON for structured values', () => {
    const shown = differingParameters([run('b00001', 'p', { layers: [1, 2] }), run('b00002', 'p', {})]);
    expect(Object.fromEntries(shown)).toEqual({ b00001: ['layers=[1,2]'], b00002: [] });
  });

  it('shows nothing for runs with the same parameters', () => {
    expect(differingParameters([run('c00001', 'p', { a: 1 }), run('c00002', 'p', { a: 1 })]).size).toBe(0);
  });
});
