/**
 * The seam between the orchestrator and the places tasks run (local subprocesses, Kubernetes Jobs).
 *
 * The orchestrator decides WHAT runs and WHEN; an executor only starts one task attempt, reports what
 * happens to it, kills it on request and finds it again after a server restart. Executors never touch
 * the store: everything they learn goes back through the `report` callback.
 */
import type { AttemptUsage, Inventory, Resources } from '@cellpipe/schema';

/** Everything an executor needs to start one attempt of one task. JSON-serialisable. */
export interface LaunchSpec {
  jobId: string;
  taskName: string;
  /** `<jobId>.<taskName>`: stable across attempts. */
  taskId: string;
  /** 1-based. */
  attempt: number;
  /** The submitting user; executors label their objects with it (Kubernetes labels, inventory holders). */
  owner: string;
  /** The team the job counts toward (job.team), when teams are configured: labels, a team's namespace. */
  team?: string;
  resources: Resources;
  image?: string;
  /** User-declared environment (already validated names); executors add their own CELLPIPE_* on top. */
  env: Record<string, string>;
  /** Attempt timeout in ms. The orchestrator enforces it in every case; executors may enforce it natively too. */
  timeoutMs?: number;
  /**
   * Absolute directory prepared for this attempt; it holds `task.json` and the payload files. Local
   * executors run the runner as `python3 cellpipe_runner.pyz <taskDir>/task.json`.
   */
  taskDir: string;
  /**
   * The payload files of `taskDir` by file name (always `task.json`, the runner's input; paths inside it
   * are absolute paths of the server's job directory). Remote executors ship these (e.g. as a ConfigMap).
   */
  payload: Record<string, string>;
  /** Absolute path of the attempt's log file; executors that capture output themselves write it here. */
  logPath: string;
  /** Absolute path the runner writes its result.json to (also inside task.json). */
  resultPath: string;
  /** The job's artifact root (task.json `artifactRoot`): upstream outputs are read from here. */
  artifactRoot: string;
  /**
   * The job's working folder (task.json `workDir`), shared by its tasks: the folder the submitter
   * named (the notebook's folder) where the executor `seesServerFiles`, else `<jobDir>/work`.
   */
  workDir?: string;
  /**
   * The attempt's data token, for executors whose tasks pass data through the server over HTTP (the
   * task-data API): it lets the task read its inputs and write its outputs, for this attempt only and
   * while it runs. Set when the attempt is handed over to `start`; absent on `reattach` (the task has
   * it already).
   */
  dataToken?: string;
}

/**
 * Executor-specific data that identifies a started attempt (pid + start time, pod name, ...). It is
 * persisted by the orchestrator and handed back to `reattach` after a restart, so it must be plain JSON.
 */
export type AttemptHandle = Record<string, string | number | boolean | null>;

/** Why the orchestrator stops an attempt: a cancel, its timeout, or its job stopping as a whole. */
export type StopReason = 'cancelled' | 'timeout' | 'aborted';

/**
 * Why an attempt ended without a result of its own (the runner's result.json, when there is one,
 * carries its own reason). New executors add their reasons here, so every reason the monitor may
 * show is listed in one place.
 */
export type FailureReason =
  | StopReason
  /** Ended non-zero (or by a signal) and left no result. */
  | 'exit'
  /** Gone while nobody watched: the server was down, or its object was deleted outside Cellpipe. */
  | 'lost'
  /** Killed for using more memory than it asked for. */
  | 'oom'
  /** Evicted or preempted by the cluster. */
  | 'evicted'
  /** Its image cannot be pulled. */
  | 'image-pull'
  /** Its pod spec cannot run (a missing ConfigMap or Secret, ...). */
  | 'config'
  /** Asks for more than this executor could ever give. */
  | 'unschedulable'
  /** Its payload (task.json) is larger than the executor can ship. */
  | 'payload-too-large'
  /** The process could not be started. */
  | 'spawn'
  /** Its result.json is over limits.resultBytes. */
  | 'result-too-large'
  /** Its result.json is not a regular file or not JSON. */
  | 'result-unreadable'
  /** It could not write its result: the disk is full. */
  | 'disk-full'
  /** `start()` itself failed (set by the orchestrator). */
  | 'executor';

