/** `cellpipe schedule create|list|show|update|pause|resume|delete|history|preview`. */
import type { ScheduleDetail, ScheduleRun, UpdateScheduleRequest } from '@cellpipe/schema';
import { parseParams, withTarget } from './commands.js';
import { CliError } from './errors.js';
import { parseNotify } from './notify-rules.js';
import { out, table } from './output.js';
import { versionArg, type JsonFlag } from './pipelines.js';
import type { TargetFlags } from './target.js';

/** Options shared by create and update (commander's camel-cased names). */
export interface ScheduleFlags extends TargetFlags, JsonFlag {
  pipeline?: string;
  pipelineVersion?: string;
  cron?: string;
  every?: string;
  tz?: string;
  param?: string[];
  start?: string;
  end?: string;
  maxRuns?: number;
  pauseAfterFailures?: number;
  concurrency?: 'allow' | 'forbid' | 'replace';
  catchup?: 'skip' | 'latest' | 'all';
  maxCatchup?: number;
  keepSucceeded?: number;
  keepFailed?: number;
  paused?: boolean;
  name?: string;
  notify?: string[];
}

/** `none` clears an optional setting on update. */
const clearable = (value: string | undefined): string | null | undefined => (value === 'none' ? null : value);

function fields(flags: ScheduleFlags): UpdateScheduleRequest {
  const f: UpdateScheduleRequest = {};
  if (flags.pipeline !== undefined) f.pipeline = flags.pipeline;
  if (flags.pipelineVersion !== undefined) f.version = versionArg(flags.pipelineVersion, '--pipeline-version');
  if (flags.cron !== undefined) f.cron = flags.cron;
  if (flags.every !== undefined) f.every = flags.every;
  if (flags.tz !== undefined) f.timezone = flags.tz;
  if (flags.param?.length) f.parameters = parseParams(flags.param);
  if (flags.start !== undefined) f.startAt = clearable(flags.start);
  if (flags.end !== undefined) f.endAt = clearable(flags.end);
  if (flags.maxRuns !== undefined) f.maxRuns = flags.maxRuns;
  if (flags.pauseAfterFailures !== undefined) f.pauseAfterFailures = flags.pauseAfterFailures;
  if (flags.concurrency !== undefined) f.concurrency = flags.concurrency;
  if (flags.catchup !== undefined) f.catchup = flags.catchup;
  if (flags.maxCatchup !== undefined) f.maxCatchup = flags.maxCatchup;
  if (flags.keepSucceeded !== undefined) f.keepSucceeded = flags.keepSucceeded;
  if (flags.keepFailed !== undefined) f.keepFailed = flags.keepFailed;
  if (flags.notify?.length) f.notify = flags.notify.includes('none') ? null : parseNotify(flags.notify);
  return f;
}

/** An instant as the schedule's zone reads it, and in UTC: "2026-03-29 03:00 CEST (01:00 UTC)". */
export function zoned(iso: string, timezone: string): string {
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
  return timezone === 'UTC' ? local : `${local} (${iso.slice(11, 19)} UTC)`;
}

function trigger(s: ScheduleDetail): string {
  return s.cron !== undefined ? `cron "${s.cron}" in ${s.timezone}` : `every ${s.every}`;
}

function printSchedule(s: ScheduleDetail): void {
  out(`schedule ${s.name} (${s.id}) ${s.state}${s.stateReason ? `: ${s.stateReason}` : ''}`);
  out(`  runs ${s.pipeline} ${s.version === 'latest' ? '(latest version)' : `version ${s.version}`}, ${trigger(s)}`);
  const limits = [
    s.startAt && `from ${s.startAt}`,
    s.endAt && `until ${s.endAt}`,
    s.maxRuns !== undefined && `at most ${s.maxRuns} runs (${s.runs} so far)`,
    s.pauseAfterFailures !== undefined && `pause after ${s.pauseAfterFailures} failures in a row`,
  ].filter(Boolean);
  if (limits.length) out(`  ${limits.join(', ')}`);
  out(
    `  concurrency ${s.concurrency}, catch-up ${s.catchup}${s.catchup === 'all' ? ` (max ${s.maxCatchup})` : ''}, keeps ${s.keepSucceeded} succeeded and ${s.keepFailed} failed runs`,
  );
  if (Object.keys(s.parameters).length) out(`  parameters ${JSON.stringify(s.parameters)}`);
  if (s.nextFires.length) {
    out('  next fires:');
    for (const f of s.nextFires) out(`    ${zoned(f, s.timezone)}`);
  } else {
    out('  next fires: none');
  }
  if (s.lastRun) out(`  last: ${runLine(s.lastRun)}`);
}

