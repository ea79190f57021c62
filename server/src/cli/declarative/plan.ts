/**
 * The plan: what `cellpipe apply` would change on the server to make it hold what the directory
 * declares. Pipelines are compared by the server itself (a dry-run save: its compiler, its hash, its
 * diff against the latest version); schedules field by field, defaults filled in on both sides; labels
 * as they are. Objects the directory no longer declares are deleted only with `--prune`, and only
 * those carrying this directory's ownership labels.
 */
import { matchesLabels, ScheduleSpecSchema, type PipelineSummary, type ScheduleDetail } from '@cellpipe/schema';
import type { CellpipeClient } from '../../client/api-client.js';
import { canonicalJson } from '../../pipelines/bundle.js';
import { diffLines, show } from '../pipelines.js';
import type { Declared, DeclaredPipeline, DeclaredSchedule } from './manifests.js';

export type PlanAction = 'create' | 'update' | 'delete';

export interface PlanItem {
  action: PlanAction;
  kind: 'pipeline' | 'schedule';
  name: string;
  /** The change, readable: one line each. */
  details: string[];
  /** Makes the change; answers what it did. */
  run(client: CellpipeClient): Promise<string>;
}

export interface Plan {
  /** In the order they are applied: pipelines, schedules, then deletions (schedules first). */
  items: PlanItem[];
  /** Objects this directory manages that it no longer declares, kept because --prune was not given. */
  kept: { kind: 'pipeline' | 'schedule'; name: string }[];
  /** Declared objects that already match. */
  unchanged: { kind: 'pipeline' | 'schedule'; name: string }[];
}

