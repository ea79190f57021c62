/** `cellpipe pipelines save|list|versions|show|diff|export|import|run`: saved pipelines and their versions. */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  formatDiagnostic,
  hasErrors,
  sortDiagnostics,
  type PipelineDiff,
  type SavePipelineResult,
} from '@cellpipe/schema';
import { loadPipelineFile } from '@cellpipe/schema/node';
import { parseParams, withTarget, announce } from './commands.js';
import { CliError } from './errors.js';
import { parseNotify } from './notify-rules.js';
import { err, formatResult, out, table } from './output.js';
import type { TargetFlags } from './target.js';

export interface JsonFlag {
  json?: boolean;
}

/** "3", "latest" → a version reference; anything else is invalid input naming the argument. */
export function versionArg(value: string | undefined, what = 'version'): number | 'latest' {
  if (value === undefined || value === 'latest') return 'latest';
  if (/^[1-9]\d*$/.test(value)) return Number(value);
  throw new CliError(`${what} must be a version number (1, 2, ...) or "latest", not "${value}"`, 2);
}

function printSaved(r: SavePipelineResult): void {
  const v = r.version;
  out(
    r.created
      ? `saved ${v.name} version ${v.version} (${v.hash.slice(0, 12)})`
      : `${v.name} version ${v.version} has identical content (${v.hash.slice(0, 12)}): no new version`,
  );
  if (r.schedule) out(`schedule ${r.schedule.name} (${r.schedule.id}) ${r.schedule.action} from spec.schedule`);
}

export async function pipelinesSaveCommand(
  file: string,
  flags: TargetFlags & JsonFlag & { name?: string; message?: string },
): Promise<number> {
  const loaded = await loadPipelineFile(file);
  const diagnostics = sortDiagnostics([...loaded.diagnostics]);
  for (const d of diagnostics) err(formatDiagnostic(d));
  if (hasErrors(diagnostics) || !loaded.pipeline) return 2;
  return withTarget(flags, {}, async (target) => {
    const result = await target.client.savePipeline({
      pipeline: loaded.pipeline!,
      files: loaded.files,
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.message ? { message: flags.message } : {}),
    });
    if (flags.json) out(JSON.stringify(result, null, 2));
    else printSaved(result);
    return 0;
  });
}

export async function pipelinesListCommand(flags: TargetFlags & JsonFlag & { user?: string }): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.listPipelines(flags.user);
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['NAME', 'OWNER', 'VERSIONS', 'LATEST', 'SAVED', 'MESSAGE']];
    for (const p of list.items) {
      rows.push([p.name, p.owner, String(p.versions), `v${p.latest.version}`, p.latest.createdAt, p.latest.message]);
    }
    for (const line of table(rows)) out(line);
    return 0;
  });
}

export async function pipelinesVersionsCommand(name: string, flags: TargetFlags & JsonFlag): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.pipelineVersions(name);
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['VERSION', 'HASH', 'AUTHOR', 'SAVED', 'TASKS', 'MESSAGE']];
    for (const v of list.items) {
      rows.push([String(v.version), v.hash.slice(0, 12), v.author, v.createdAt, v.tasks.join(','), v.message]);
    }
    for (const line of table(rows)) out(line);
    return 0;
  });
}

export async function pipelinesShowCommand(
  name: string,
  version: string | undefined,
  flags: TargetFlags & JsonFlag,
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const v = await target.client.pipelineVersion(name, versionArg(version));
    if (flags.json) {
      out(JSON.stringify(v, null, 2));
      return 0;
    }
    out(`${v.name} version ${v.version} by ${v.author} at ${v.createdAt}${v.message ? `: ${v.message}` : ''}`);
    out(`hash ${v.hash}`);
    out(`tasks: ${v.tasks.join(', ')}`);
    out(`files: ${Object.keys(v.bundle.files).join(', ') || '(none)'}`);
    return 0;
  });
}

export const show = (value: unknown): string => (value === undefined ? '(none)' : JSON.stringify(value));

