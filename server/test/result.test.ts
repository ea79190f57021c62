import { USAGE_BYTES_MAX } from '@cellpipe/schema';
import { attemptUsage, parseRunnerResult } from '../src/orchestrator/result.js';

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

describe('the usage a runner reports (result.json usage)', () => {
  const GiB = 1024 ** 3;

  it('keeps the measured fields and leaves out the sources and OOM count the attempt does not store', () => {
    const usage = {
      peakMemoryBytes: 70393856,
      cpuSeconds: 2.5,
      gpuUtilizationMeanPercent: 61.5,
      gpuUtilizationPeakPercent: 99,
      gpuMemoryPeakBytes: 4 * GiB,
      oomKills: 0,
      sources: { memory: 'cgroup-v1', cpu: 'cgroup-v1', gpu: 'nvidia-smi' },
    };
    expect(parseRunnerResult({ status: 'succeeded', usage })?.usage).toEqual({
      peakMemoryBytes: 70393856,
      cpuSeconds: 2.5,
      gpuUtilizationMeanPercent: 61.5,
      gpuUtilizationPeakPercent: 99,
      gpuMemoryPeakBytes: 4 * GiB,
    });
  });

  it('drops each number a task could have made up: negative, fractional bytes, past the bounds, not a number', () => {
    const usage = {
      peakMemoryBytes: USAGE_BYTES_MAX + 1,
      cpuSeconds: -1,
      gpuUtilizationMeanPercent: 101,
      gpuUtilizationPeakPercent: '50',
      gpuMemoryPeakBytes: 1.5,
    };
    expect(parseRunnerResult({ status: 'succeeded', usage })).toEqual({ status: 'succeeded' });
    expect(
      parseRunnerResult({ status: 'succeeded', usage: { cpuSeconds: 1e300, peakMemoryBytes: 1024 } })?.usage,
    ).toEqual({ peakMemoryBytes: 1024 });
    expect(parseRunnerResult({ status: 'succeeded', usage: [1, 2] })).toEqual({ status: 'succeeded' });
  });

  it("keeps what the executor measured and fills only the fields it did not from the runner's numbers", () => {
    const measured = { peakMemoryBytes: 2 * GiB, cpuSeconds: 10, gpuUtilizationMeanPercent: 40 };
    const reported = { peakMemoryBytes: 1, cpuSeconds: 1, gpuUtilizationMeanPercent: 99, gpuMemoryPeakBytes: GiB };
    expect(attemptUsage(measured, reported)).toEqual({ ...measured, gpuMemoryPeakBytes: GiB });
    expect(attemptUsage(undefined, reported)).toEqual(reported);
    expect(attemptUsage({ cpuSeconds: undefined }, { cpuSeconds: 3 })).toEqual({ cpuSeconds: 3 });
    expect(attemptUsage(undefined, undefined)).toBeUndefined();
    expect(attemptUsage({}, {})).toBeUndefined();
  });
});
