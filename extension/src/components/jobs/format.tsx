/** Small formatting helpers shared by the Jobs tab's components. */
import * as React from 'react';
import type { TaskError, TaskRun } from '@cellpipe/schema';
import type { TranslationBundle } from '@jupyterlab/translation';

export const MONITOR_CLASS = 'jp-cellpipe-Monitor';

export function dateTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Task rows show the clock time only; the job's date is in its facts. */
export function clock(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

/** Python tracebacks carry terminal colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

export function resourcesText(t: Pick<TaskRun, 'resources'>, trans: TranslationBundle): string {
  const r = t.resources;
  const parts: string[] = [];
  if (r.mig) parts.push(trans.__('MIG %1', r.mig));
  if (r.gpu) parts.push(trans._n('%1 GPU', '%1 GPUs', r.gpu));
  if (r.cpu) parts.push(trans.__('%1 CPU', r.cpu));
  if (r.memory) parts.push(r.memory);
  return parts.join(', ');
}

/**
 * A task error in one line: the exception class when the message does not already start with it,
 * then the message. The machine reason is left out when the message already says it
 * ("the job was cancelled", not "the job was cancelled (cancelled)").
 */
export function errorText(err: TaskError): string {
  const kind = err.ename && !err.message.startsWith(err.ename) ? `${err.ename}: ` : '';
  const reason =
    err.reason && !['error', 'exit', 'upstream'].includes(err.reason) && !err.message.toLowerCase().includes(err.reason)
      ? ` (${err.reason})`
      : '';
  return `${kind}${err.message}${reason}`;
}

/** A waiting reason as a sentence on its own ("Waiting for a free nvidia.com/gpu (0 of 2 free)"). */
export function waitingText(reason: string, trans: TranslationBundle): string {
  const text = reason.trim();
  if (/^waiting\b/i.test(text)) return text.charAt(0).toUpperCase() + text.slice(1);
  return trans.__('Waiting: %1', text);
}

/** "1.2 GiB", "340 MiB", "12 KiB" */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/** CPU seconds as the task table shows them: a tenth of a second below 10 s, whole seconds above. */
function cpuSecondsText(seconds: number): string {
  return seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds));
}

/**
 * What a task's attempt used, as its executor measured it (or, on Kubernetes, its runner inside the
 * container), short enough for one line of the task table: "1.2 GiB · 3.4 s · GPU 87%, 14 GiB"
 * (peak memory · CPU time · mean GPU utilisation, peak GPU memory). `usageTitle` spells it out.
 */
export function usageText(t: Pick<TaskRun, 'usage'>, trans: TranslationBundle): string {
  const u = t.usage;
  if (!u) return '';
  const parts: string[] = [];
  if (u.peakMemoryBytes !== undefined) parts.push(formatBytes(u.peakMemoryBytes));
  if (u.cpuSeconds !== undefined) parts.push(trans.__('%1 s', cpuSecondsText(u.cpuSeconds)));
  const gpu: string[] = [];
  const utilisation = u.gpuUtilizationMeanPercent ?? u.gpuUtilizationPeakPercent;
  if (utilisation !== undefined) gpu.push(`${Math.round(utilisation)}%`);
  if (u.gpuMemoryPeakBytes !== undefined) gpu.push(formatBytes(u.gpuMemoryPeakBytes));
  if (gpu.length) parts.push(trans.__('GPU %1', gpu.join(', ')));
  return parts.join(' · ');
}

/** usageText in words, for its tooltip: "peak memory 1.2 GiB · CPU time 3.4 s · GPU 87% mean, 99% peak · ...". */
export function usageTitle(t: Pick<TaskRun, 'usage'>, trans: TranslationBundle): string {
  const u = t.usage;
  if (!u) return '';
  const parts: string[] = [];
  if (u.peakMemoryBytes !== undefined) parts.push(trans.__('peak memory %1', formatBytes(u.peakMemoryBytes)));
  if (u.cpuSeconds !== undefined) parts.push(trans.__('CPU time %1 s', cpuSecondsText(u.cpuSeconds)));
  const utilisation: string[] = [];
  if (u.gpuUtilizationMeanPercent !== undefined)
    utilisation.push(trans.__('%1% mean', Math.round(u.gpuUtilizationMeanPercent)));
  if (u.gpuUtilizationPeakPercent !== undefined)
    utilisation.push(trans.__('%1% peak', Math.round(u.gpuUtilizationPeakPercent)));
  if (utilisation.length) parts.push(trans.__('GPU utilisation %1', utilisation.join(', ')));
  if (u.gpuMemoryPeakBytes !== undefined) parts.push(trans.__('peak GPU memory %1', formatBytes(u.gpuMemoryPeakBytes)));
  return parts.join(' · ');
}

/** True once a task actually started an attempt (only then can it have logs and an executed notebook). */
export function taskRan(t: Pick<TaskRun, 'startedAt' | 'reused'>): boolean {
  return t.startedAt !== undefined;
}

/** A job or task state as shown to people (the attribute `data-state` keeps the API's word). */
export function stateLabel(state: string, trans: TranslationBundle): string {
  switch (state) {
    case 'pending':
      return trans.__('pending');
    case 'queued':
      return trans.__('queued');
    case 'running':
      return trans.__('running');
    case 'succeeded':
      return trans.__('succeeded');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    case 'skipped':
      return trans.__('skipped');
    default:
      return state;
  }
}

/** The state pill used in the list, the detail and the task table. */
export function StatePill(props: { state: string; trans: TranslationBundle }): React.ReactElement {
  return <span className={`${MONITOR_CLASS}-state jp-mod-${props.state}`}>{stateLabel(props.state, props.trans)}</span>;
}
