/** The job view's "what the attempt used" text: memory and CPU from the cgroup, GPU from nvidia-smi samples. */
import { usageText, usageTitle } from '../src/components/jobs/format.js';
import { trans } from './trans.js';

const GiB = 1024 ** 3;

const gpuRun = {
  peakMemoryBytes: 1.5 * GiB,
  cpuSeconds: 42.4,
  gpuUtilizationMeanPercent: 86.6,
  gpuUtilizationPeakPercent: 99,
  gpuMemoryPeakBytes: Math.round(14.2 * GiB),
};

describe('usageText', () => {
  it('fits one table line: peak memory · CPU time · mean GPU utilisation, peak GPU memory', () => {
    expect(usageText({ usage: gpuRun }, trans)).toBe('1.5 GiB · 42 s · GPU 87%, 14 GiB');
    expect(usageText({ usage: { peakMemoryBytes: 9.8 * 1024 ** 2, cpuSeconds: 0.08 } }, trans)).toBe('9.8 MiB · 0.1 s');
  });

  it('shows only what was measured: no GPU part without GPU numbers, the peak when there is no mean', () => {
    expect(usageText({ usage: { peakMemoryBytes: 512 * 1024 ** 2, cpuSeconds: 3.21 } }, trans)).toBe('512 MiB · 3.2 s');
    expect(usageText({ usage: { gpuMemoryPeakBytes: Math.round(4.2 * GiB) } }, trans)).toBe('GPU 4.2 GiB');
    expect(usageText({ usage: { gpuUtilizationPeakPercent: 3 } }, trans)).toBe('GPU 3%');
    expect(usageText({}, trans)).toBe('');
  });
});

describe('usageTitle', () => {
  it('says in words what each number is, the GPU peak included', () => {
    expect(usageTitle({ usage: gpuRun }, trans)).toBe(
      'peak memory 1.5 GiB · CPU time 42 s · GPU utilisation 87% mean, 99% peak · peak GPU memory 14 GiB',
    );
    expect(usageTitle({ usage: { cpuSeconds: 0.5 } }, trans)).toBe('CPU time 0.5 s');
    expect(usageTitle({}, trans)).toBe('');
  });
});