function runLine(r: ScheduleRun): string {
  const slots = r.count > 1 ? `${r.count} slots ${r.slot} .. ${r.lastSlot}` : r.slot;
  const what = r.jobId
    ? `job ${r.jobId}${r.pruned ? ' (deleted by retention)' : ''} ${r.outcome}`
    : `${r.outcome} (${r.reason})`;
  return `${slots}: ${what}${r.message ? `: ${r.message}` : ''}`;
}

export async function scheduleCreateCommand(name: string, flags: ScheduleFlags): Promise<number> {
  if (!flags.pipeline) throw new CliError('--pipeline is required: the saved pipeline the schedule runs', 2);
  return withTarget(flags, {}, async (target) => {
    const s = await target.client.createSchedule({
      name,
      pipeline: flags.pipeline!,
      ...fields(flags),
      ...(flags.paused ? { paused: true } : {}),
    } as Parameters<typeof target.client.createSchedule>[0]);
    if (flags.json) out(JSON.stringify(s, null, 2));
    else printSchedule(s);
    return 0;
  });
}

export async function scheduleUpdateCommand(ref: string, flags: ScheduleFlags): Promise<number> {
  const patch = fields(flags);
  if (flags.name !== undefined) patch.name = flags.name;
  if (!Object.keys(patch).length) throw new CliError('nothing to change: give at least one option', 2);
  return withTarget(flags, {}, async (target) => {
    const s = await target.client.updateSchedule(ref, patch);
    if (flags.json) out(JSON.stringify(s, null, 2));
    else printSchedule(s);
    return 0;
  });
}

export async function scheduleListCommand(flags: TargetFlags & JsonFlag & { user?: string }): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.listSchedules(flags.user);
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['NAME', 'ID', 'STATE', 'PIPELINE', 'TRIGGER', 'NEXT FIRE', 'LAST']];
    for (const s of list.items) {
      rows.push([
        s.name,
        s.id,
        s.state,
        `${s.pipeline}@${s.version}`,
        s.cron !== undefined ? `${s.cron} ${s.timezone}` : `every ${s.every}`,
        s.nextFires[0] ? zoned(s.nextFires[0], s.timezone) : '-',
        s.lastRun ? (s.lastRun.jobId ? `${s.lastRun.outcome} ${s.lastRun.jobId}` : `${s.lastRun.reason}`) : '-',
      ]);
    }
    for (const line of table(rows)) out(line);
    return 0;
  });
}

export async function scheduleShowCommand(ref: string, flags: TargetFlags & JsonFlag): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const s = await target.client.getSchedule(ref);
    if (flags.json) out(JSON.stringify(s, null, 2));
    else printSchedule(s);
    return 0;
  });
}

export async function schedulePauseCommand(ref: string, flags: TargetFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const s = await target.client.pauseSchedule(ref);
    out(`schedule ${s.name} ${s.state}`);
    return 0;
  });
}

export async function scheduleResumeCommand(
  ref: string,
  flags: TargetFlags & { catchUp?: 'latest' | 'all' },
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const s = await target.client.resumeSchedule(ref, flags.catchUp);
    out(`schedule ${s.name} ${s.state}${s.nextFires[0] ? `, next fire ${zoned(s.nextFires[0], s.timezone)}` : ''}`);
    return 0;
  });
}

export async function scheduleDeleteCommand(ref: string, flags: TargetFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    await target.client.deleteSchedule(ref);
    out(`schedule ${ref} deleted (its jobs are kept)`);
    return 0;
  });
}

export async function scheduleHistoryCommand(
  ref: string,
  flags: TargetFlags & JsonFlag & { limit?: number },
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const page = await target.client.scheduleHistory(ref, { limit: flags.limit });
    if (flags.json) {
      out(JSON.stringify(page, null, 2));
      return 0;
    }
    const rows = [['SLOT', 'FIRED', 'JOB', 'OUTCOME', 'DETAILS']];
    for (const r of page.items) {
      const slot = r.count > 1 ? `${r.slot} (+${r.count - 1} to ${r.lastSlot})` : r.slot;
      const job = r.jobId ? `${r.jobId}${r.pruned ? ' (deleted)' : ''}` : '-';
      const details = [r.reason, r.message].filter(Boolean).join(': ');
      rows.push([slot, r.firedAt ?? '-', job, r.outcome, details]);
    }
    for (const line of table(rows)) out(line);
    return 0;
  });
}

export async function schedulePreviewCommand(
  flags: TargetFlags & JsonFlag & { cron?: string; every?: string; tz?: string; count?: number },
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const preview = await target.client.previewSchedule({
      ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
      ...(flags.every !== undefined ? { every: flags.every } : {}),
      ...(flags.tz !== undefined ? { timezone: flags.tz } : {}),
      ...(flags.count !== undefined ? { count: flags.count } : {}),
    });
    if (flags.json) out(JSON.stringify(preview, null, 2));
    else for (const f of preview.fires) out(zoned(f, preview.timezone));
    return 0;
  });
}
