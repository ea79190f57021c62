/**
 * Runs each task attempt as `python3 cellpipe_runner.pyz <taskDir>/task.json` under a small launcher
 * (launcher/cellpipe_launch.py), detached in its own process group and, where the machine allows it,
 * its own cgroup (cgroup.ts): everything the task starts is limited to its memory: and cpu:, measured,
 * and killed with it on cancel and at its end. The launcher holds the attempt's log file (a file
 * descriptor, not a pipe to the server), so a task neither dies nor loses output when the server is
 * killed, and a restarted server finds it again by pid + start time and its cgroup by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { availableParallelism, homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMillicores, memoryBytes, type AttemptUsage, type Inventory } from '@cellpipe/schema';
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
import { GPU_RESOURCE, type Device } from '../../gpu/inventory.js';
import { GpuSampler, type GpuSamplerOptions, type GpuUsage } from '../../gpu/usage-sampler.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { diskNearlyFull, readResultFile } from '../result-file.js';
import { passedEnv, taskEnvironment } from '../task-env.js';
import { prepareWorkspace, type OsUser, type RunAs } from './run-as.js';
import { CgroupManager, type AttemptCgroup, type CgroupLimits, type CgroupUsage } from './cgroup.js';
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
  /** Log bytes an attempt may write; the launcher drops the rest with a note (default: limits.ts). */
  logBytesPerAttempt?: number;
  /**
   * Where attempts' cgroups are made: a manager, `false` for process groups only, or (default) the
   * cgroup trees of this machine when the server may create folders in them.
   */
  cgroups?: CgroupManager | false;
  /** What the executor works around by itself (no cgroups here, a limit it cannot enforce). */
  warn?: (message: string) => void;
  /**
   * Run each task as the OS user its owner is mapped to (the server must be root), with its files
   * made reachable for that user under `jobsRoot` (run-as.ts).
   */
  runAs?: { map: RunAs; jobsRoot: string };
  /** How attempts holding whole GPUs are sampled with nvidia-smi (usage-sampler.ts); `false`: not at all. */
  gpuSampling?: GpuSamplerOptions | false;
}

/**
 * What a local task gets before anything else (see task-env.ts): PATH and LANG of the server, HOME,
 * USER and LOGNAME of the OS user it runs as.
 */
function localBaseEnv(runAs?: OsUser, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let user: string;
  try {
    user = runAs?.name ?? userInfo().username;
  } catch {
    user = from.USER ?? '';
  }
  const base: Record<string, string> = {
    PATH: from.PATH || '/usr/local/bin:/usr/bin:/bin',
    HOME: runAs?.home ?? homedir(),
    LANG: from.LANG || 'C.UTF-8',
  };
  if (user) Object.assign(base, { USER: user, LOGNAME: user });
  return base;
}

/** The launcher every attempt starts under. */
export function launcherPath(): string {
  // src/executors/local/ and dist/executors/local/ both sit three levels below the package root.
  return fileURLToPath(new URL('../../../launcher/cellpipe_launch.py', import.meta.url));
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
  /** The attempt's cgroup; without one, its process group is all that is known of it. */
  cgroup?: AttemptCgroup;
  /** Samples the attempt's whole GPUs while it runs. */
  gpuSampler?: GpuSampler;
  done: boolean;
}

const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;
/** The attempt's cgroup folder: derived from the attempt, so a restarted server finds it by name. */
const cgroupName = (taskId: string, attempt: number): string => `${taskId}.${attempt}`;