/** What changed between two versions, one line each (tasks, their fields, pipeline fields, files). */
export function diffLines(d: PipelineDiff): string[] {
  const lines: string[] = [];
  for (const t of d.tasks.added) lines.push(`+ task ${t}`);
  for (const t of d.tasks.removed) lines.push(`- task ${t}`);
  for (const c of d.tasks.changed) {
    lines.push(`~ task ${c.task}`);
    for (const f of c.fields) {
      lines.push(f.field === 'code' ? '    code changed' : `    ${f.field}: ${show(f.from)} → ${show(f.to)}`);
    }
  }
  for (const f of d.spec) lines.push(`~ ${f.field}: ${show(f.from)} → ${show(f.to)}`);
  for (const f of d.files.added) lines.push(`+ file ${f}`);
  for (const f of d.files.removed) lines.push(`- file ${f}`);
  for (const f of d.files.changed) lines.push(`~ file ${f}`);
  return lines;
}

function printDiff(d: PipelineDiff): void {
  out(`${d.name}: version ${d.from} → ${d.to}${d.identical ? ': identical' : ''}`);
  for (const line of diffLines(d)) out(line);
}

export async function pipelinesDiffCommand(
  name: string,
  from: string,
  to: string | undefined,
  flags: TargetFlags & JsonFlag,
): Promise<number> {
  const a = versionArg(from, 'from');
  const b = versionArg(to, 'to');
  return withTarget(flags, {}, async (target) => {
    const diff = await target.client.diffPipeline(name, a, b);
    if (flags.json) out(JSON.stringify(diff, null, 2));
    else printDiff(diff);
    return 0;
  });
}

export async function pipelinesExportCommand(
  name: string,
  version: string | undefined,
  flags: TargetFlags & { output?: string },
): Promise<number> {
  const v = versionArg(version);
  return withTarget(flags, {}, async (target) => {
    const text = await target.client.exportPipeline(name, v);
    if (flags.output) {
      writeFileSync(flags.output, text);
      err(`wrote ${flags.output}`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  });
}

export async function pipelinesImportCommand(
  file: string,
  flags: TargetFlags & JsonFlag & { name?: string; message?: string },
): Promise<number> {
  let yaml: string;
  try {
    yaml = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
  }
  return withTarget(flags, {}, async (target) => {
    const result = await target.client.importPipeline({
      yaml,
      ...(flags.name ? { name: flags.name } : {}),
      ...(flags.message ? { message: flags.message } : {}),
    });
    if (flags.json) out(JSON.stringify(result, null, 2));
    else printSaved(result);
    return 0;
  });
}

export async function pipelinesRunCommand(
  name: string,
  version: string | undefined,
  flags: TargetFlags & { param?: string[]; notify?: string[]; detach?: boolean },
): Promise<number> {
  const v = versionArg(version);
  const parameters = parseParams(flags.param ?? []);
  const notify = parseNotify(flags.notify ?? []);
  return withTarget(flags, { detach: flags.detach }, async (target) => {
    const job = await target.client.runVersion(name, v, {
      ...(Object.keys(parameters).length ? { parameters } : {}),
      ...(notify.length ? { notify } : {}),
    });
    return announce(target, job, flags.detach);
  });
}

export async function pipelinesResultsCommand(
  name: string,
  flags: TargetFlags & JsonFlag & { limit?: number; user?: string; pipelineVersion?: string },
): Promise<number> {
  const version = flags.pipelineVersion === undefined ? undefined : versionArg(flags.pipelineVersion);
  if (version === 'latest') throw new CliError('--pipeline-version must be a version number', 2);
  return withTarget(flags, {}, async (target) => {
    const results = await target.client.pipelineResults(name, {
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      ...(flags.user ? { user: flags.user } : {}),
      ...(version !== undefined ? { version } : {}),
    });
    if (flags.json) {
      out(JSON.stringify(results, null, 2));
      return 0;
    }
    if (!results.runs.length) {
      out(`no runs of ${name}`);
      return 0;
    }
    const rows = [['JOB', 'VERSION', 'STATE', 'CREATED', ...results.columns.map((c) => `${c.task}.${c.name}`)]];
    for (const run of results.runs) {
      rows.push([
        run.jobId,
        run.version !== undefined ? `v${run.version}` : 'unsaved',
        run.state,
        run.createdAt,
        ...results.columns.map((c) => {
          const value = run.results[c.task]?.[c.name];
          return value === undefined ? '' : formatResult(value);
        }),
      ]);
    }
    for (const line of table(rows)) out(line);
    if (results.total > results.runs.length) out(`(${results.runs.length} of ${results.total} runs; --limit for more)`);
    return 0;
  });
}
