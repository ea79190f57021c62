/**
 * What tells runs of one pipeline apart in a job list: for each pipeline name with more than one
 * listed run, the parameters whose values are not the same in all of them. Pure.
 */
import type { JobSummary } from '@cellpipe/schema';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Per job id, "name=value" for each parameter that differs among the listed runs of its pipeline. */
export function differingParameters(jobs: readonly JobSummary[]): Map<string, string[]> {
  const byName = new Map<string, JobSummary[]>();
  for (const j of jobs) byName.set(j.name, [...(byName.get(j.name) ?? []), j]);
  const out = new Map<string, string[]>();
  for (const runs of byName.values()) {
    if (runs.length < 2) continue;
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.parameters ?? {})))].sort();
    const differing = keys.filter((k) => new Set(runs.map((r) => text(r.parameters?.[k]))).size > 1);
    if (!differing.length) continue;
    for (const r of runs) {
      out.set(
        r.id,
        differing.filter((k) => r.parameters && k in r.parameters).map((k) => `${k}=${text(r.parameters?.[k])}`),
      );
    }
  }
  return out;
}
