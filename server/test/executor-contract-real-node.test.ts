/**
 * The executor contract, run by the Kubernetes executor on the test bed's real node with each data
 * store: pods really run the task runner, and its result.json comes back through the executor's
 * dataVolume (a hostPath claim of the harness's directory, the same path in the pods), or through the
 * task-data API of a server at the node's bridge address (each attempt with a token of its own). One
 * bed for both. Skipped, with the reason printed, where the machine cannot run a real node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { PipelineSchema } from '@cellpipe/schema';
import { hostPathClaim } from '../../scripts/testbed-volume.js';
import { mintAttemptToken } from '../src/auth/attempt-token.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { mapError } from '../src/http/errors.js';
import { taskDataRouter } from '../src/http/task-data-routes.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { JobLayout } from '../src/store/layout.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { CONTRACT_JOB_ID, describeExecutorContract, runnerLaunch } from './executor-contract.js';
import { createNamespace, runnerArchive, skipWithoutRealNode, startTestbed, type Testbed } from './kubernetes-bed.js';

const NAME = 'kubernetes (real node)';
const PAYLOAD_LIMIT = 50_000;
let bed: Testbed | undefined;
let namespace = '';
let seq = 0;

async function sharedBed(): Promise<Testbed> {
  if (!bed) {
    bed = startTestbed({ realNode: true });
    namespace = await createNamespace(bed.kc, 'contract-real');
  }
  return bed;
}

const common = {
  // The real node has two (fake) GPUs, and the executor's pods go nowhere else.
  impossible: { gpu: 3 },
  readsResults: true,
  payloadLimit: PAYLOAD_LIMIT,
  attemptTimeoutMs: 120_000,
};

if (!skipWithoutRealNode(`executor contract: ${NAME}`)) {
  afterAll(() => bed?.stop());

  let volumeRoot = '';
  let claimName = '';
  describeExecutorContract(`${NAME}, volume data store`, {
    ...common,
    async setup() {
      const b = await sharedBed();
      volumeRoot = mkdtempSync(join(tmpdir(), 'cellpipe-contract-real-'));
      claimName = await hostPathClaim(b.kc, namespace, volumeRoot, 'contract-data');
    },
    async teardown() {
      if (volumeRoot) rmSync(volumeRoot, { recursive: true, force: true });
    },
    executor: () =>
      new KubernetesExecutor({
        kubeConfig: bed!.kc,
        runnerArchive: runnerArchive(),
        config: {
          namespace,
          ...bed!.realNode!.executorConfig,
          dataVolume: { claimName, mountPath: volumeRoot },
          maxPayloadBytes: PAYLOAD_LIMIT,
        },
        warn: () => undefined,
      }),
    launch: (behaviour, options) => runnerLaunch(volumeRoot, `v${++seq}`, behaviour, options),
  });

  // The server side of the server store alone: its task-data API over the attempts the harness opens.
  let serverRoot = '';
  let store: SqliteStore | undefined;
  let server: Server | undefined;
  let serverUrl = '';
  describeExecutorContract(`${NAME}, server data store`, {
    ...common,
    async setup() {
      const b = await sharedBed();
      serverRoot = mkdtempSync(join(tmpdir(), 'cellpipe-contract-server-'));
      store = new SqliteStore(join(serverRoot, 'cellpipe.db'));
      store.insertJob(
        {
          id: CONTRACT_JOB_ID,
          name: 'contract',
          owner: 'alice',
          state: 'running',
          executor: 'kubernetes',
          createdAt: new Date().toISOString(),
          pipeline: PipelineSchema.parse({
            apiVersion: 'cellpipe.io/v1',
            kind: 'Pipeline',
            metadata: { name: 'contract' },
            spec: { source: { notebook: 'contract.ipynb' }, tasks: [{ name: 'contract', cells: [0] }] },
          }),
          parameters: {},
        },
        [],
      );
      const app = express();
      app.use('/api/task-data', taskDataRouter({ store, layout: new JobLayout(serverRoot), limits: DEFAULT_LIMITS }));
      app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
        const mapped = mapError(err);
        res.status(mapped.status).json(mapped.body);
      });
      const listening = createServer(app);
      server = listening;
      await new Promise<void>((r) => listening.listen(0, b.realNode!.ip, r));
      serverUrl = `http://${b.realNode!.ip}:${(listening.address() as AddressInfo).port}`;
    },
    async teardown() {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server?.closeAllConnections();
      store?.close();
      if (serverRoot) rmSync(serverRoot, { recursive: true, force: true });
    },
    executor: () =>
      new KubernetesExecutor({
        kubeConfig: bed!.kc,
        runnerArchive: runnerArchive(),
        config: { namespace, ...bed!.realNode!.executorConfig, serverUrl, maxPayloadBytes: PAYLOAD_LIMIT },
        warn: () => undefined,
      }),
    launch: (behaviour, options) => {
      const spec = runnerLaunch(serverRoot, `s${++seq}`, behaviour, options);
      // Opened as the orchestrator opens an attempt: its token minted and its hash stored.
      const { token, hash } = mintAttemptToken();
      store!.apply({
        attempts: [
          {
            jobId: spec.jobId,
            task: spec.taskName,
            attempt: spec.attempt,
            state: 'starting',
            handle: null,
            createdAt: new Date().toISOString(),
            tokenHash: hash,
          },
        ],
      });
      return { ...spec, dataToken: token };
    },
  });
}
