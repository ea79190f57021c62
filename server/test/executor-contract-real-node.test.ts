/**
 * The executor contract, run by the Kubernetes executor on the test bed's real node: pods really run
 * the task runner, and its result.json comes back through the executor's dataVolume (a hostPath
 * claim of the harness's directory, the same path in the pods). Skipped, with the reason printed,
 * where the machine cannot run a real node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPathClaim } from '../../scripts/testbed-volume.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { describeExecutorContract, runnerLaunch } from './executor-contract.js';
import { createNamespace, runnerArchive, skipWithoutRealNode, startTestbed, type Testbed } from './kubernetes-bed.js';

const NAME = 'kubernetes (real node)';
const PAYLOAD_LIMIT = 50_000;
let bed: Testbed | undefined;
let namespace = '';
let root = '';
let claimName = '';
let seq = 0;

if (!skipWithoutRealNode(`executor contract: ${NAME}`)) {
  describeExecutorContract(NAME, {
    async setup() {
      bed = startTestbed({ realNode: true });
      namespace = await createNamespace(bed.kc, 'contract-real');
      root = mkdtempSync(join(tmpdir(), 'cellpipe-contract-real-'));
      claimName = await hostPathClaim(bed.kc, namespace, root, 'contract-data');
    },
    async teardown() {
      bed?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    },
    executor: () =>
      new KubernetesExecutor({
        kubeConfig: bed!.kc,
        runnerArchive: runnerArchive(),
        config: {
          namespace,
          ...bed!.realNode!.executorConfig,
          dataVolume: { claimName, mountPath: root },
          maxPayloadBytes: PAYLOAD_LIMIT,
        },
        warn: () => undefined,
      }),
    // The real node has two (fake) GPUs, and the executor's pods go nowhere else.
    impossible: { gpu: 3 },
    readsResults: true,
    payloadLimit: PAYLOAD_LIMIT,
    attemptTimeoutMs: 120_000,
    launch: (behaviour, options) => runnerLaunch(root, `t${++seq}`, behaviour, options),
  });
}