export type ExecutorEvent =
  /** Accepted but not started yet, with a plain-language reason ("waiting for a free nvidia.com/gpu (0 of 2 free)"). */
  | { type: 'waiting'; reason: string }
  /**
   * The attempt is running. `handle` must be enough for `reattach`; `placement` is shown to users.
   * `startedAt` (ISO 8601): when it really started, where the executor knows better than the moment
   * the event arrives (a container's start time, reported again after a server restart).
   */
  | { type: 'running'; handle: AttemptHandle; placement?: string; startedAt?: string }
  /**
   * The cluster's queue stopped the running attempt to give its resources to other work (a Kueue
   * preemption: the Job suspended again, its pod gone) and will start it again when it admits it. The
   * same attempt goes on: no retry is used. `running` follows when it runs again.
   */
  | { type: 'requeued'; reason: string }
  /** Output, for executors that cannot write straight to `logPath` (the orchestrator appends it there). */
  | { type: 'log'; chunk: string }
  /**
   * The attempt ended. `result` is the runner's parsed result.json when the executor could read it (it
   * is the truth about success); `error` describes an end without one. `startedAt`/`finishedAt` (ISO
   * 8601): when it really ran, where the executor knows (a container's status), e.g. for an attempt
   * that ended while the server was down.
   */
  | {
      type: 'exited';
      exitCode?: number;
      result?: unknown;
      error?: { message: string; reason: FailureReason };
      /** What the attempt used, when the executor measures it. */
      usage?: AttemptUsage;
      startedAt?: string;
      finishedAt?: string;
    };

export type ReportFn = (event: ExecutorEvent) => void;

/** Which attempt to stop, and why. */
export interface CancelRequest {
  jobId: string;
  taskName: string;
  /** `<jobId>.<taskName>`, as in its LaunchSpec. */
  taskId: string;
  attempt: number;
  /** Ends up as the error reason of the attempt's `exited` event. */
  reason: StopReason;
}

export interface Executor {
  /** "local", "kubernetes": stored on each job. */
  readonly name: string;
  /**
   * Its tasks see the server's file system as the server does, so a job may work in a folder its
   * submitter names (the notebook's folder: SubmitJobRequest `workDir`).
   */
  readonly seesServerFiles?: boolean;
  /**
   * Each attempt runs alone in a container of its own (a pod), so the runner's cgroup and the GPUs it
   * sees are the attempt's: the runner measures the task's resource use there (task.json `usage`),
   * which the executor cannot see from outside.
   */
  readonly containerPerAttempt?: boolean;
  /** Devices (or nodes) this executor can place tasks on, and who holds them now. */
  inventory(): Promise<Inventory>;
  /**
   * Start one attempt. Resolves once the attempt is accepted (it may still be waiting for resources);
   * later news comes through `report`. A request that can never be satisfied is reported at once as
   * `exited` with reason `unschedulable`, never left waiting forever.
   */
  start(spec: LaunchSpec, report: ReportFn): Promise<void>;
  /**
   * Stop an attempt (waiting or running). Resolves once the kill has been issued; `exited` follows
   * via `report`. Idempotent: stopping an attempt twice, or one that already ended, resolves.
   * Rejects when the kill could not be issued (an API that does not answer): the orchestrator
   * retries with backoff until it resolves.
   */
  cancel(request: CancelRequest): Promise<void>;
  /**
   * After a restart: find an attempt started by a previous server process and follow it again.
   * `handle` is what its `running` event carried, or null when it may have been handed over but no
   * `running` was recorded (the executor must then look for it and must NOT start it again if found).
   * Returns 'following' when the executor is following it (events come through `report`, including an
   * immediate `exited` when it ended while the server was down), 'not-found' only when it is sure the
   * attempt never started. Throws when it cannot tell (an API that does not answer): the attempt stays
   * open and the orchestrator asks again.
   */
  reattach(spec: LaunchSpec, handle: AttemptHandle | null, report: ReportFn): Promise<'following' | 'not-found'>;
  /** Stop following (tasks keep running; a later `reattach` picks them up). */
  close(): Promise<void>;
  /** Optional: remove what the executor keeps for a deleted job (Kubernetes objects). Called by JobService.remove. */
  deleteJobObjects?(jobId: string): Promise<void>;
  /**
   * Optional: the job has ended (every attempt has exited and no more will start); release what the
   * executor kept for it while it ran (the Kubernetes owner ConfigMap). Idempotent; never rejects
   * (the executor reports its own trouble).
   */
  jobEnded?(jobId: string): Promise<void>;
}
