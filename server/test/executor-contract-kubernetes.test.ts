/**
 * The executor contract, run by the Kubernetes executor against the test bed's real control plane
 * with kwok nodes: pods do not run code there, so each attempt's behaviour is steered by the bed's
 * pod annotations (testbed/README.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { describeExecutorContract, runnerLaunch, type Behaviour } from './executor-contract.js';
import { createNamespace, runnerArchive, startTestbed, type Testbed } from './kubernetes-bed.js';

const PAYLOAD_LIMIT = 50_000;
let bed: Testbed | undefined;
let namespace = '';
let workDir = '';
let seq = 0;
const steer = new Map<string, Record<string, string>>();

function annotations(b: Behaviour): Record<string, string> {
  if (b.kind === 'succeed') return {};
  if (b.kind === 'fail') return { 'testbed.cellpipe.io/outcome': 'fail', 'testbed.cellpipe.io/exit-code': '3' };
  return { 'testbed.cellpipe.io/delay': `${b.seconds}s` };
}

describeExecutorContract('kubernetes (kwok test bed)', {
  async setup() {
    bed = startTestbed();
    namespace = await createNamespace(bed.kc, 'contract');
    workDir = mkdtempSync(join(tmpdir(), 'cellpipe-contract-k8s-'));
  },
  async teardown() {
    bed?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  },
  executor: () =>
    new KubernetesExecutor({
      kubeConfig: bed!.kc,
      runnerArchive: runnerArchive(),
      config: { namespace, maxPayloadBytes: PAYLOAD_LIMIT },
      podAnnotations: (spec) => steer.get(spec.taskName) ?? {},
      warn: () => undefined,
    }),
  impossible: { gpu: 9 },
  readsResults: false,
  payloadLimit: PAYLOAD_LIMIT,
  attemptTimeoutMs: 120_000,
  launch(behaviour, options) {
    const taskName = `t${++seq}`;
    steer.set(taskName, annotations(behaviour));
    // kwok runs no code: the annotations steer the pod, and the runner's task.json only travels.
    return runnerLaunch(workDir, taskName, behaviour, options);
  },
});
