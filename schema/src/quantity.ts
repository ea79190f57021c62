/**
 * The values of the resource quantities the spec accepts (CpuQuantitySchema, MemoryQuantitySchema), for
 * executors that enforce them themselves (the local executor's cgroups).
 */

const MEMORY_SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a memory quantity ("512Mi" → 536870912, "1.5G" → 1500000000); undefined when it is not one. */
export function memoryBytes(quantity: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(quantity);
  if (!m) return undefined;
  return Math.ceil(Number(m[1]) * MEMORY_SUFFIX[m[2] ?? '']!);
}

/** Millicores of a CPU quantity ("2" → 2000, "0.5" → 500, "250m" → 250); undefined when it is not one. */
export function cpuMillicores(quantity: string): number | undefined {
  const milli = /^(\d+)m$/.exec(quantity);
  if (milli) return Number(milli[1]);
  if (!/^\d+(\.\d{1,3})?$/.test(quantity)) return undefined;
  return Math.round(Number(quantity) * 1000);
}
