/** Linux process helpers: identify a process by pid AND start time so a reused pid is never mistaken. */
import { readFileSync, readdirSync } from 'node:fs';

interface ProcStat {
  state: string;
  pgid: number;
  startTime: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after the last ")" are fixed.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] = field 3 (state); field 5 = pgrp; field 22 = starttime (clock ticks since boot).
    return { state: rest[0] ?? '?', pgid: Number(rest[2]), startTime: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** Start time in clock ticks since boot, or undefined when the process does not exist. */
export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/** True while the process with this pid and start time exists and is not a zombie. */
export function isAlive(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** True while any process of the group is alive (not zombie). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // kill(0) succeeds for zombies too; look for a live member.
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/** Find a process whose environment holds `NAME=value` (the attempt marker set at spawn). */
export function findByEnv(name: string, value: string): { pid: number; startTime: number } | undefined {
  const needle = Buffer.from(`${name}=${value}\0`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    const at = env.indexOf(needle);
    if (at === 0 || (at > 0 && env[at - 1] === 0)) {
      const stat = readStat(pid);
      // Only the group leader (the runner we spawned) counts, not its children that inherit the env.
      if (stat && stat.pgid === pid && stat.state !== 'Z') return { pid, startTime: stat.startTime };
    }
  }
  return undefined;
}

/** Signal a whole process group; a group that is already gone is not an error. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* ESRCH: nothing left */
  }
}
