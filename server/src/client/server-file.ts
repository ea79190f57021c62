/**
 * `$CELLPIPE_HOME/server.json`: where a live server of this home listens. Written by the server once it
 * listens, removed when it stops; a leftover from a killed server is detected by its dead pid.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const ServerFileSchema = z.object({
  url: z.string().url(),
  pid: z.number().int().positive(),
  version: z.string().optional(),
  executor: z.string().optional(),
  startedAt: z.string().optional(),
  /** True for a server started by `cellpipe run` for its own duration. */
  embedded: z.boolean().optional(),
});
export type ServerFile = z.infer<typeof ServerFileSchema>;

export function serverFilePath(home: string): string {
  return join(home, 'server.json');
}

export function readServerFile(home: string): ServerFile | undefined {
  try {
    const r = ServerFileSchema.safeParse(JSON.parse(readFileSync(serverFilePath(home), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeServerFile(home: string, info: ServerFile): void {
  const path = serverFilePath(home);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** Remove server.json if it still describes this process (a successor may have replaced it). */
export function removeServerFile(home: string, pid = process.pid): void {
  const current = readServerFile(home);
  if (current && current.pid !== pid) return;
  rmSync(serverFilePath(home), { force: true });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
