import { parseRunnerResult } from '../src/orchestrator/result.js';

describe('parseRunnerResult', () => {
  it.each([
    [
      { status: 'succeeded', durationMs: 12, outputs: ['x'] },
      { status: 'succeeded', durationMs: 12, outputs: ['x'] },
    ],
    [
      { status: 'failed', error: { message: 'boom', ename: 'ValueError', cell: 3, reason: 'exception' } },
      { status: 'failed', error: { message: 'boom', ename: 'ValueError', cell: 3, reason: 'exception' } },
    ],
    // A pod evicted or preempted gets SIGTERM: the runner stops cleanly and says so.
    [
      { status: 'cancelled', error: { message: 'the task was cancelled (SIGTERM)', reason: 'cancelled' } },
      { status: 'cancelled', error: { message: 'the task was cancelled (SIGTERM)', reason: 'cancelled' } },
    ],
  ])('keeps what the runner reported: %j', (raw, expected) => {
    expect(parseRunnerResult(raw)).toEqual(expected);
  });

  it.each([[null], ['succeeded'], [{ status: 'done' }], [[{ status: 'succeeded' }]]])('rejects %j', (raw) => {
    expect(parseRunnerResult(raw)).toBeUndefined();
  });

  it('keeps warnings, with the cell as its 1-based position, and drops malformed ones', () => {
    expect(
      parseRunnerResult({
        status: 'succeeded',
        warnings: [
          { kind: 'input-mutated', message: 'm', variable: 'xs', task: 't', cell: 4, position: 5 },
          { kind: 'other', message: 'n' },
          { kind: 'input-mutated' },
          'text',
        ],
      }),
    ).toEqual({
      status: 'succeeded',
      warnings: [
        { kind: 'input-mutated', message: 'm', variable: 'xs', cell: 5 },
        { kind: 'other', message: 'n' },
      ],
    });
  });

  it('drops fields of the wrong type instead of trusting them', () => {
    expect(
      parseRunnerResult({ status: 'failed', durationMs: 'long', outputs: [1], error: { message: 5, cell: 0 } }),
    ).toEqual({
      status: 'failed',
      error: { message: 'the task failed' },
    });
  });
});
