/** The job view's "what the attempt used" text: memory and CPU from the cgroup, GPU from nvidia-smi samples. */
import { usageText } from '../src/components/jobs/format.js';
import { trans } from './trans.js';

const GiB = 1024 ** 3;

describe('usageText', () => {
  it('puts GPU utilisation and memory next to peak memory and CPU seconds', () => {
    const usage = {
      peakMemoryBytes: 1.5 * GiB,
      cpuSeconds: 42.4,
      gpuUtilizationMeanPercent: 86.6,
      gpuUtilizationPeakPercent: 99,
      gpuMemoryPeakBytes: Math.round(14.2 * GiB),
    };
    expect(usageText({ usage }, trans)).toBe('peak 1.5 GiB · 42 s CPU · GPU 87% mean, 99% peak, 14 GiB');
    expect(usageText({ usage: { gpuMemoryPeakBytes: Math.round(4.2 * GiB) } }, trans)).toBe('GPU 4.2 GiB');
  });

  it('shows only what was measured: no GPU part without GPU numbers', () => {
    expect(usageText({ usage: { peakMemoryBytes: 512 * 1024 ** 2, cpuSeconds: 3.21 } }, trans)).toBe(
      'peak 512 MiB · 3.2 s CPU',
    );
    expect(usageText({ usage: { gpuUtilizationMeanPercent: 0, gpuUtilizationPeakPercent: 3 } }, trans)).toBe(
      'GPU 0% mean, 3% peak',
    );
    expect(usageText({}, trans)).toBe('');
  });
});
