/**
 * Runs each task attempt as `python3 cellpipe_runner.pyz <taskDir>/task.json`, detached in its own
 * process group, with stdout/stderr written straight to the attempt's log file by the kernel (file
 * descriptors, not pipes): a task neither dies nor loses output when the server is killed, and a
 * restarted server finds it again by pid + start time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { availableParallelism, homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Inventory } from '@cellpipe/schema';
import type {
  AttemptHandle,
  CancelRequest,
  Executor,
  ExecutorEvent,
  LaunchSpec,
  ReportFn,
  StopReason,
} from '../executor.js';
import { GpuAllocator, gpuNeed } from '../../gpu/allocator.js';
import type { Device } from '../../gpu/inventory.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { readResultFile } from '../result-file.js';
import { passedEnv, taskEnvironment } from '../task-env.js';
import { findByEnv, groupAlive, isAlive, killGroup, processStartTime } from './process.js';

export const ATTEMPT_ENV = 'CELLPIPE_ATTEMPT_KEY';

export interface LocalExecutorOptions {
  python?: string;
  runnerPath?: string;
  devices?: Device[];
  /** SIGTERM → SIGKILL grace (default 5000 ms). */
  killGraceMs?: number;
  /** How often processes found again after a restart are checked (default 250 ms). */
  pollMs?: number;
  /**
   * Most task processes on this machine at once, over all jobs and users (default: 2 × CPUs, at least 4).
   * Keeps a wide DAG without maxParallel from starting a thousand interpreters at once.
   */
  maxTasks?: number;
  /** Names of server environment variables every task gets (the config's `passEnv`); read once, here. */
  passEnv?: readonly string[];
  /** Largest result.json read (default: limits.ts). */
  resultBytes?: number;
}

/** What a local task gets from the server's environment before anything else (see task-env.ts). */
function localBaseEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = from.USER ?? '';
  }
  const base: Record<string, string> = {
    PATH: from.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: homedir(),
    LANG: from.LANG || 'C.UTF-8',
  };
  if (user) Object.assign(base, { USER: user, LOGNAME: user });
  return base;
}

/** The runner's zipapp, built from runner/ by `npm run build` (and by the tests' global setup). */
export function defaultRunnerPath(): string {
  // src/executors/local/ and dist/executors/local/ both sit three levels below the package root.
  return fileURLToPath(new URL('../../../dist/cellpipe_runner.pyz', import.meta.url));
}

interface Waiter {
  spec: LaunchSpec;
  report: ReportFn;
  /** Last reason reported, so a waiter hears only changes. */
  reason?: string;
}

interface Running {
  spec: LaunchSpec;
  report: ReportFn;
  pid: number;
  startTime: number;
  /** Set by cancel(): the reason wins over whatever the process reports. */
  stopReason?: StopReason;
  killTimer?: NodeJS.Timeout;
  pollTimer?: NodeJS.Timeout;
  /** Our own child (not one found again after a restart). */
  child?: ChildProcess;
  done: boolean;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;

export class LocalExecutor implements Executor {
  readonly name = 'local';
  readonly allocator: GpuAllocator;
  private readonly python: string;
  private readonly runnerPath: string;
  private readonly killGraceMs: number;
  private readonly pollMs: number;
  private readonly maxTasks: number;
  private readonly passed: Record<string, string>;
  private readonly resultBytes: number;
  private readonly waiting: { key: string; w: Waiter }[] = [];
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(options: LocalExecutorOptions = {}) {
    this.python = options.python ?? 'python3';
    this.runnerPath = options.runnerPath ?? defaultRunnerPath();
    this.killGraceMs = options.killGraceMs ?? 5000;
    this.pollMs = options.pollMs ?? 250;
    this.maxTasks = options.maxTasks ?? Math.max(4, 2 * availableParallelism());
    this.allocator = new GpuAllocator(options.devices ?? []);
    this.passed = passedEnv(options.passEnv ?? []);
    this.resultBytes = options.resultBytes ?? DEFAULT_LIMITS.resultBytes;
  }

  async inventory(): Promise<Inventory> {
    return { executor: this.name, resources: this.allocator.resources() };
  }