export interface PlanOptions {
  /** The labels that mark an object as this directory's (source, or --selector). */
  ownership: Record<string, string>;
  prune: boolean;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

function labelLines(from: Record<string, string> = {}, to: Record<string, string> = {}): string[] {
  const lines: string[] = [];
  for (const k of [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()) {
    if (from[k] === to[k]) continue;
    if (from[k] === undefined) lines.push(`+ label ${k}=${to[k]}`);
    else if (to[k] === undefined) lines.push(`- label ${k}=${from[k]}`);
    else lines.push(`~ label ${k}: ${from[k]} → ${to[k]}`);
  }
  return lines;
}

async function planPipeline(
  client: CellpipeClient,
  d: DeclaredPipeline,
  current: PipelineSummary | undefined,
  ownership: Record<string, string>,
): Promise<PlanItem | undefined> {
  const labels = { ...d.labels, ...ownership };
  const request = { pipeline: d.pipeline, files: d.files, name: d.name, labels };
  const dry = await client.savePipeline({ ...request, dryRun: true });
  const run = async (c: CellpipeClient): Promise<string> => {
    const saved = await c.savePipeline({ ...request, message: `cellpipe apply: ${d.file}` });
    return saved.created
      ? `saved pipeline ${d.name} version ${saved.version.version}`
      : `labelled pipeline ${d.name} (version ${saved.version.version} unchanged)`;
  };
  if (!current) {
    const tasks = d.pipeline.spec.tasks.map((t) => t.name);
    return {
      action: 'create',
      kind: 'pipeline',
      name: d.name,
      details: [`${tasks.length} task${tasks.length > 1 ? 's' : ''}: ${tasks.join(', ')}`, ...labelLines({}, labels)],
      run,
    };
  }
  const details: string[] = [];
  if (dry.created) {
    details.push(`version ${current.latest.version} → ${dry.version.version}`);
    if (dry.diff) details.push(...diffLines(dry.diff));
  }
  details.push(...labelLines(current.labels, labels));
  return details.length ? { action: 'update', kind: 'pipeline', name: d.name, details, run } : undefined;
}

/** The spec fields of a schedule that a manifest sets (all but its name). */
const SCHEDULE_FIELDS = Object.keys(ScheduleSpecSchema.shape).filter((k) => k !== 'name');

function planSchedule(
  d: DeclaredSchedule,
  current: ScheduleDetail | undefined,
  ownership: Record<string, string>,
): PlanItem | undefined {
  const labels = { ...d.labels, ...ownership };
  const desired: Record<string, unknown> = { ...d.spec, labels };
  if (!current) {
    const trigger = d.spec.cron !== undefined ? `cron "${d.spec.cron}" in ${d.spec.timezone}` : `every ${d.spec.every}`;
    return {
      action: 'create',
      kind: 'schedule',
      name: d.name,
      details: [
        `runs ${d.spec.pipeline} (${d.spec.version}), ${trigger}${d.paused ? ', paused' : ''}`,
        ...labelLines({}, labels),
      ],
      run: async (c) => {
        const s = await c.createSchedule({ ...d.spec, name: d.name, labels, paused: d.paused });
        return `created schedule ${s.name} (${s.id})`;
      },
    };
  }
  const have = current as unknown as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  const details: string[] = [];
  for (const field of SCHEDULE_FIELDS) {
    if (same(have[field], desired[field])) continue;
    if (field === 'labels') details.push(...labelLines(current.labels, labels));
    else details.push(`${field}: ${show(have[field])} → ${show(desired[field])}`);
    // A field the manifest leaves out is cleared.
    patch[field] = desired[field] ?? null;
  }
  const pause =
    d.paused && current.state === 'active' ? 'pause' : !d.paused && current.state === 'paused' ? 'resume' : undefined;
  if (pause) details.push(`state: ${current.state} → ${d.paused ? 'paused' : 'active'}`);
  if (!details.length) return undefined;
  return {
    action: 'update',
    kind: 'schedule',
    name: d.name,
    details,
    run: async (c) => {
      if (Object.keys(patch).length) await c.updateSchedule(current.id, patch);
      if (pause === 'pause') await c.pauseSchedule(current.id);
      if (pause === 'resume') await c.resumeSchedule(current.id);
      return `updated schedule ${d.name}`;
    },
  };
}

export async function makePlan(client: CellpipeClient, declared: Declared, options: PlanOptions): Promise<Plan> {
  const me = await client.me();
  const pipelines = new Map((await client.listPipelines(me.user)).items.map((p) => [p.name, p]));
  const schedules = new Map((await client.listSchedules(me.user)).items.map((s) => [s.name, s]));
  const plan: Plan = { items: [], kept: [], unchanged: [] };
  for (const d of declared.pipelines) {
    const item = await planPipeline(client, d, pipelines.get(d.name), options.ownership);
    if (item) plan.items.push(item);
    else plan.unchanged.push({ kind: 'pipeline', name: d.name });
  }
  for (const d of declared.schedules) {
    const item = planSchedule(d, schedules.get(d.name), options.ownership);
    if (item) plan.items.push(item);
    else plan.unchanged.push({ kind: 'schedule', name: d.name });
  }
  const declaredSchedules = new Set(declared.schedules.map((s) => s.name));
  const declaredPipelines = new Set(declared.pipelines.map((p) => p.name));
  const gone = <T extends { name: string; labels?: Record<string, string> }>(items: Iterable<T>, kept: Set<string>) =>
    [...items].filter((o) => !kept.has(o.name) && matchesLabels(o.labels, options.ownership));
  for (const s of gone(schedules.values(), declaredSchedules)) {
    if (!options.prune) plan.kept.push({ kind: 'schedule', name: s.name });
    else
      plan.items.push({
        action: 'delete',
        kind: 'schedule',
        name: s.name,
        details: [`no longer declared (runs ${s.pipeline})`],
        run: async (c) => {
          await c.deleteSchedule(s.id);
          return `deleted schedule ${s.name}`;
        },
      });
  }
  for (const p of gone(pipelines.values(), declaredPipelines)) {
    if (!options.prune) plan.kept.push({ kind: 'pipeline', name: p.name });
    else
      plan.items.push({
        action: 'delete',
        kind: 'pipeline',
        name: p.name,
        details: [`no longer declared (${p.versions} version${p.versions > 1 ? 's' : ''})`],
        run: async (c) => {
          await c.deletePipeline(p.name);
          return `deleted pipeline ${p.name} and its versions`;
        },
      });
  }
  return plan;
}
