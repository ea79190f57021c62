/** The `cellpipe` commands; cli.ts wires them to the command line. Each returns its exit code. */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { dirname, resolve } from 'node:path';
import {
  TERMINAL_JOB_STATES,
  TERMINAL_TASK_STATES,
  formatDiagnostic,
  hasErrors,
  setOwn,
  sortDiagnostics,
  type Job,
  type JobState,
} from '@cellpipe/schema';
import { loadPipelineFile } from '@cellpipe/schema/node';
import { loadConfig } from '../config.js';
import { loadOptions, type CompileFlags } from './compile.js';
import { startServer } from '../main.js';
import { followJob } from './follow.js';
import { duration, err, formatResult, jobDurationMs, out, table, taskError } from './output.js';
import { parseNotify } from './notify-rules.js';
import { printable } from './printable.js';
import { PlainProgress, TtyProgress, type ProgressSink } from './progress.js';
import type { AuditParams } from '../client/api-client.js';
import { pidAlive, readServerFile } from '../client/server-file.js';
import { CliError, homeOf, resolveTarget, type Target, type TargetFlags } from './target.js';

// ---------------------------------------------------------------- serve

export interface ServeFlags {
  config?: string;
  home?: string;
  host?: string;
  port?: number;
  executor?: string;
  python?: string;
  gpus?: string;
  maxParallelPerUser?: number;
  bodyLimit?: string;
  kubeconfig?: string;
  context?: string;
}

