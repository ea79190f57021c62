/**
 * A bare engine process (no HTTP): `node dist/engine-process.js --home DIR [--gpus SPEC]`,
 * driven over the Node IPC channel. Used to prove crash safety (the test SIGKILLs it mid-job and
 * starts it again) and by the benchmarks.
 *
 * In:  {type:'submit', id, owner, request} · {type:'cancel', id, jobId}
 * Out: {type:'ready'} · {type:'reply', id, job?|error?} · {type:'job', job: JobSummary} · {type:'task', event}
 */
import { SubmitJobRequestSchema } from '@cellpipe/schema';
import { ServerConfigSchema } from './config.js';
import { createJobService, type EngineOptions } from './engine.js';
import { defaultRunnerPath } from './executors/local/local-executor.js';
import { createExecutor } from './executors/registry.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const home = arg('home');
  if (!home || !process.send) {
    process.stderr.write('usage: engine-process --home DIR [--gpus SPEC] (spawned with an IPC channel)\n');
    process.exit(2);
  }
  const gpus = arg('gpus');
  const config = ServerConfigSchema.parse({ home, ...(gpus !== undefined ? { gpus } : {}) });
  const executor = await createExecutor(config.executor, {
    config,
    runnerPath: defaultRunnerPath(),
    warn: (message) => process.stderr.write(`${message}\n`),
  });
  const options: EngineOptions = { home, executor };
  const backoff = arg('retry-backoff-ms');
  if (backoff !== undefined) options.retryBackoffMs = Number(backoff);
  const service = createJobService(options);
  const send = (msg: unknown): void => {
    if (process.connected) process.send!(msg);
  };
  service.events.on('job', (job) => send({ type: 'job', job }));
  service.events.on('task', (event) => send({ type: 'task', event }));
  await service.start();
  process.on('message', (raw: unknown) => {
    const msg = raw as { type?: string; id?: number; owner?: string; request?: unknown; jobId?: string };
    const reply = async (): Promise<unknown> => {
      if (msg.type === 'submit') return service.submit(msg.owner ?? 'user', SubmitJobRequestSchema.parse(msg.request));
      if (msg.type === 'cancel' && msg.jobId) return service.cancel(msg.jobId);
      return undefined;
    };
    reply().then(
      (job) => job && send({ type: 'reply', id: msg.id, job }),
      (err: unknown) => send({ type: 'reply', id: msg.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => {
    service.close().then(
      () => process.exit(0),
      (err: unknown) => fail(err),
    );
  });
  send({ type: 'ready' });
}

function fail(err: unknown): never {
  process.stderr.write(`engine-process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

main().catch(fail);
