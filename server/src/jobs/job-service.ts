/**
 * JobService: the one entry point the HTTP API, the CLI and the scheduler use to run jobs. It is
 * handed a ready store, executor and orchestrator (see engine.ts) and closes them; callers pass
 * already-validated wire data.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants, cpSync, existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import {
  JobStateSchema,
  TaskStateSchema,
  effectiveTask,
  isTerminalJobState,
  isTerminalTaskState,
  type Activity,
  type Inventory,
  type Job,
  type JobList,
  type JobState,
  type JobSummary,
  type NotifyRule,
  type Pipeline,
  type RerunPlan,
  type PipelineRef,
  type SubmitJobRequest,
  type Task,
  type TaskEvent,
  type TaskResults,
  type TaskState,
} from '@cellpipe/schema';
import type { Executor } from '../executors/executor.js';
import type { JobLayout } from '../store/layout.js';
import type { JobRecord, Store, TaskRecord } from '../store/store.js';
import { everyState, taskCounts, toSummary, toTaskRun } from '../store/views.js';
import { removeTree } from '../store/remove-tree.js';
import { bundleHash, bundleOfRequest } from '../pipelines/bundle.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import { freezeJob, type Compiler, type FrozenJob, type TaskBase } from './freeze.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { planRerun } from './rerun-plan.js';
import { withWaitingQueues } from './resource-queue.js';

/**
 * What JobService needs from the orchestrator. The engine composition (engine.ts) hands in a ready
 * one; jobs/ never builds or imports it.
 */
export interface JobEngine {
  /** A freshly stored job: announce it and start scheduling it. */
  add(job: JobRecord, tasks: TaskRecord[]): void;
  /** False when the job is not active. */
  cancel(jobId: string): boolean;
  /** Cancel one task; 'ended' when it (or its job) already finished. */
  cancelTask(jobId: string, task: string, by: string): 'ok' | 'not-found' | 'ended';
  isActive(jobId: string): boolean;
  /** Restart recovery: re-attach to attempts that survived a restart and resume unfinished jobs. */
  recover(): Promise<void>;
  close(): Promise<void>;
}

/** The parts a JobService works with, built and owned by the engine composition (engine.ts). */
export interface JobServiceDeps {
  layout: JobLayout;
  store: Store;
  /** Closed by `JobService.close()`. */
  executor: Executor;
  engine: JobEngine;
  /** The engine announces every persisted change here. */
  events: EventEmitter<JobServiceEvents>;
  compiler?: Compiler;
  /** What a submission, a task or a stream may cost (default: limits.ts). */
  limits?: Limits;
  /** Saved pipeline versions: an ad-hoc job whose content was saved records that version. */
  versions?: { findByHash(owner: string, name: string, hash: string): { version: number } | undefined };
  /** Checks that a submit names only notification targets its owner may use. */
  checkNotify?: NotifyCheck;
  /** The team a new job of this owner counts toward (auth/teams.ts); none when teams are not configured. */
  teamOf?: (owner: string) => string | undefined;
}

/**
 * Throws a ValidationError at `path` (plus the rule and target index) when a rule names a
 * notification target `owner` may not use (notifications/notification-service.ts).
 */
export type NotifyCheck = (owner: string, rules: readonly NotifyRule[] | undefined, path: (string | number)[]) => void;

export interface SubmitExtra {
  scheduleId?: string;
  /** The slot (ISO, UTC) a schedule fires the job for. */
  scheduleSlot?: string;
  /** Given when a saved version runs; otherwise derived from the submitted content. */
  pipelineRef?: PipelineRef;
  /**
   * Runs inside the store transaction that inserts the job, with the job's id: what it writes
   * commits with the job, and when it throws no job is stored (the error propagates).
   */
  inTransaction?: (jobId: string) => void;
}

export interface ListJobsQuery {
  /** Only this user's jobs. */
  owner?: string;
  /** Only jobs of these users (the HTTP layer sets it for non-admins: who they may see). */
  owners?: readonly string[];
  state?: JobState;
  /** Any of these states. */
  states?: JobState[];
  /** Words the name, id or owner must contain. */
  search?: string;
  /** ISO times bounding the creation time: from (inclusive), before (exclusive). */
  createdFrom?: string;
  createdBefore?: string;
  /** Only runs of this pipeline (by name, saved or not), and of this saved version. */
  pipeline?: string;
  pipelineVersion?: number;
  limit?: number;
  cursor?: string;
  /** Who is asking (for audit; filtering is by `owner`). */
  viewer?: string;
}

