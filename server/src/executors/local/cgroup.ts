/**
 * One control group per attempt, so that everything a task starts (double forks and new sessions
 * included) is found, limited, measured and killed together. cgroup v2 is the main path: one folder
 * with memory.max, cpu.max, memory.peak, cpu.stat and cgroup.kill. Machines that mount the v1
 * controllers (memory, cpu, cpuacct, freezer, pids, each its own tree) get one folder per controller,
 * killed through the freezer; a v2 tree mounted beside them (hybrid) still provides cgroup.kill.
 *
 * Attempts live in a `cellpipe` folder under each tree's root (the server must be allowed to create
 * it: root, or a delegated tree given as `cgroupParent`). Folder names derive from the attempt, so a
 * restarted server finds an attempt's cgroup again without storing anything.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CgroupLimits {
  memoryBytes?: number;
  cpuMillicores?: number;
}

export interface CgroupUsage {
  peakMemoryBytes?: number;
  cpuSeconds?: number;
  /** Processes of the attempt the kernel's OOM killer ended. */
  oomKills: number;
}

/** v1 controllers this module uses. */
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'freezer', 'pids'] as const;
type V1Controller = (typeof V1_CONTROLLERS)[number];
const V2_CONTROLLERS = ['memory', 'cpu', 'pids'];
const CPU_PERIOD_US = 100_000;
/** An empty attempt folder this old belongs to nobody (see CgroupManager.sweep). */
const STALE_MS = 10 * 60_000;

interface Mounts {
  v2?: string;
  v1: Map<V1Controller, string>;
}

/** Octal escapes (\040 for a space) in /proc/self/mountinfo paths. */
const unescape = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function cgroupMounts(mountinfo = '/proc/self/mountinfo'): Mounts {
  const mounts: Mounts = { v1: new Map() };
  let text = '';
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return mounts;
  }
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = unescape(left.split(' ')[4] ?? '');
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype === 'cgroup2') mounts.v2 ??= mountPoint;
    else if (fstype === 'cgroup') {
      for (const option of superOptions.split(',')) {
        const c = V1_CONTROLLERS.find((k) => k === option);
        if (c && !mounts.v1.has(c)) mounts.v1.set(c, mountPoint);
      }
    }
  }
  return mounts;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** `key value` lines (cpu.stat, memory.events, memory.oom_control) → the value of `key`. */
function statValue(text: string | undefined, key: string): number | undefined {
  const m = text ? new RegExp(`^${key} (\\d+)$`, 'm').exec(text) : null;
  return m ? Number(m[1]) : undefined;
}

function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CgroupManagerOptions {
  /** A writable cgroup v2 folder to create attempts in (a delegated tree); default: `cellpipe` at each tree's root. */
  parent?: string;
  mountinfo?: string;
}

export class CgroupManager {
  private constructor(
    /** v2: where attempts are created, and the controllers their folders get. */
    private readonly v2: { base: string; controllers: Set<string> } | undefined,
    /** v1: per controller, where attempts are created (co-mounted controllers share a folder). */
    private readonly v1: Map<V1Controller, string>,
  ) {}

