/**
 * Test helper: a real Kubernetes control plane with kwok-simulated GPU/MIG nodes,
 * started through scripts/k8s-testbed.sh. Builds the binaries first when they are
 * not cached yet (tens of minutes once per machine), so no test is skipped for
 * want of them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(repoRoot, 'scripts', 'k8s-testbed.sh');

/** The runner's zipapp (built by jest's global setup), which the executor ships in each job's owner ConfigMap. */
export const runnerArchive = (): Buffer => readFileSync(join(repoRoot, 'server', 'dist', 'cellpipe_runner.pyz'));

/** Enough for a cold build on a small shared machine. */
export const BUILD_TIMEOUT_MS = 90 * 60 * 1000;

export interface Testbed {
  dir: string;
  kubeconfigPath: string;
  kc: k8s.KubeConfig;
  /** The real node, when the bed was started with one. */
  realNode?: RealNode;
  stop(): void;
}

/** A real kubelet + containerd node in the bed (scripts/k8s-testbed.sh real-node up). */
export interface RealNode {
  name: string;
  /** The node's address on its pod bridge: pods reach the host there. */
  ip: string;
  /** The imported task image (python3, standard library only). */
  image: string;
  /** The taint only pods that ask for the real node tolerate. */
  taint: string;
  /** The cgroup subtree (under every hierarchy root) holding the node's pods. */
  cgroup: string;
  /** The network bridge of its pods. */
  bridge: string;
  /** Kubernetes executor settings that put every task on this node, in its image. */
  executorConfig: {
    nodeSelector: Record<string, string>;
    tolerations: { key: string; operator: 'Exists'; effect: 'NoSchedule' }[];
    defaultImage: string;
  };
}