export interface ReadLogsOptions {
  /** Keep streaming until the task is finished. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Default: every attempt in order. */
  attempt?: number;
}

/** Which file of a task: its executed notebook, the runner's result.json, or a file it wrote to CELLPIPE_OUTPUT_DIR. */
export type TaskFileKind = 'notebook' | 'result' | { artifact: string };

export interface JobServiceEvents {
  job: [JobSummary];
  task: [TaskEvent];
}

export type { Job, JobList, JobSummary, Inventory, SubmitJobRequest };

export { NotFoundError, ConflictError, ValidationError } from './errors.js';
export type { ValidationIssue } from './errors.js';

export interface JobServiceApi {
  readonly events: EventEmitter<JobServiceEvents>;
  readonly executorName: string;
  /** The configured limits (defaults merged in). */
  readonly limits: Limits;
  /** Recover: re-attach to attempts that survived a restart and resume unfinished jobs. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Compile/resolve and freeze a job. Throws ValidationError (with field path) on bad input. */
  submit(owner: string, request: SubmitJobRequest, extra?: SubmitExtra): Promise<Job>;
  list(query: ListJobsQuery): JobList;
  get(id: string): Job | undefined;
  /** Throws NotFoundError. Cancelling a finished job returns it unchanged. */
  cancel(id: string): Promise<Job>;
  /**
   * Cancel one task: stops it, skips its downstream, and lets the rest of the job go on under its
   * failure policy. Throws NotFoundError, or ConflictError when the task already ended.
   */
  cancelTask(id: string, task: string, by: string): Promise<Job>;
  /**
   * A new job with parentJobId = id, owned by the same user; `by`, the user asking, is recorded as
   * submittedBy when it is not the owner. 'failed' re-runs failed/cancelled/skipped tasks and their downstream.
   */
  rerun(id: string, mode: 'all' | 'failed', by?: string): Promise<Job>;
  /** What a re-run of job `id` with this (changed) notebook or pipeline would reuse, and why the rest runs. */
  rerunPlan(id: string, request: SubmitJobRequest): Promise<RerunPlan>;
  /** A new job from the request with parentJobId = id, reusing the tasks the plan says are unchanged. */
  rerunWithChanges(id: string, request: SubmitJobRequest, by?: string): Promise<Job>;
  /** Only finished jobs (ConflictError otherwise); deletes its files. */
  remove(id: string): Promise<void>;
  /** Absolute path of an attempt's log file (default: the latest attempt); NotFoundError for an unknown job/task. */
  logPath(jobId: string, task: string, attempt?: number): string;
  readLogs(jobId: string, task: string, options?: ReadLogsOptions): AsyncIterable<string>;
  /** Absolute, traversal-checked path of an existing task file; NotFoundError otherwise. */
  taskFile(jobId: string, task: string, which: TaskFileKind): Promise<string>;
  /** The task file opened for serving, checked after opening (no link, no FIFO, inside its folder); NotFoundError otherwise. */
  openTaskFile(jobId: string, task: string, which: TaskFileKind): Promise<{ handle: FileHandle; size: number }>;
  /** Who holds each GPU/MIG resource (the executor's view) and which queued tasks wait for it. */
  inventory(): Promise<Inventory>;
  /** Running and waiting tasks, running and pending jobs (of one owner when given). */
  activity(owner?: string): Activity;
  /** Jobs and tasks per state across all users, every state present (for /metrics). */
  stateCounts(): { jobs: Record<JobState, number>; tasks: Record<TaskState, number> };
  /** Each task's results (of its current or last attempt), by task, in task order; {} for an unknown job. */
  taskResults(id: string): Record<string, TaskResults>;
}

/** Time-ordered, unguessable enough to not collide: base36 milliseconds + 6 random base36 characters. */
export function newJobId(): string {
  const rand = [...randomBytes(6)].map((b) => (b % 36).toString(36)).join('');
  return `${Date.now().toString(36)}${rand}`;
}