export async function serveCommand(flags: ServeFlags): Promise<number> {
  const { config: configFile, kubeconfig, context, ...rest } = flags;
  const kubernetes = Object.fromEntries(Object.entries({ kubeconfig, context }).filter(([, v]) => v !== undefined));
  const config = loadConfig({
    flags: { ...rest, ...(Object.keys(kubernetes).length ? { kubernetes } : {}) },
    configFile,
  });
  const server = await startServer(config);
  out(`cellpipe listening on ${server.url}`);
  err(
    `home ${server.home}${server.token ? ` (token in ${server.home}/token)` : ''}; executor ${server.service.executorName}`,
  );
  return await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      err(`cellpipe: ${signal}, stopping`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close().then(
        () => resolve(0),
        (e: unknown) => {
          err(`cellpipe: error while stopping: ${String(e)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

// ---------------------------------------------------------------- run / rerun

export interface RunFlags extends TargetFlags, CompileFlags {
  param?: string[];
  notify?: string[];
  detach?: boolean;
  name?: string;
}

/** `k=v`: the value as JSON when it parses as JSON, else the raw string. */
export function parseParams(items: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new CliError(`--param must look like name=value, not "${item}"`, 2);
    const name = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    setOwn(params, name, value);
  }
  return params;
}

function progressSink(jobId: string): ProgressSink {
  return process.stdout.isTTY ? new TtyProgress(process.stdout, jobId) : new PlainProgress(out);
}

async function printWhereToLook(target: Target, job: Job): Promise<void> {
  const ran = job.tasks.filter((t) => t.attempt > 0 || t.reused);
  const failed = job.tasks.find((t) => t.state === 'failed');
  const example = failed ?? ran[0] ?? job.tasks[0];
  if (example) out(`logs: cellpipe logs ${job.id} ${example.name}`);
  if (target.layout) {
    const layout = target.layout;
    const notebooks = ran
      .map((t) => ({ t, path: layout.notebookPath(job.id, t.name, Math.max(1, t.attempt)) }))
      .filter(({ path }) => existsSync(path));
    if (notebooks.length) {
      out('executed notebooks:');
      for (const { t, path } of notebooks) out(`  ${t.name}: ${path}`);
    }
    out(`job files: ${layout.jobDir(job.id)}`);
  } else {
    // Only notebooks that exist: a task that never ran (unschedulable, skipped upstream) wrote none.
    const has = await Promise.all(ran.map((t) => target.client.hasTaskFile(job.id, t.name, 'notebook')));
    ran.forEach((t, i) => {
      if (has[i]) out(`notebook ${t.name}: ${target.client.url}/api/jobs/${job.id}/tasks/${t.name}/notebook`);
    });
  }
}

/** Follow a submitted job to its end and report; exit 0 when it succeeded, 1 otherwise (130 on Ctrl-C). */
async function watchJob(target: Target, job: Job): Promise<number> {
  const sink = progressSink(job.id);
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    if (target.kind === 'embedded') {
      // The embedded server ends with this process: stop the job rather than leave it half-run.
      err(`cancelling job ${job.id} (Ctrl-C again to quit at once)`);
      target.client.cancel(job.id).catch(() => abort.abort());
    } else {
      err(`stopped following; job ${job.id} keeps running (cellpipe status ${job.id})`);
      abort.abort();
    }
  };
  process.on('SIGINT', onSigint);
  let final: Job;
  try {
    final = await followJob(target, job.id, sink, abort.signal);
  } finally {
    process.off('SIGINT', onSigint);
    sink.finish();
  }
  out(`job ${final.id} ${final.state} in ${duration(jobDurationMs(final))}`);
  for (const t of final.tasks.filter((t) => t.state === 'failed')) {
    out(`  task ${t.name} failed: ${taskError(t) || 'no details'}`);
  }
  await printWhereToLook(target, final);
  if (interrupted) return 130;
  return final.state === 'succeeded' ? 0 : 1;
}

export async function withTarget<T>(
  flags: TargetFlags,
  options: { detach?: boolean },
  fn: (t: Target) => Promise<T>,
): Promise<T> {
  const target = await resolveTarget(flags, options);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

function printDetached(job: Job): void {
  out(`status: cellpipe status ${job.id}`);
  out(`logs: cellpipe logs ${job.id} <task> [--follow]`);
}

function printDaemon(target: Target): void {
  if (target.kind === 'daemon')
    out(`server: started in the background for ${target.home} (stop it with: cellpipe stop)`);
}

export async function runCommand(file: string, flags: RunFlags): Promise<number> {
  const parameters = parseParams(flags.param ?? []);
  const notify = parseNotify(flags.notify ?? []);
  const loaded = await loadPipelineFile(file, loadOptions(flags));
  const diagnostics = sortDiagnostics([...loaded.diagnostics]);
  for (const d of diagnostics) err(formatDiagnostic(d));
  if (hasErrors(diagnostics) || !loaded.pipeline) return 2;
  return withTarget(flags, { detach: flags.detach }, async (target) => {
    const job = await target.client.submit({
      pipeline: loaded.pipeline!,
      files: loaded.files,
      // A server on this machine runs the tasks in the notebook's folder, as Jupyter runs its cells.
      ...(target.kind === 'remote' ? {} : { workDir: dirname(resolve(file)) }),
      ...(Object.keys(parameters).length ? { parameters } : {}),
      ...(flags.name ? { name: flags.name } : {}),
      ...(notify.length ? { notify } : {}),
    });
    return announce(target, job, flags.detach);
  });
}

/** `job <id>` comes first, always; then either the detached hints or live progress to the end. */
export function announce(target: Target, job: Job, detach: boolean | undefined): Promise<number> | number {
  out(`job ${job.id}`);
  if (detach) {
    printDetached(job);
    printDaemon(target);
    return 0;
  }
  return watchJob(target, job);
}

export async function rerunCommand(
  id: string,
  flags: TargetFlags & { failed?: boolean; detach?: boolean },
): Promise<number> {
  return withTarget(flags, { detach: flags.detach }, async (target) => {
    const job = await target.client.rerun(id, flags.failed ? 'failed' : 'all');
    return announce(target, job, flags.detach);
  });
}

// ---------------------------------------------------------------- status / logs / cancel / jobs

export async function statusCommand(id: string, flags: TargetFlags & { json?: boolean }): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const job = await target.client.getJob(id);
    if (flags.json) {
      out(JSON.stringify(job, null, 2));
      return 0;
    }
    out(`job ${job.id} ${printable(job.name)} ${job.state}`);
    out(
      `owner ${printable(job.owner)}, executor ${job.executor}, created ${job.createdAt}` +
        (job.parentJobId ? `, re-run of ${job.parentJobId}` : '') +
        (job.submittedBy ? ` by ${printable(job.submittedBy)}` : '') +
        (job.finishedAt || job.startedAt ? `, ${duration(jobDurationMs(job))}` : ''),
    );
    if (job.error) out(`error: ${printable(job.error)}`);
    const rows = [['TASK', 'STATE', 'ATTEMPT', 'DURATION', 'DETAILS']];
    for (const t of job.tasks) {
      const details =
        t.state === 'queued' && t.waitingReason ? `waiting: ${t.waitingReason}` : t.reused ? 'reused' : taskError(t);
      rows.push([t.name, t.state, `${t.attempt}/${t.maxAttempts}`, duration(t.durationMs), details]);
    }
    for (const line of table(rows)) out(line);
    const results = Object.entries(job.results ?? {});
    if (results.length) {
      out('results:');
      for (const [task, values] of results) {
        out(
          `  ${task}: ${Object.entries(values)
            .map(([k, v]) => `${k}=${formatResult(v)}`)
            .join(', ')}`,
        );
      }
    }
    const warnings = job.warnings ?? [];
    if (warnings.length) {
      out(`${warnings.length} warning${warnings.length > 1 ? 's' : ''}:`);
      for (const w of warnings) out(`  ${w.task}${w.cell !== undefined ? ` (cell ${w.cell})` : ''}: ${w.message}`);
    }
    return 0;
  });
}

export async function logsCommand(
  id: string,
  task: string,
  flags: TargetFlags & { follow?: boolean; attempt?: number },
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    try {
      for await (const chunk of target.client.logs(id, task, {
        follow: flags.follow,
        attempt: flags.attempt,
        signal: abort.signal,
      })) {
        process.stdout.write(chunk);
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    return 0;
  });
}

/** How long `cancel` waits for the job's tasks to stop before it reports the job as still cancelling. */
const CANCEL_WAIT_MS = 60_000;

const quietSink: ProgressSink = { task: () => undefined, job: () => undefined, finish: () => undefined };

export async function cancelCommand(id: string, flags: TargetFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    let job = await target.client.cancel(id);
    // Running tasks stop asynchronously (a pod's deletion, a process's grace period): the job is
    // cancelled only once they have.
    if (!(TERMINAL_JOB_STATES as readonly string[]).includes(job.state)) {
      job = await followJob(target, id, quietSink, AbortSignal.timeout(CANCEL_WAIT_MS));
    }
    if ((TERMINAL_JOB_STATES as readonly string[]).includes(job.state)) out(`job ${job.id} ${job.state}`);
    else {
      const stopping = job.tasks.filter((t) => t.state === 'running').map((t) => t.name);
      out(`job ${job.id} cancelling (still stopping: ${stopping.join(', ') || 'none'})`);
    }
    return 0;
  });
}

/** How often `cancel --task` looks whether the task has stopped. */
const TASK_POLL_MS = 250;

/** Cancel one task; the rest of its job goes on under the job's failure policy. */
export async function cancelTaskCommand(id: string, task: string, flags: TargetFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    let job = await target.client.cancelTask(id, task);
    const stateOf = (j: Job): string => j.tasks.find((t) => t.name === task)?.state ?? 'unknown';
    // A running task stops asynchronously (a pod's deletion, a process's grace period).
    const deadline = Date.now() + CANCEL_WAIT_MS;
    while (!(TERMINAL_TASK_STATES as readonly string[]).includes(stateOf(job)) && Date.now() < deadline) {
      await delay(TASK_POLL_MS);
      job = await target.client.getJob(id);
    }
    const state = stateOf(job);
    out(
      `task ${task} of job ${job.id} ${(TERMINAL_TASK_STATES as readonly string[]).includes(state) ? state : 'cancelling'}`,
    );
    return 0;
  });
}

export async function jobsCommand(
  flags: TargetFlags & { json?: boolean; state?: string; limit?: number; user?: string },
): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.listJobs({
      state: flags.state as JobState | undefined,
      limit: flags.limit,
      user: flags.user,
    });
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['ID', 'STATE', 'NAME', 'OWNER', 'CREATED', 'TASKS']];
    for (const j of list.items) {
      const total = Object.values(j.taskCounts).reduce((a, b) => a + (b ?? 0), 0);
      rows.push([j.id, j.state, j.name, j.owner, j.createdAt, `${j.taskCounts.succeeded ?? 0}/${total} succeeded`]);
    }
    for (const line of table(rows)) out(line);
    if (list.nextCursor) err(`more jobs: --limit ${flags.limit ?? 50} shows ${list.items.length}`);
    return 0;
  });
}

// ---------------------------------------------------------------- audit

export type AuditFlags = TargetFlags & Omit<AuditParams, 'cursor'> & { json?: boolean };

/** The server's audit log (admins): who changed what, newest first. */
export async function auditCommand(flags: AuditFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.audit({
      user: flags.user,
      action: flags.action,
      result: flags.result,
      since: flags.since,
      until: flags.until,
      limit: flags.limit,
    });
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['AT', 'USER', 'ACTION', 'TARGET', 'RESULT']];
    for (const e of list.items) {
      const result = `${e.result} ${e.status}${e.message ? `: ${e.message}` : ''}`;
      rows.push([e.at, e.user ?? '-', e.action, e.target, result]);
    }
    for (const line of table(rows)) out(line);
    if (list.nextCursor) err(`more entries: --limit ${flags.limit ?? 100} shows ${list.items.length}`);
    return 0;
  });
}

// ---------------------------------------------------------------- stop

/** Stop the background server of a home (from `serve` or `run --detach`) and wait until it is gone. */
export async function stopCommand(flags: Pick<TargetFlags, 'home'>): Promise<number> {
  const home = homeOf(flags);
  const info = readServerFile(home);
  if (!info || !pidAlive(info.pid)) {
    out(`no cellpipe server is running for ${home}`);
    return 0;
  }
  if (info.pid === process.pid) throw new CliError('refusing to stop this very process');
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (pidAlive(info.pid)) {
    if (Date.now() > deadline) throw new CliError(`cellpipe server (pid ${info.pid}) did not stop within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  out(`stopped cellpipe server (pid ${info.pid})`);
  return 0;
}