export class LocalExecutor implements Executor {
  readonly name = 'local';
  readonly seesServerFiles = true;
  readonly allocator: GpuAllocator;
  private readonly python: string;
  private readonly runnerPath: string;
  private readonly killGraceMs: number;
  private readonly pollMs: number;
  private readonly maxTasks: number;
  private readonly passed: Record<string, string>;
  private readonly resultBytes: number;
  private readonly logBytes: number;
  private readonly cgroups: CgroupManager | undefined;
  private readonly warn: (message: string) => void;
  private readonly runAs: LocalExecutorOptions['runAs'];
  private readonly gpuSampling: GpuSamplerOptions | false;
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
    this.logBytes = options.logBytesPerAttempt ?? DEFAULT_LIMITS.logBytesPerAttempt;
    this.warn = options.warn ?? ((message) => console.warn(`cellpipe: ${message}`));
    this.runAs = options.runAs;
    this.gpuSampling = options.gpuSampling ?? {};
    if (options.cgroups === false) this.cgroups = undefined;
    else if (options.cgroups) this.cgroups = options.cgroups;
    else {
      const found = CgroupManager.detect();
      if (found instanceof CgroupManager) this.cgroups = found;
      else {
        this.cgroups = undefined;
        this.warn(
          `no cgroup can be made for tasks (${found.unavailable}): cancel stops a task's process group only, ` +
            'and memory: and cpu: are not enforced',
        );
      }
    }
  }

  /** How attempts are contained: the cgroup trees in use, or the fallback. */
  get containment(): string {
    return this.cgroups?.describe() ?? 'process groups (no cgroups)';
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
    let user: OsUser | undefined;
    if (this.runAs) {
      user = this.runAs.map.resolve(spec.owner);
      const outputDir = join(spec.artifactRoot, spec.taskName);
      const paths = {
        jobsRoot: this.runAs.jobsRoot,
        attemptDir: spec.taskDir,
        artifactRoot: spec.artifactRoot,
        outputDir,
        ...(spec.workDir ? { workDir: spec.workDir } : {}),
      };
      prepareWorkspace(paths, user);
    }
    mkdirSync(dirname(spec.logPath), { recursive: true });
    const fd = openSync(spec.logPath, 'a');
    const env: NodeJS.ProcessEnv = {
      ...taskEnvironment(spec, { base: localBaseEnv(user), passed: this.passed }),
      [ATTEMPT_ENV]: key,
    };
    // Tasks that asked for no GPU must not grab one another task holds.
    if (devices.length || this.allocator.devices.length) env.CUDA_VISIBLE_DEVICES = devices.map((d) => d.id).join(',');
    let child: ChildProcess;
    let cgroup: AttemptCgroup | undefined;
    try {
      cgroup = this.makeCgroup(spec, (note) => writeSync(fd, `[cellpipe] ${note}\n`));
      const runner = [this.python, this.runnerPath, join(spec.taskDir, 'task.json')];
      const launcher = [launcherPath(), '--log-limit', String(this.logBytes)];
      if (user) launcher.push('--user', `${user.name}:${user.uid}:${user.gid}`);
      child = spawn(this.python, ['-I', '-S', ...launcher, '--', ...runner], {
        cwd: spec.taskDir,
        detached: true,
        stdio: ['pipe', fd, fd],
        env,
      });
    } catch (err) {
      cgroup?.remove().catch((e: unknown) => this.cgroupLeft(e));
      throw err;
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      // spawn reports ENOENT & co. asynchronously through 'error'.
      child.once('error', (err) => {
        cgroup?.remove().catch((e: unknown) => this.cgroupLeft(e));
        this.allocator.release(key);
        this.later(report, {
          type: 'exited',
          error: { reason: 'spawn', message: `could not start ${this.python}: ${err.message}` },
        });
      });
      return;
    }
    if (cgroup) {
      try {
        cgroup.attach(pid);
      } catch (err) {
        this.warn(`could not put task ${spec.taskId} into its cgroup: ${(err as Error).message}`);
        cgroup.remove().catch((e: unknown) => this.cgroupLeft(e));
        cgroup = undefined;
      }
    }
    // The launcher waits for this line, so nothing of the task runs before it is in its cgroup.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end('go\n');
    // The child keeps the event loop alive while it runs; close() lets go of it (it keeps running).
    const startTime = processStartTime(pid) ?? 0;
    const run: Running = { spec, report, pid, startTime, child, done: false };
    if (cgroup) run.cgroup = cgroup;
    const ids = devices.map((d) => d.id);
    this.sampleGpus(run, ids);
    this.running.set(key, run);
    child.once('exit', (code, signal) => this.finish(key, run, code ?? undefined, signal ?? undefined));
    const handle: AttemptHandle = { pid, startTime, devices: ids.join(',') };
    report({ type: 'running', handle, placement: this.placement(devices) });
  }

  /** The attempt's cgroup with its limits; notes for the task's log say what is not enforced and why. */
  private makeCgroup(spec: LaunchSpec, note: (text: string) => void): AttemptCgroup | undefined {
    const limits: CgroupLimits = {};
    const mem = spec.resources.memory;
    const cpu = spec.resources.cpu;
    if (mem) limits.memoryBytes = memoryBytes(mem);
    if (cpu) limits.cpuMillicores = cpuMillicores(cpu);
    if (!this.cgroups) {
      if (mem || cpu) note(`memory: and cpu: are not enforced on this machine (no cgroup can be made for tasks)`);
      return undefined;
    }
    if (mem && !this.cgroups.enforcesMemory) note(`memory: ${mem} is not enforced here (no memory cgroup controller)`);
    if (cpu && !this.cgroups.enforcesCpu) note(`cpu: ${cpu} is not enforced here (no cpu cgroup controller)`);
    try {
      return this.cgroups.create(cgroupName(spec.taskId, spec.attempt), limits);
    } catch (err) {
      const message = `could not make a cgroup for the task (${(err as Error).message}): its process group is used instead`;
      note(message);
      this.warn(`task ${spec.taskId}: ${message}`);
      return undefined;
    }
  }

  /** Starts sampling the attempt's whole GPUs (MIG devices have no utilisation to sample: usage-sampler.ts). */
  private sampleGpus(run: Running, ids: readonly string[]): void {
    if (this.gpuSampling === false) return;
    const whole = ids.filter((id) => this.allocator.devices.some((d) => d.id === id && d.resource === GPU_RESOURCE));
    if (whole.length) run.gpuSampler = new GpuSampler(whole, this.gpuSampling).start();
  }

  private placement(devices: Device[]): string {
    return devices.length ? `local, CUDA_VISIBLE_DEVICES=${devices.map((d) => d.id).join(',')}` : 'local';
  }

  private finish(key: string, run: Running, exitCode?: number, signal?: string): void {
    if (run.done) return;
    run.done = true;
    clearTimeout(run.killTimer);
    clearTimeout(run.pollTimer);
    const gpu = run.gpuSampler?.stop();
    // Leftovers of the task (background processes, double forks) go with it, before anyone hears it ended.
    this.killLeftovers(run).then(
      (usage) => this.report(key, run, exitCode, signal, usage, gpu),
      (err: unknown) => {
        this.warn(`task ${run.spec.taskId}: could not clean up after it: ${String(err)}`);
        this.report(key, run, exitCode, signal, undefined, gpu);
      },
    );
  }

  /** Kills what is left of an attempt; with a cgroup, reads what it used and removes it. */
  private async killLeftovers(run: Running): Promise<CgroupUsage | undefined> {
    killGroup(run.pid, 'SIGKILL');
    if (run.cgroup) {
      await run.cgroup.kill();
      const usage = run.cgroup.usage();
      await run.cgroup.remove();
      return usage;
    }
    const deadline = Date.now() + 2000;
    while (groupAlive(run.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return undefined;
  }

  private report(
    key: string,
    run: Running,
    exitCode?: number,
    signal?: string,
    usage?: CgroupUsage,
    gpu?: GpuUsage,
  ): void {
    this.running.delete(key);
    this.allocator.release(key);
    const read = readResultFile(run.spec.resultPath, this.resultBytes);
    const event: Extract<ExecutorEvent, { type: 'exited' }> = { type: 'exited' };
    if (exitCode !== undefined) event.exitCode = exitCode;
    if ('result' in read) event.result = read.result;
    const measured: AttemptUsage = { ...gpu };
    if (usage?.peakMemoryBytes !== undefined) measured.peakMemoryBytes = usage.peakMemoryBytes;
    if (usage?.cpuSeconds !== undefined) measured.cpuSeconds = usage.cpuSeconds;
    if (Object.keys(measured).length) event.usage = measured;
    const succeeded = 'result' in read && (read.result as { status?: unknown } | null)?.status === 'succeeded';
    if (run.stopReason) {
      event.error = {
        reason: run.stopReason,
        message: run.stopReason === 'timeout' ? 'the task timed out and was killed' : 'the task was cancelled',
      };
    } else if (usage?.oomKills && !succeeded) {
      const limit = run.spec.resources.memory;
      event.error = {
        reason: 'oom',
        message: `the task ran out of memory: the kernel killed ${usage.oomKills === 1 ? 'a process' : `${usage.oomKills} processes`} of it for going over its memory: ${limit ?? 'limit'}`,
      };
    } else if (!('result' in read) && diskNearlyFull(dirname(run.spec.resultPath))) {
      event.error = {
        reason: 'disk-full',
        message: `the task could not write its result: the disk holding ${dirname(run.spec.resultPath)} is full`,
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
    // The runner stops cleanly on SIGTERM (the launcher ignores it and carries its last words to the log).
    killGroup(run.pid, 'SIGTERM');
    clearTimeout(run.killTimer);
    run.killTimer = setTimeout(() => {
      killGroup(run.pid, 'SIGKILL');
      // Processes that left the group (new sessions) are still in the cgroup.
      run.cgroup?.kill().catch((err: unknown) => this.warn(`task ${taskId}: ${String(err)}`));
    }, this.killGraceMs);
    run.killTimer.unref();
  }

  private cgroupLeft(err: unknown): void {
    this.warn(`could not remove a task's cgroup: ${err instanceof Error ? err.message : String(err)}`);
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
        // A launcher that never got its "go" left an empty cgroup behind.
        this.cgroups
          ?.find(cgroupName(spec.taskId, spec.attempt))
          ?.remove()
          .catch((e: unknown) => this.cgroupLeft(e));
        const read = readResultFile(spec.resultPath, this.resultBytes);
        if ('missing' in read) return 'not-found';
        this.later(report, { type: 'exited', ...('result' in read ? { result: read.result } : { error: read.error }) });
        return 'following';
      }
    }
    const since = new Date().toISOString();
    this.allocator.claim(key, { user: spec.owner, jobId: spec.jobId, task: spec.taskName, since }, devices);
    const run: Running = { spec, report, pid, startTime, done: false };
    const cgroup = this.cgroups?.find(cgroupName(spec.taskId, spec.attempt));
    if (cgroup) run.cgroup = cgroup;
    // After a restart only the rest of the attempt is sampled.
    this.sampleGpus(run, devices);
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
      run.gpuSampler?.stop();
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