/**
 * Copy a job's outputs for a re-run that reuses them: its own files, so a task of the re-run that
 * writes to one never changes the earlier job's. A reflink (copy on write, where the filesystem
 * has them) costs no space until one side writes; elsewhere it is a plain copy. Only regular files
 * and folders are taken: a link a task left behind could point anywhere.
 */
function copyOutputs(from: string, to: string): void {
  cpSync(from, to, {
    recursive: true,
    mode: constants.COPYFILE_FICLONE,
    filter: (src) => {
      const st = lstatSync(src);
      return st.isDirectory() || st.isFile();
    },
  });
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((res) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      res();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export class JobService implements JobServiceApi {
  readonly events: EventEmitter<JobServiceEvents>;
  readonly layout: JobLayout;
  readonly store: Store;
  readonly limits: Limits;
  readonly executor: Executor;
  private readonly engine: JobEngine;
  private readonly compiler: Compiler | undefined;
  private started = false;
  private closed = false;

  private readonly versions: JobServiceDeps['versions'];
  private readonly checkNotify: NotifyCheck;
  private readonly teamOf: (owner: string) => string | undefined;

  constructor(deps: JobServiceDeps) {
    this.layout = deps.layout;
    this.store = deps.store;
    this.executor = deps.executor;
    this.engine = deps.engine;
    this.events = deps.events;
    this.compiler = deps.compiler;
    this.versions = deps.versions;
    this.checkNotify = deps.checkNotify ?? (() => undefined);
    this.teamOf = deps.teamOf ?? (() => undefined);
    this.limits = deps.limits ?? DEFAULT_LIMITS;
  }

  private freeze(request: SubmitJobRequest): FrozenJob {
    const frozen = freezeJob(request, { limits: this.limits, ...(this.compiler ? { compiler: this.compiler } : {}) });
    const workDir = this.workDirOf(request);
    if (workDir) for (const base of frozen.bases.values()) base.workDir = workDir;
    return frozen;
  }

  /**
   * The folder the submitter asks the job to work in, where this executor's tasks can see it; the
   * tasks of a job that names none (or runs elsewhere) share a folder of the job's own.
   */
  private workDirOf(request: SubmitJobRequest): string | undefined {
    if (request.workDir === undefined || !this.executor.seesServerFiles) return undefined;
    if (request.workDirUnseen === 'own')
      return holdsSubmittedFile(request.workDir, request) ? request.workDir : undefined;
    if (!isFolder(request.workDir)) {
      throw new ValidationError(`no folder ${request.workDir} on the server's machine`, ['workDir']);
    }
    return request.workDir;
  }

  get executorName(): string {
    return this.executor.name;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.engine.recover();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.engine.close();
    await this.executor.close();
    this.store.close();
  }

  async submit(owner: string, request: SubmitJobRequest, extra: SubmitExtra = {}): Promise<Job> {
    if (!this.started) throw new Error('JobService.start() must be called before submit');
    const frozen = this.freeze(request);
    // A fire of a schedule is not refused for a target deleted since: its delivery says so instead.
    if (!extra.scheduleId) {
      this.checkNotify(
        owner,
        frozen.pipeline.spec.notify,
        request.notebook ? ['notebook', 'content', 'metadata', 'cellpipe', 'notify'] : ['pipeline', 'spec', 'notify'],
      );
      this.checkNotify(owner, request.notify, ['notify']);
    }
    const id = newJobId();
    const pipelineRef = extra.pipelineRef ?? this.pipelineRefOf(owner, frozen.pipeline, request);
    const job: JobRecord = {
      id,
      name: request.name ?? frozen.pipeline.metadata.name,
      owner,
      state: 'pending',
      executor: this.executor.name,
      createdAt: new Date().toISOString(),
      pipeline: frozen.pipeline,
      parameters: frozen.parameters,
      pipelineRef,
    };
    const team = this.teamOf(owner);
    if (team) job.team = team;
    if (extra.scheduleId) job.scheduleId = extra.scheduleId;
    if (extra.scheduleSlot) job.scheduleSlot = extra.scheduleSlot;
    if (request.notify?.length) job.notify = request.notify;
    const tasks: TaskRecord[] = frozen.pipeline.spec.tasks.map((t) => pendingTask(frozen.pipeline, t));
    // One transaction, no file per task: a 20,000-task pipeline is stored in milliseconds, whole or not at all.
    // A caller's own writes (a schedule's fired slot) join that transaction.
    this.store.transaction(() => {
      extra.inTransaction?.(id);
      this.store.insertJob(job, tasks, frozen.bases);
    });
    this.engine.add(job, tasks);
    return this.get(id)!;
  }

  /** What an ad-hoc job runs: its bundle's hash, and the saved version with that content if any. */
  private pipelineRefOf(owner: string, pipeline: Pipeline, request: SubmitJobRequest): PipelineRef {
    const name = pipeline.metadata.name;
    const hash = bundleHash(bundleOfRequest(pipeline, request));
    const saved = this.versions?.findByHash(owner, name, hash);
    return saved ? { name, version: saved.version, hash } : { name, hash };
  }

  list(query: ListJobsQuery): JobList {
    const q: Parameters<Store['listJobs']>[0] = { limit: query.limit ?? 50 };
    if (query.owner !== undefined) q.owner = query.owner;
    if (query.owners !== undefined) q.owners = query.owners;
    if (query.state !== undefined) q.state = query.state;
    if (query.states !== undefined) q.states = query.states;
    if (query.search) q.search = query.search;
    if (query.createdFrom !== undefined) q.createdFrom = query.createdFrom;
    if (query.createdBefore !== undefined) q.createdBefore = query.createdBefore;
    if (query.pipeline !== undefined) q.pipeline = query.pipeline;
    if (query.pipelineVersion !== undefined) q.pipelineVersion = query.pipelineVersion;
    if (query.cursor !== undefined) q.cursor = query.cursor;
    const page = this.store.listJobs(q);
    const items = page.items.map(({ taskCounts: counts, parameters, ...row }) => {
      const full = taskCounts([]);
      for (const [k, v] of Object.entries(counts)) full[k as TaskState] = v;
      return { ...toSummary({ ...row, pipeline: undefined as never, parameters }, full), parameters };
    });
    return page.nextCursor ? { items, nextCursor: page.nextCursor, total: page.total } : { items, total: page.total };
  }

  get(id: string): Job | undefined {
    const job = this.store.getJob(id);
    if (!job) return undefined;
    const tasks = this.store.getTasks(id);
    return {
      ...toSummary(job, taskCounts(tasks)),
      pipeline: job.pipeline,
      parameters: job.parameters,
      tasks: tasks.map(toTaskRun),
      warnings: tasks.flatMap((t) => (t.warnings ?? []).map((w) => ({ task: t.name, ...w }))),
      results: resultsByTask(tasks),
      ...(job.notify ? { notify: job.notify } : {}),
    };
  }

  taskResults(id: string): Record<string, TaskResults> {
    return resultsByTask(this.store.getTasks(id));
  }

  private mustGet(id: string): Job {
    const job = this.get(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return job;
  }

  async cancel(id: string): Promise<Job> {
    const job = this.mustGet(id);
    if (isTerminalJobState(job.state)) return job;
    this.engine.cancel(id);
    return this.mustGet(id);
  }

  async cancelTask(id: string, task: string, by: string): Promise<Job> {
    const job = this.mustGet(id);
    const t = job.tasks.find((x) => x.name === task);
    if (!t) throw new NotFoundError(`job ${id} has no task "${task}"`);
    const outcome = isTerminalTaskState(t.state) ? 'ended' : this.engine.cancelTask(id, task, by);
    if (outcome === 'not-found') throw new NotFoundError(`job ${id} has no task "${task}"`);
    const after = this.mustGet(id);
    if (outcome === 'ended') {
      const state = after.tasks.find((x) => x.name === task)?.state ?? t.state;
      throw new ConflictError(`task "${task}" of job ${id} already ended (${state})`);
    }
    return after;
  }

  async rerun(id: string, mode: 'all' | 'failed', by?: string): Promise<Job> {
    if (!this.started) throw new Error('JobService.start() must be called before rerun');
    const parent = this.store.getJob(id);
    if (!parent) throw new NotFoundError(`job ${id} not found`);
    const parentTasks = this.store.getTasks(id);
    const reuse = new Set<string>();
    if (mode === 'failed') {
      if (!isTerminalJobState(parent.state))
        throw new ConflictError(`job ${id} is still ${parent.state}: re-run failed tasks once it has finished`);
      const rerunSet = new Set(parentTasks.filter((t) => t.state !== 'succeeded').map((t) => t.name));
      if (!rerunSet.size) throw new ConflictError(`job ${id} has no failed, cancelled or skipped tasks to re-run`);
      // Everything downstream of a re-run task runs again too.
      let grew = true;
      while (grew) {
        grew = false;
        for (const t of parentTasks) {
          if (!rerunSet.has(t.name) && t.dependsOn.some((d) => rerunSet.has(d))) {
            rerunSet.add(t.name);
            grew = true;
          }
        }
      }
      for (const t of parentTasks) if (!rerunSet.has(t.name)) reuse.add(t.name);
    }
    const next = { pipeline: parent.pipeline, parameters: parent.parameters };
    return this.startRerun(parent, next, reuse, by, undefined, parent.pipelineRef);
  }

  async rerunPlan(id: string, request: SubmitJobRequest): Promise<RerunPlan> {
    const parent = this.store.getJob(id);
    if (!parent) throw new NotFoundError(`job ${id} not found`);
    return this.planAgainst(parent, this.freeze(request));
  }

  async rerunWithChanges(id: string, request: SubmitJobRequest, by?: string): Promise<Job> {
    if (!this.started) throw new Error('JobService.start() must be called before rerunWithChanges');
    const parent = this.store.getJob(id);
    if (!parent) throw new NotFoundError(`job ${id} not found`);
    if (!isTerminalJobState(parent.state))
      throw new ConflictError(`job ${id} is still ${parent.state}: re-run it with changes once it has finished`);
    const frozen = this.freeze(request);
    const plan = this.planAgainst(parent, frozen);
    const reuse = new Set(plan.tasks.filter((t) => t.reuse).map((t) => t.name));
    const ref = this.pipelineRefOf(parent.owner, frozen.pipeline, request);
    return this.startRerun(parent, frozen, reuse, by, request.name, ref);
  }

  private planAgainst(parent: JobRecord, frozen: FrozenJob): RerunPlan {
    const bases = new Map<string, TaskBase>();
    for (const t of parent.pipeline.spec.tasks) {
      // Stored by insertJob exactly as freezeJob made it.
      const base = this.store.taskBase(parent.id, t.name) as TaskBase | undefined;
      if (base) bases.set(t.name, base);
    }
    const states = new Map(this.store.getTasks(parent.id).map((t) => [t.name, t.state]));
    return planRerun(
      { jobId: parent.id, pipeline: parent.pipeline, bases, states },
      { jobId: '', pipeline: frozen.pipeline, bases: frozen.bases },
    );
  }

  /**
   * A new job that re-runs `parent`: tasks in `reuse` keep the parent's results (record, logs,
   * executed notebook and outputs); the others start from their frozen base, the new one when `next`
   * brings bases (a re-run with changes), else the parent's.
   */
  private startRerun(
    parent: JobRecord,
    next: { pipeline: Pipeline; parameters: Record<string, unknown>; bases?: ReadonlyMap<string, TaskBase> },
    reuse: ReadonlySet<string>,
    by?: string,
    name?: string,
    pipelineRef?: PipelineRef,
  ): Job {
    const id = parent.id;
    const parentTasks = new Map(this.store.getTasks(id).map((t) => [t.name, t]));
    const newId = newJobId();
    const job: JobRecord = {
      id: newId,
      name: name ?? parent.name,
      // A re-run stays its owner's job, whoever starts it; an admin who does is recorded.
      owner: parent.owner,
      state: 'pending',
      executor: this.executor.name,
      createdAt: new Date().toISOString(),
      pipeline: next.pipeline,
      parameters: next.parameters,
      parentJobId: id,
    };
    if (by !== undefined && by !== parent.owner) job.submittedBy = by;
    if (pipelineRef) job.pipelineRef = pipelineRef;
    // A re-run is sent where its job was.
    if (parent.notify) job.notify = parent.notify;
    const team = this.teamOf(job.owner);
    if (team) job.team = team;
    const tasks: TaskRecord[] = next.pipeline.spec.tasks.map((spec) => {
      const t = parentTasks.get(spec.name);
      if (t && reuse.has(spec.name)) {
        const { notBefore: _n, queuedAt: _q, waitingReason: _w, placement: _p, ...kept } = t;
        return { ...kept, reused: true };
      }
      return pendingTask(next.pipeline, spec);
    });
    const bases = new Map(
      next.pipeline.spec.tasks.map((spec) => [
        spec.name,
        next.bases?.get(spec.name) ?? this.store.taskBase(id, spec.name),
      ]),
    );
    try {
      for (const { name: task } of next.pipeline.spec.tasks) {
        if (!reuse.has(task)) continue;
        // Logs, result and executed notebook of the reused attempt, and its outputs for downstream tasks.
        const from = this.layout.taskDir(id, task);
        if (existsSync(from)) cpSync(from, this.layout.taskDir(newId, task), { recursive: true });
        const artifacts = this.layout.outputDir(id, task);
        if (existsSync(artifacts)) copyOutputs(artifacts, this.layout.outputDir(newId, task));
      }
      // A job's own working folder holds what its reused tasks wrote there, for the tasks that run again.
      const work = this.layout.workDir(id);
      if (reuse.size && existsSync(work)) copyOutputs(work, this.layout.workDir(newId));
      this.store.insertJob(job, tasks, bases);
    } catch (err) {
      removeTree(this.layout.jobDir(newId));
      throw err;
    }
    this.engine.add(job, tasks);
    return this.get(newId)!;
  }

  async remove(id: string): Promise<void> {
    const job = this.mustGet(id);
    if (!isTerminalJobState(job.state) || this.engine.isActive(id)) {
      throw new ConflictError(`job ${id} is ${job.state}: cancel it and wait for it to finish before deleting it`);
    }
    await this.executor.deleteJobObjects?.(id);
    this.store.deleteJob(id);
    removeTree(this.layout.jobDir(id));
  }

  private task(jobId: string, task: string): { job: Job; run: Job['tasks'][number] } {
    const job = this.mustGet(jobId);
    const run = job.tasks.find((t) => t.name === task);
    if (!run) throw new NotFoundError(`job ${jobId} has no task '${task}'`);
    return { job, run };
  }

  logPath(jobId: string, task: string, attempt?: number): string {
    const { run } = this.task(jobId, task);
    return this.layout.logPath(jobId, task, attempt ?? Math.max(1, run.attempt));
  }

  async *readLogs(jobId: string, task: string, options: ReadLogsOptions = {}): AsyncIterable<string> {
    let { run } = this.task(jobId, task);
    const only = options.attempt;
    let attempt = only ?? 1;
    let offset = 0;
    const decoder = new TextDecoder();
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      if (options.signal?.aborted) return;
      const path = this.layout.logPath(jobId, task, attempt);
      let read = 0;
      try {
        const fh = await open(path, 'r');
        try {
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
            if (!bytesRead) break;
            offset += bytesRead;
            read += bytesRead;
            const text = decoder.decode(buf.subarray(0, bytesRead), { stream: true });
            if (text) yield text;
          }
        } finally {
          await fh.close();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      const current = this.get(jobId)?.tasks.find((t) => t.name === task);
      if (!current) return;
      run = current;
      const moreAttempts = only === undefined && attempt < run.attempt;
      if (moreAttempts) {
        attempt++;
        offset = 0;
        continue;
      }
      const finished = isTerminalTaskState(run.state) && attempt >= run.attempt;
      if (!options.follow || (finished && read === 0)) {
        const tail = decoder.decode();
        if (tail) yield tail;
        if (!options.follow || finished) return;
      }
      if (read === 0) await sleep(200, options.signal);
    }
  }

  /** Where a task file should be, and the folder it must really be inside. */
  private locate(jobId: string, task: string, which: TaskFileKind): { path: string; root: string } {
    const { run } = this.task(jobId, task);
    const attempt = Math.max(1, run.attempt);
    if (which === 'notebook' || which === 'result') {
      const path =
        which === 'notebook'
          ? this.layout.notebookPath(jobId, task, attempt)
          : this.layout.resultPath(jobId, task, attempt);
      return { path, root: this.layout.taskDir(jobId, task) };
    }
    const rel = which.artifact;
    if (!rel || rel.includes('\0') || isAbsolute(rel) || rel.split(/[\\/]/).some((seg) => seg === '..')) {
      throw new ValidationError(`bad artifact path '${rel}'`, ['path']);
    }
    const root = this.layout.filesDir(jobId, task);
    return { path: resolve(root, rel), root };
  }

  private missing(jobId: string, task: string, which: TaskFileKind): NotFoundError {
    const what =
      typeof which === 'string'
        ? `${which === 'notebook' ? 'executed notebook' : 'result'}`
        : `artifact '${which.artifact}'`;
    return new NotFoundError(`task '${task}' of job ${jobId} has no ${what}`);
  }

  async taskFile(jobId: string, task: string, which: TaskFileKind): Promise<string> {
    const { path, root } = this.locate(jobId, task, which);
    let real: string;
    try {
      real = realpathSync(path);
      const realRoot = realpathSync(root);
      // A task may leave symlinks in its output folder: only files that really live inside it are served.
      if (!real.startsWith(realRoot + sep) || !statSync(real).isFile()) throw new Error('outside');
    } catch {
      throw this.missing(jobId, task, which);
    }
    return real;
  }

  async openTaskFile(jobId: string, task: string, which: TaskFileKind): Promise<{ handle: FileHandle; size: number }> {
    const { path, root } = this.locate(jobId, task, which);
    let handle: FileHandle | undefined;
    try {
      const realRoot = realpathSync(root);
      // Opened first, checked after: what is checked is the very file that is served, even if the
      // task swaps a folder on the way for a link in between. No link at the end, no FIFO to hang on.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const opened = await openedPath(handle, path);
      const stat = await handle.stat();
      if (!opened.startsWith(realRoot + sep) || !stat.isFile()) throw new Error('outside');
      return { handle, size: stat.size };
    } catch {
      await handle?.close();
      throw this.missing(jobId, task, which);
    }
  }

  async inventory(): Promise<Inventory> {
    return withWaitingQueues(await this.executor.inventory(), this.store.queuedTasks());
  }

  stateCounts(): { jobs: Record<JobState, number>; tasks: Record<TaskState, number> } {
    const stored = this.store.stateCounts();
    return {
      jobs: everyState(JobStateSchema.options, stored.jobs),
      tasks: everyState(TaskStateSchema.options, stored.tasks),
    };
  }

  activity(owner?: string): Activity {
    const tasks = this.store.activeTaskCounts(owner);
    const jobs = this.store.activeJobCounts(owner);
    return {
      tasks: { running: tasks.running ?? 0, waiting: tasks.queued ?? 0 },
      jobs: { running: jobs.running ?? 0, pending: jobs.pending ?? 0 },
    };
  }
}

function resultsByTask(tasks: readonly TaskRecord[]): Record<string, TaskResults> {
  return Object.fromEntries(tasks.filter((t) => t.results).map((t) => [t.name, t.results!]));
}

/** A task as it is before its first attempt. */
function pendingTask(pipeline: Pipeline, task: Task): TaskRecord {
  const eff = effectiveTask(pipeline, task);
  return {
    name: task.name,
    state: 'pending',
    dependsOn: task.dependsOn,
    resources: eff.resources,
    attempt: 0,
    maxAttempts: eff.retries + 1,
    outputs: [],
    artifacts: [],
  };
}

/** The path of what a handle really has open (Linux: /proc/self/fd); elsewhere, its real path now. */
async function openedPath(handle: FileHandle, path: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return realpathSync(path);
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether `folder` is where the submitted notebook (or a file the request carries) lives on this
 * machine: a folder of the same name elsewhere (another machine's home) does not hold it.
 */
function holdsSubmittedFile(folder: string, request: SubmitJobRequest): boolean {
  if (!isFolder(folder)) return false;
  const names = [request.notebook?.path, ...Object.keys(request.files ?? {})].flatMap((p) =>
    p === undefined ? [] : [basename(p)],
  );
  return names.some((name) => {
    try {
      return statSync(join(folder, name)).isFile();
    } catch {
      return false;
    }
  });
}
