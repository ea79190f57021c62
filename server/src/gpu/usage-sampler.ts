/**
 * GPU use of one local attempt, sampled with `nvidia-smi --query-gpu` while it runs, restricted to the
 * whole GPUs the attempt holds. MIG devices are left out: NVIDIA's MIG user guide states that GPU
 * utilisation is not supported in MIG mode (nvidia-smi reports N/A; only DCGM's profiling fields see
 * inside an instance), so for MIG nothing is recorded rather than a parent GPU's number.
 * No nvidia-smi, no driver, or an answer that names none of the attempt's GPUs: nothing is recorded,
 * and nothing fails — sampling is an observation, never a condition of the task.
 */
import { execFile } from 'node:child_process';
import type { AttemptUsage } from '@cellpipe/schema';

export const GPU_QUERY = ['--query-gpu=uuid,utilization.gpu,memory.used', '--format=csv,noheader,nounits'];
const MIB = 1024 * 1024;

export interface GpuReading {
  /** utilization.gpu, %; absent where the driver answers N/A or Not Supported. */
  utilization?: number;
  /** memory.used in bytes (nvidia-smi reports MiB with nounits). */
  memoryBytes?: number;
}

/** A number field of nvidia-smi's CSV; `[N/A]`, `[Not Supported]` and the like are no value. */
function field(text: string | undefined): number | undefined {
  const t = text?.trim() ?? '';
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** Parse `nvidia-smi --query-gpu=uuid,utilization.gpu,memory.used --format=csv,noheader,nounits`. */
export function parseGpuQuery(text: string): Map<string, GpuReading> {
  const out = new Map<string, GpuReading>();
  for (const line of text.split(/\r?\n/)) {
    const [uuid, util, mem] = line.split(',').map((s) => s.trim());
    if (!uuid || mem === undefined) continue;
    const reading: GpuReading = {};
    const u = field(util);
    const m = field(mem);
    if (u !== undefined) reading.utilization = u;
    if (m !== undefined) reading.memoryBytes = Math.round(m * MIB);
    out.set(uuid, reading);
  }
  return out;
}

export type GpuUsage = Pick<
  AttemptUsage,
  'gpuUtilizationMeanPercent' | 'gpuUtilizationPeakPercent' | 'gpuMemoryPeakBytes'
>;

/**
 * Folds samples into one attempt's numbers: utilisation averaged over the attempt's GPUs per sample,
 * then over samples (mean) or its highest single-GPU value (peak); memory summed over the GPUs per
 * sample (what the attempt held at once), highest sample kept.
 */
export class GpuUsageAccumulator {
  private utilSum = 0;
  private utilSamples = 0;
  private utilPeak: number | undefined;
  private memPeak: number | undefined;

  constructor(private readonly uuids: readonly string[]) {}

  add(readings: Map<string, GpuReading>): void {
    const mine = this.uuids.map((id) => readings.get(id)).filter((r): r is GpuReading => r !== undefined);
    const utils = mine.map((r) => r.utilization).filter((u): u is number => u !== undefined);
    if (utils.length) {
      this.utilSum += utils.reduce((a, b) => a + b, 0) / utils.length;
      this.utilSamples++;
      this.utilPeak = Math.max(this.utilPeak ?? 0, ...utils);
    }
    const mems = mine.map((r) => r.memoryBytes).filter((m): m is number => m !== undefined);
    if (mems.length)
      this.memPeak = Math.max(
        this.memPeak ?? 0,
        mems.reduce((a, b) => a + b, 0),
      );
  }

  result(): GpuUsage {
    const out: GpuUsage = {};
    if (this.utilSamples) {
      out.gpuUtilizationMeanPercent = Math.round((this.utilSum / this.utilSamples) * 10) / 10;
      out.gpuUtilizationPeakPercent = this.utilPeak!;
    }
    if (this.memPeak !== undefined) out.gpuMemoryPeakBytes = this.memPeak;
    return out;
  }
}

export interface GpuSamplerOptions {
  /** The nvidia-smi to run (default: `nvidia-smi` on the server's PATH). */
  binary?: string;
  /** Time between samples (default 5000 ms). */
  intervalMs?: number;
}

/** Samples the given GPUs from start until stop(); one nvidia-smi at a time, each bounded in time. */
export class GpuSampler {
  private readonly acc: GpuUsageAccumulator;
  private readonly binary: string;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(uuids: readonly string[], options: GpuSamplerOptions = {}) {
    this.acc = new GpuUsageAccumulator(uuids);
    this.binary = options.binary ?? 'nvidia-smi';
    this.intervalMs = options.intervalMs ?? 5000;
  }

  start(): this {
    this.sample();
    return this;
  }

  private sample(): void {
    if (this.stopped) return;
    // nvidia-smi is looked up on the server's PATH as it is now (env passed explicitly for that).
    const options = { timeout: Math.max(2000, this.intervalMs), env: process.env };
    execFile(this.binary, GPU_QUERY, options, (err, stdout) => {
      // ENOENT (no nvidia-smi), no driver, a timeout: this sample is skipped, the task never hears of it.
      if (!err && !this.stopped) this.acc.add(parseGpuQuery(String(stdout)));
      if (this.stopped) return;
      this.timer = setTimeout(() => this.sample(), this.intervalMs);
      // A sampler never keeps the server alive.
      this.timer.unref();
    });
  }

  /** Stops sampling; what was seen so far (empty when nothing was). */
  stop(): GpuUsage {
    this.stopped = true;
    clearTimeout(this.timer);
    return this.acc.result();
  }
}
