/**
 * Test helper: an executor whose attempts run the real task runner as local processes that share no
 * files with the server, as a Kubernetes pod with the `server` data store does: each gets scratch
 * space of its own, its token in a file and a task.json from `serverStoreTaskJson`, and passes every
 * input, output, artifact, notebook and result through the server's task-data API. What the pod part
 * of the Kubernetes executor does, without a cluster; the real node tests prove the same with pods.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CancelRequest, Executor, LaunchSpec, ReportFn } from '../src/executors/executor.js';
import { readResultFile } from '../src/executors/result-file.js';
import { serverStoreTaskJson } from '../src/executors/server-store.js';

export class ProcessPodExecutor implements Executor {
  readonly name = 'process-pod';
  private readonly running = new Map<string, { child: ChildProcess; work: string; reason?: CancelRequest['reason'] }>();

  constructor(
    private readonly o: {
      serverUrl: () => string;
      runnerPath: string;
      retrySeconds?: number;
      /** Called before each attempt starts (a test changes the world the task meets). */
      beforeStart?: (spec: LaunchSpec) => void;
    },
  ) {}

  inventory = async () => ({ executor: this.name, resources: [] });

  async start(spec: LaunchSpec, report: ReportFn): Promise<void> {
    this.o.beforeStart?.(spec);
    const work = mkdtempSync(join(tmpdir(), 'cellpipe-pod-'));
    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, spec.dataToken ?? '', { mode: 0o600 });
    const taskJson = join(work, 'task.json');
    writeFileSync(
      taskJson,
      serverStoreTaskJson(spec, {
        serverUrl: this.o.serverUrl(),
        workDir: join(work, 'scratch'),
        tokenFile,
        retrySeconds: this.o.retrySeconds ?? 30,
      }),
    );
    const child = spawn('python3', [this.o.runnerPath, taskJson], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONUNBUFFERED: '1' },
    });
    const key = `${spec.taskId}#${spec.attempt}`;
    const entry: { child: ChildProcess; work: string; reason?: CancelRequest['reason'] } = { child, work };
    this.running.set(key, entry);
    child.stdout!.on('data', (d: Buffer) => report({ type: 'log', chunk: d.toString() }));
    child.stderr!.on('data', (d: Buffer) => report({ type: 'log', chunk: d.toString() }));
    report({ type: 'running', handle: { pid: child.pid ?? 0 } });
    child.on('close', (code, signal) => {
      this.running.delete(key);
      rmSync(work, { recursive: true, force: true });
      if (entry.reason) {
        report({ type: 'exited', error: { reason: entry.reason, message: `the attempt was ${entry.reason}` } });
        return;
      }
      const read = readResultFile(spec.resultPath, 8 * 1024 * 1024);
      report({
        type: 'exited',
        exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
        ...('result' in read ? { result: read.result } : {}),
      });
    });
  }

  async cancel(request: CancelRequest): Promise<void> {
    const entry = this.running.get(`${request.taskId}#${request.attempt}`);
    if (!entry) return;
    entry.reason = request.reason;
    entry.child.kill('SIGTERM');
  }

  async reattach(): Promise<'following' | 'not-found'> {
    return 'not-found';
  }

  async close(): Promise<void> {
    for (const { child } of this.running.values()) child.kill('SIGKILL');
  }
}