  /**
   * The cgroup trees this server may create attempts in, or a reason why there are none (the executor
   * then falls back to process groups and says so).
   */
  static detect(options: CgroupManagerOptions = {}): CgroupManager | { unavailable: string } {
    const mounts = cgroupMounts(options.mountinfo);
    const problems: string[] = [];
    let v2: { base: string; controllers: Set<string> } | undefined;
    const v2Root = options.parent ? undefined : mounts.v2;
    const v2Base = options.parent ?? (v2Root ? join(v2Root, 'cellpipe') : undefined);
    if (v2Base) {
      try {
        mkdirSync(v2Base, { recursive: true });
        const available = (read(join(v2Root ?? v2Base, 'cgroup.controllers')) ?? '').split(/\s+/);
        const wanted = V2_CONTROLLERS.filter((c) => available.includes(c));
        // Enable the controllers for our folder (at the root) and for the attempts inside it.
        for (const c of wanted) {
          if (v2Root) tryWrite(join(v2Root, 'cgroup.subtree_control'), `+${c}`);
          tryWrite(join(v2Base, 'cgroup.subtree_control'), `+${c}`);
        }
        const enabled = (read(join(v2Base, 'cgroup.subtree_control')) ?? '').split(/\s+/).filter(Boolean);
        v2 = { base: v2Base, controllers: new Set(enabled) };
      } catch (err) {
        problems.push(`cgroup v2 at ${v2Base}: ${(err as Error).message}`);
      }
    }
    const v1 = new Map<V1Controller, string>();
    if (!options.parent) {
      for (const [controller, mount] of mounts.v1) {
        // A controller the v2 tree already provides is used there.
        if (v2?.controllers.has(controller === 'cpuacct' ? 'cpu' : controller)) continue;
        const base = join(mount, 'cellpipe');
        try {
          mkdirSync(base, { recursive: true });
          v1.set(controller, base);
        } catch (err) {
          problems.push(`cgroup v1 ${controller} at ${base}: ${(err as Error).message}`);
        }
      }
    }
    if (!v2 && !v1.size) {
      return { unavailable: problems.length ? problems.join('; ') : 'no cgroup tree is mounted' };
    }
    const manager = new CgroupManager(v2, v1);
    manager.sweep();
    return manager;
  }

  /**
   * Removes attempt folders nothing runs in any more and that have not changed for a while: attempts
   * that ended while no server followed them (a server that stopped and never came back for them).
   * A restarted server finds its open attempts' folders first; the age keeps a folder that another
   * server on this machine just made (and has not put its task into yet) out of reach.
   */
  sweep(now = Date.now()): void {
    const bases = [...new Set([...(this.v2 ? [this.v2.base] : []), ...this.v1.values()])];
    for (const base of bases) {
      let names: string[];
      try {
        names = readdirSync(base, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name);
      } catch {
        continue;
      }
      for (const name of names) {
        const dir = join(base, name);
        try {
          if (now - statSync(dir).mtimeMs < STALE_MS || (read(join(dir, 'cgroup.procs')) ?? 'x').trim()) continue;
          rmdirSync(dir);
        } catch {
          // In use, or gone already.
        }
      }
    }
  }

  /** What is in use, for the server's start-up line. */
  describe(): string {
    const parts: string[] = [];
    if (this.v2)
      parts.push(`cgroup v2 at ${this.v2.base} (${[...this.v2.controllers].join(', ') || 'no controllers'})`);
    if (this.v1.size) parts.push(`cgroup v1 ${[...this.v1.keys()].join(', ')}`);
    return parts.join(' + ');
  }

  /** Whether a memory limit (and an OOM count) can be set. */
  get enforcesMemory(): boolean {
    return Boolean(this.v2?.controllers.has('memory') || this.v1.has('memory'));
  }

  get enforcesCpu(): boolean {
    return Boolean(this.v2?.controllers.has('cpu') || this.v1.has('cpu'));
  }

  private folders(name: string): AttemptFolders {
    const v1 = new Map<V1Controller, string>();
    for (const [c, base] of this.v1) v1.set(c, join(base, name));
    return { v2: this.v2 ? join(this.v2.base, name) : undefined, v2Controllers: this.v2?.controllers, v1 };
  }

  /** A new cgroup for an attempt, with its limits set. Throws when a folder cannot be made. */
  create(name: string, limits: CgroupLimits): AttemptCgroup {
    const cg = new AttemptCgroup(this.folders(name));
    for (const dir of cg.dirs) mkdirSync(dir, { recursive: true });
    cg.limit(limits);
    return cg;
  }

  /** The cgroup of an attempt started by an earlier server process, when it still exists. */
  find(name: string): AttemptCgroup | undefined {
    const cg = new AttemptCgroup(this.folders(name));
    return cg.dirs.some((d) => existsSync(d)) ? cg : undefined;
  }
}

interface AttemptFolders {
  v2: string | undefined;
  v2Controllers: Set<string> | undefined;
  v1: Map<V1Controller, string>;
}

export class AttemptCgroup {
  /** Every folder of this attempt, once each. */
  readonly dirs: string[];

  constructor(private readonly f: AttemptFolders) {
    this.dirs = [...new Set([...(f.v2 ? [f.v2] : []), ...f.v1.values()])];
  }