  async start(spec: LaunchSpec, report: ReportFn): Promise<void> {
    const key = keyOf(spec.taskId, spec.attempt);
    const impossible = this.allocator.impossible(gpuNeed(spec.resources));
    if (impossible) {
      this.later(report, { type: 'exited', error: { reason: 'unschedulable', message: `task ${impossible}` } });
      return;
    }
    const waiter: Waiter = { spec, report };
    if (!this.tryLaunch(key, waiter)) this.waiting.push({ key, w: waiter });
  }

  /** Start now if the GPUs are free; otherwise report why it waits and return false. */
  private tryLaunch(key: string, waiter: Waiter): boolean {
    const { spec, report } = waiter;
    const wait = (reason: string): false => {
      if (waiter.reason !== reason) this.later(report, { type: 'waiting', reason });
      waiter.reason = reason;
      return false;
    };
    if (this.running.size >= this.maxTasks) {
      return wait(`waiting for a free local task slot (${this.running.size} of ${this.maxTasks} in use)`);
    }
    const holder = { user: spec.owner, jobId: spec.jobId, task: spec.taskName, since: new Date().toISOString() };
    const alloc = this.allocator.tryAcquire(key, holder, gpuNeed(spec.resources));
    if (!alloc.ok) return wait(alloc.reason);
    try {
      this.spawnAttempt(key, spec, report, alloc.devices);
    } catch (err) {
      this.allocator.release(key);
      const message = err instanceof Error ? err.message : String(err);
      this.later(report, {
        type: 'exited',
        error: { reason: 'spawn', message: `could not start the task: ${message}` },
      });
    }
    return true;
  }

