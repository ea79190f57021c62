/** The real CLI (server/dist, built by `npm run build`): `cellpipe serve` on a home for crash tests, and one command run to its end. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CellpipeClient } from '../src/client/api-client.js';

export const cliJs = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

/** Starts `cellpipe serve --port 0` on `home`; resolves once it listens, with a client holding the home token. */
export function serve(home: string): Promise<{ child: ChildProcess; client: CellpipeClient }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliJs, 'serve', '--port', '0'], {
      env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_GPUS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    child.stderr!.on('data', (d: Buffer) => (errText += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /cellpipe listening on (\S+)/.exec(out);
      if (m) {
        const token = readFileSync(join(home, 'token'), 'utf8').trim();
        resolve({ child, client: new CellpipeClient({ url: m[1]!, token }) });
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${String(code)}: ${errText}`)));
  });
}

/** Runs the CLI with `args` (stdin: `input`) and resolves with its exit code and output. */
export function runCli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliJs, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Sends `signal` and resolves once the process has exited. */
export function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