function runScript(args: string[], timeoutMs: number): void {
  const result = spawnSync('bash', [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (result.status !== 0) {
    throw new Error(
      `scripts/k8s-testbed.sh ${args.join(' ')} failed (status ${String(result.status)}, signal ${String(result.signal)}):\n` +
        `${result.stderr}\n${result.stdout}`,
    );
  }
}

/**
 * Why this machine cannot run the bed's real node (not root, no overlayfs, ...), or undefined when it
 * can. Asked once per test file, at load, so real-node suites can be skipped with the reason printed.
 */
export function realNodeUnsupported(): string | undefined {
  const result = spawnSync('bash', [script, 'real-node', 'check'], { encoding: 'utf8', timeout: 60_000 });
  if (result.status === 0) return undefined;
  return (result.stdout + result.stderr).trim() || `real-node check exited ${String(result.status)}`;
}

/** Registers `name` as a skipped suite, printing why (`what` this machine cannot run). */
function skipSuite(name: string, what: string, reason: string): void {
  console.warn(`skipping "${name}": this machine cannot run ${what}: ${reason}`);
  describe.skip(name, () => {
    test(`needs ${what}`, () => undefined);
  });
}

/**
 * For suites that need the real node: where the machine cannot run one, prints why, registers `name`
 * as a skipped suite and returns true; everything else still runs.
 */
export function skipWithoutRealNode(name: string): boolean {
  const reason = realNodeUnsupported();
  if (!reason) return false;
  skipSuite(name, "the test bed's real node", reason);
  return true;
}

/** Why this machine cannot run the bed's Kueue (scripts/k8s-testbed.sh kueue check), or undefined. */
export function kueueUnsupported(): string | undefined {
  const result = spawnSync('bash', [script, 'kueue', 'check'], { encoding: 'utf8', timeout: 60_000 });
  if (result.status === 0) return undefined;
  return (result.stdout + result.stderr).trim() || `kueue check exited ${String(result.status)}`;
}

/** `describe` for suites that need Kueue in the bed: skipped, with the reason printed, where it cannot run. */
export function describeWithKueue(name: string, fn: () => void): void {
  const reason = kueueUnsupported();
  if (reason) skipSuite(name, "the test bed's Kueue", reason);
  else describe(name, fn);
}

/**
 * Starts Kueue for a running bed (scripts/k8s-testbed.sh kueue up: built into the cache first when
 * it is not there, minutes once per machine). The bed's `stop` removes its webhooks and stops it.
 */
export function startKueue(bed: Testbed): void {
  runScript(['kueue', 'up', bed.dir], BUILD_TIMEOUT_MS);
}

/** `describe` for suites that need the real node (see skipWithoutRealNode). */
export function describeOnRealNode(name: string, fn: () => void): void {
  if (!skipWithoutRealNode(name)) describe(name, fn);
}

function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function realNodeOf(dir: string): RealNode {
  const env = readEnvFile(join(dir, 'real-node', 'env'));
  const name = env.REAL_NODE_NAME!;
  const taint = env.REAL_NODE_TAINT!;
  return {
    name,
    ip: env.REAL_NODE_IP!,
    image: env.REAL_NODE_IMAGE!,
    taint,
    cgroup: env.REAL_NODE_CGROUP!,
    bridge: env.REAL_NODE_BRIDGE!,
    executorConfig: {
      nodeSelector: { [taint]: 'true' },
      tolerations: [{ key: taint, operator: 'Exists', effect: 'NoSchedule' }],
      defaultImage: env.REAL_NODE_IMAGE!,
    },
  };
}

/**
 * Starts a testbed in a fresh directory (or reuses CELLPIPE_K8S_TESTBED_DIR when set,
 * leaving it running on stop, so a developer can keep one bed across test runs). With
 * `realNode`, the bed also gets its real node (callers check realNodeUnsupported first).
 */
export function startTestbed(options: { realNode?: boolean } = {}): Testbed {
  runScript(['build'], BUILD_TIMEOUT_MS);
  if (options.realNode) runScript(['real-node', 'build'], BUILD_TIMEOUT_MS);
  const shared = process.env.CELLPIPE_K8S_TESTBED_DIR;
  const dir = shared ?? mkdtempSync(join(tmpdir(), 'cellpipe-k8s-'));
  try {
    runScript(options.realNode ? ['up', dir, '--real-node'] : ['up', dir], 5 * 60 * 1000);
  } catch (err) {
    if (!shared) {
      spawnSync('bash', [script, 'down', dir], { stdio: 'ignore', timeout: 120_000 });
      rmSync(dir, { recursive: true, force: true });
    }
    throw err;
  }
  const kubeconfigPath = join(dir, 'kubeconfig');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  let stopped = false;
  return {
    dir,
    kubeconfigPath,
    kc,
    realNode: options.realNode ? realNodeOf(dir) : undefined,
    stop() {
      if (shared || stopped) return;
      stopped = true;
      runScript(['down', dir], 120 * 1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value other than undefined. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A unique namespace per test file keeps beds reusable across runs. */
export async function createNamespace(kc: k8s.KubeConfig, prefix: string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const name = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  await core.createNamespace({ body: { metadata: { name } } });
  // Pods are admitted only once the controller-manager created the default ServiceAccount.
  await eventually(`default ServiceAccount in ${name}`, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
  return name;
}

/**
 * Kills the bed's kube-apiserver and starts it again with the same flags (asynchronously, so the
 * calling process keeps running its watches through the outage).
 */
export function restartApiserver(bed: Testbed): Promise<void> {
  return apiserverCommand(bed, 'restart-apiserver');
}

/** Kills the bed's kube-apiserver; `startApiserver` brings it back with the same flags and etcd. */
export function stopApiserver(bed: Testbed): Promise<void> {
  return apiserverCommand(bed, 'stop-apiserver');
}

export function startApiserver(bed: Testbed): Promise<void> {
  return apiserverCommand(bed, 'start-apiserver');
}

function apiserverCommand(bed: Testbed, command: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [script, command, bed.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`${command} failed (${String(code)}):\n${output}`)),
    );
  });
}