  private spawnAttempt(key: string, spec: LaunchSpec, report: ReportFn, devices: Device[]): void {
    mkdirSync(dirname(spec.logPath), { recursive: true });
    const fd = openSync(spec.logPath, 'a');
    const env: NodeJS.ProcessEnv = {
      ...taskEnvironment(spec, { base: localBaseEnv(), passed: this.passed }),
      [ATTEMPT_ENV]: key,
    };
    // Tasks that asked for no GPU must not grab one another task holds.
    if (devices.length || this.allocator.devices.length) env.CUDA_VISIBLE_DEVICES = devices.map((d) => d.id).join(',');
    let child;
    try {
      child = spawn(this.python, [this.runnerPath, join(spec.taskDir, 'task.json')], {
        cwd: spec.taskDir,
        detached: true,
        stdio: ['ignore', fd, fd],
        env,
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // spawn reports ENOENT & co. asynchronously through 'error'.
      child.once('error', (err) => {
        this.allocator.release(key);
        this.later(report, {
          type: 'exited',
          error: { reason: 'spawn', message: `could not start ${this.python}: ${err.message}` },
        });
      });
      return;
    }
    // The child keeps the event loop alive while it runs; close() lets go of it (it keeps running).
    const startTime = processStartTime(pid) ?? 0;
    const run: Running = { spec, report, pid, startTime, child, done: false };
    this.running.set(key, run);
    child.once('exit', (code, signal) => this.finish(key, run, code ?? undefined, signal ?? undefined));
    const handle: AttemptHandle = { pid, startTime, devices: devices.map((d) => d.id).join(',') };
    report({ type: 'running', handle, placement: this.placement(devices) });
  }

  private placement(devices: Device[]): string {
    return devices.length ? `local, CUDA_VISIBLE_DEVICES=${devices.map((d) => d.id).join(',')}` : 'local';
  }

  private finish(key: string, run: Running, exitCode?: number, signal?: string): void {
    if (run.done) return;
    run.done = true;
    clearTimeout(run.killTimer);
    clearTimeout(run.pollTimer);
    // Leftover children of the task (background processes) go with it, before anyone hears it ended.
    killGroup(run.pid, 'SIGKILL');
    if (groupAlive(run.pid)) {
      const deadline = Date.now() + 2000;
      const wait = (): void => {
        if (groupAlive(run.pid) && Date.now() < deadline) setTimeout(wait, 20);
        else this.report(key, run, exitCode, signal);
      };
      wait();
    } else this.report(key, run, exitCode, signal);
  }

  private report(key: string, run: Running, exitCode?: number, signal?: string): void {
    this.running.delete(key);
    this.allocator.release(key);
    const read = readResultFile(run.spec.resultPath, this.resultBytes);
    const event: ExecutorEvent = { type: 'exited' };
    if (exitCode !== undefined) event.exitCode = exitCode;
    if ('result' in read) event.result = read.result;
    if (run.stopReason) {
      event.error = {
        reason: run.stopReason,
        message: run.stopReason === 'timeout' ? 'the task timed out and was killed' : 'the task was cancelled',
      };
    } else if ('error' in read) {
      event.error = read.error;
    } else if ('missing' in read) {
      event.error =
        exitCode === undefined && !signal
          ? { reason: 'lost', message: 'the task process ended while the server was not watching and left no result' }
          : {
              reason: 'exit',
              message: signal
                ? `the task was killed by ${signal}`
                : `the task exited with code ${exitCode} and left no result`,
            };
    }
    run.report(event);
    this.pump();
  }

  /** Start waiters whose GPUs became free, in arrival order. */
  private pump(): void {
    if (this.closed) return;
    for (let i = 0; i < this.waiting.length && this.running.size < this.maxTasks;) {
      const entry = this.waiting[i]!;
      if (this.tryLaunch(entry.key, entry.w)) this.waiting.splice(i, 1);
      else i++;
    }
  }

  async cancel({ taskId, attempt, reason }: CancelRequest): Promise<void> {
    const key = keyOf(taskId, attempt);
    const idx = this.waiting.findIndex((w) => w.key === key);
    if (idx >= 0) {
      const [entry] = this.waiting.splice(idx, 1);
      entry!.w.report({
        type: 'exited',
        error: {
          reason,
          message: reason === 'timeout' ? 'the task timed out while waiting' : 'the task was cancelled',
        },
      });
      return;
    }
    const run = this.running.get(key);
    if (!run || run.done) return;
    run.stopReason ??= reason;
    killGroup(run.pid, 'SIGTERM');
    clearTimeout(run.killTimer);
    run.killTimer = setTimeout(() => killGroup(run.pid, 'SIGKILL'), this.killGraceMs);
    run.killTimer.unref();
  }

  async reattach(spec: LaunchSpec, handle: AttemptHandle | null, report: ReportFn): Promise<'following' | 'not-found'> {
    const key = keyOf(spec.taskId, spec.attempt);
    let pid = typeof handle?.pid === 'number' ? handle.pid : undefined;
    let startTime = typeof handle?.startTime === 'number' ? handle.startTime : undefined;
    const devices = typeof handle?.devices === 'string' && handle.devices ? handle.devices.split(',') : [];
    if (pid === undefined || startTime === undefined) {
      // Handed over but never recorded as running: it may have been spawned just before a crash.
      const found = findByEnv(ATTEMPT_ENV, key);
      if (found) ({ pid, startTime } = found);
      else {
        const read = readResultFile(spec.resultPath, this.resultBytes);
        if ('missing' in read) return 'not-found';
        this.later(report, { type: 'exited', ...('result' in read ? { result: read.result } : { error: read.error }) });
        return 'following';
      }
    }
    const since = new Date().toISOString();
    this.allocator.claim(key, { user: spec.owner, jobId: spec.jobId, task: spec.taskName, since }, devices);
    const run: Running = { spec, report, pid, startTime, done: false };
    this.running.set(key, run);
    if (!handle?.pid) {
      report({
        type: 'running',
        handle: { pid, startTime, devices: devices.join(',') },
        placement: this.placement([]),
      });
    }
    const poll = (): void => {
      if (run.done) return;
      // Not our child: no exit code. The runner's result.json says how it ended.
      if (!isAlive(pid!, startTime!) && !(run.stopReason && groupAlive(pid!))) this.finish(key, run);
      else {
        run.pollTimer = setTimeout(poll, this.pollMs);
      }
    };
    poll();
    return 'following';
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const run of this.running.values()) {
      clearTimeout(run.pollTimer);
      clearTimeout(run.killTimer);
      run.child?.unref();
      run.done = true;
    }
    this.running.clear();
    this.waiting.length = 0;
  }

  /** Report on a later tick so callers never see events before start() returns. */
  private later(report: ReportFn, event: ExecutorEvent): void {
    setImmediate(() => {
      if (!this.closed) report(event);
    });
  }
}