  private v2Has(controller: string): string | undefined {
    return this.f.v2 && this.f.v2Controllers?.has(controller) ? this.f.v2 : undefined;
  }

  limit({ memoryBytes, cpuMillicores }: CgroupLimits): void {
    if (memoryBytes !== undefined) {
      const v2 = this.v2Has('memory');
      const v1 = this.f.v1.get('memory');
      if (v2) {
        writeFileSync(join(v2, 'memory.max'), String(memoryBytes));
        // Without this a task over its limit would swap instead of being stopped.
        tryWrite(join(v2, 'memory.swap.max'), '0');
      } else if (v1) {
        writeFileSync(join(v1, 'memory.limit_in_bytes'), String(memoryBytes));
        tryWrite(join(v1, 'memory.memsw.limit_in_bytes'), String(memoryBytes));
      }
    }
    if (cpuMillicores !== undefined) {
      const quota = Math.max(1000, Math.round((cpuMillicores * CPU_PERIOD_US) / 1000));
      const v2 = this.v2Has('cpu');
      const v1 = this.f.v1.get('cpu');
      if (v2) writeFileSync(join(v2, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
      else if (v1) {
        writeFileSync(join(v1, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeFileSync(join(v1, 'cpu.cfs_quota_us'), String(quota));
      }
    }
  }

  /** Moves a process (and what it starts from then on) into every folder of the attempt. */
  attach(pid: number): void {
    for (const dir of this.dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  }

  /** Live processes of the attempt. */
  procs(): number[] {
    const pids = new Set<number>();
    for (const dir of this.dirs) {
      for (const line of (read(join(dir, 'cgroup.procs')) ?? '').split('\n')) if (line) pids.add(Number(line));
    }
    return [...pids];
  }

  /** Kills every process of the attempt and resolves once none is left (or after `timeoutMs`). */
  async kill(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.procs().length && Date.now() < deadline) {
      if (!(this.f.v2 && tryWrite(join(this.f.v2, 'cgroup.kill'), '1'))) await this.freezeAndKill();
      await sleep(20);
    }
  }

  /** v1: freeze (so nothing forks in between), SIGKILL every member, thaw (they die as they run). */
  private async freezeAndKill(): Promise<void> {
    const freezer = this.f.v1.get('freezer');
    const state = freezer ? join(freezer, 'freezer.state') : undefined;
    if (state && tryWrite(state, 'FROZEN')) {
      for (let i = 0; i < 50 && read(state)?.trim() !== 'FROZEN'; i++) await sleep(2);
    }
    for (const pid of this.procs()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (state) tryWrite(state, 'THAWED');
  }

  usage(): CgroupUsage {
    const out: CgroupUsage = { oomKills: 0 };
    const mem2 = this.v2Has('memory');
    const mem1 = this.f.v1.get('memory');
    const peak = mem2
      ? Number(read(join(mem2, 'memory.peak')) ?? NaN)
      : mem1
        ? Number(read(join(mem1, 'memory.max_usage_in_bytes')) ?? NaN)
        : NaN;
    if (Number.isFinite(peak)) out.peakMemoryBytes = peak;
    const oom = mem2
      ? statValue(read(join(mem2, 'memory.events')), 'oom_kill')
      : mem1
        ? statValue(read(join(mem1, 'memory.oom_control')), 'oom_kill')
        : undefined;
    if (oom !== undefined) out.oomKills = oom;
    const cpuacct = this.f.v1.get('cpuacct');
    const ns = cpuacct ? Number(read(join(cpuacct, 'cpuacct.usage')) ?? NaN) : NaN;
    if (Number.isFinite(ns)) out.cpuSeconds = ns / 1e9;
    else if (this.f.v2) {
      const usec = statValue(read(join(this.f.v2, 'cpu.stat')), 'usage_usec');
      if (usec !== undefined) out.cpuSeconds = usec / 1e6;
    }
    return out;
  }

  /** Removes the folders (they must be empty: kill() first). */
  async remove(): Promise<void> {
    for (const dir of this.dirs) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || i === 49) break;
          await sleep(20);
        }
      }
    }
  }
}
