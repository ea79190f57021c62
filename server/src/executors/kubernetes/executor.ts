/**
 * KubernetesExecutor: every task attempt is a batch/v1 Job. Status comes from watches on Jobs, pods
 * and nodes (never polling); names are deterministic so creates are idempotent and a restarted server
 * finds its Jobs again by label. Cancel deletes the Job with Foreground propagation, so `exited`
 * arrives only after the pod is gone.
 */
import { readFile, stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import * as k8s from '@kubernetes/client-node';
import type { Inventory } from '@cellpipe/schema';
import type {
  AttemptHandle,
  CancelRequest,
  Executor,
  ExecutorEvent,
  LaunchSpec,
  ReportFn,
  StopReason,
} from '../executor.js';
import { DEFAULT_LIMITS } from '../../limits.js';
import { readResultFile } from '../result-file.js';
import { missingAccess } from './access.js';
import { pooledApiClients, type ApiClients } from './api-clients.js';
import { cachedJob, cachedPod } from './cached.js';
import { pinnedImage } from './image.js';
import { computeInventory } from './inventory.js';
import {
  KUEUE_GROUP,
  WORKLOAD_VERSION,
  cachedWorkload,
  evictionOf,
  usesKueue,
  workloadJobName,
  type Workload,
} from './kueue.js';
import {
  CONTAINER_NAME,
  PayloadError,
  buildJob,
  dataPath,
  ownerConfigMap,
  ownerReference,
  tokenSecret,
  tokenSecretName,
} from './job-spec.js';
import { JOB_NAME_LABEL, MANAGED_SELECTOR, jobName, ownerName } from './names.js';
import {
  KubernetesExecutorConfigSchema,
  type KubernetesExecutorConfig,
  type KubernetesExecutorConfigInput,
} from './options.js';
import { Reflector } from './reflector.js';
import { UnsatisfiableError, placeResources } from './resources.js';
import { attemptStatus, type AttemptStatus, type RunTimes } from './status.js';

export interface KubernetesExecutorDeps {
  kubeConfig: k8s.KubeConfig;
  config?: KubernetesExecutorConfigInput;
  /** The runner's zipapp (cellpipe_runner.pyz), shipped in each Cellpipe job's owner ConfigMap. */
  runnerArchive: Buffer;
  /** The researcher's notebook image (JUPYTER_IMAGE): the default for tasks that name none. */
  notebookImage?: string;
  /** Extra pod annotations per attempt (e.g. a test cluster's steering annotations). */
  podAnnotations?: (spec: LaunchSpec) => Record<string, string>;
  /** Server variables every task gets (the config's `passEnv`, resolved). */
  passedEnv?: Record<string, string>;
  /** Largest result.json read from the data volume (default: limits.ts). */
  resultBytes?: number;
  /** Problems the executor recovers from by itself (watch errors); default: console.warn. */
  warn?: (message: string) => void;
  /**
   * With `namespacePerTeam`: the namespace of each team's Jobs (auth/teams.ts); a job whose team has
   * none, or that has no team, stays in `namespace`.
   */
  teamNamespaces?: Record<string, string>;
}

interface Tracked {
  /** Where result.json reaches the server (the runner uploads it there, or writes it on the shared
   * volume). Not the whole LaunchSpec: its payload holds the task's code, and thousands of attempts
   * are tracked at once. */
  resultPath: string;
  /** The Secret holding the attempt's data token (`server` store), deleted once the attempt ended. */
  secret?: string;
  report: ReportFn;
  name: string;
  /** Where its Job lives (the team's namespace, or the executor's). */
  namespace: string;
  /** The Job has been seen in the cache: its later absence means it was deleted. */
  seen: boolean;
  /**
   * The attempt has been reported running (by this process, or before a restart) and not requeued
   * since: a Job suspended now was stopped by its queue (a Kueue preemption).
   */
  wasRunning: boolean;
  lastKey: string;
  cancelReason?: StopReason;
  finishing: boolean;
  /** Its deletion has been issued already (an image that cannot be pulled). */
  deleting: boolean;
  /** Live log stream while the pod runs. */
  follow?: AbortController;
  /**
   * How many bytes of the container's log are saved already: reported by this process, or (after a
   * restart) found in the attempt's log file. A log read again from its start skips them.
   */
  savedBytes: number;
  followClosed: boolean;
  /** Counts the pods followed: a stream of a pod the queue stopped no longer reports. */
  followed: number;
}

function tracked(
  spec: LaunchSpec,
  namespace: string,
  report: ReportFn,
  name: string,
  seen: boolean,
  cfg: KubernetesExecutorConfig,
  savedBytes = 0,
): Tracked {
  return {
    resultPath: spec.resultPath,
    secret: dataPath(cfg) === 'server' ? tokenSecretName(spec) : undefined,
    report,
    name,
    namespace,
    seen,
    wasRunning: false,
    lastKey: '',
    finishing: false,
    deleting: false,
    savedBytes,
    followClosed: false,
    followed: 0,
  };
}

/** Written into an attempt's log when its queue stops it: what follows is its next pod's log. */
const REQUEUE_MARK = '[cellpipe] requeued: ';

/**
 * How much of the current pod's log an earlier server process saved (0 when nothing): the log file's
 * size, less whatever came before the last requeue (the log of pods the queue stopped).
 */
async function savedLogBytes(logPath: string, requeued: boolean): Promise<number> {
  try {
    if (!requeued) return (await stat(logPath)).size;
    const text = await readFile(logPath);
    const mark = text.lastIndexOf(REQUEUE_MARK);
    if (mark < 0) return text.length;
    const lineEnd = text.indexOf('\n', mark);
    return lineEnd < 0 ? 0 : text.length - lineEnd - 1;
  } catch {
    return 0;
  }
}

const LOG_LIMIT_BYTES = 8 * 1024 * 1024;
const FALLBACK_IMAGE = 'python:3.11-slim';
/** Every tracked attempt is judged again from the cache this often, as if its Job had changed. */
const RESYNC_MS = 5 * 60_000;
/** How long a digest lookup is trusted: the notebook may restart on a newer image, or not report one yet. */
const PIN_REFRESH_MS = 60_000;

function httpCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'number') {
    return (err as { code: number }).code;
  }
  return undefined;
}

/** A short message for users: ApiException messages carry headers and whole bodies. */
function describe(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
          message = (parsed as { message: string }).message;
        }
      } catch {
        message = undefined;
      }
    } else if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
      message = (body as { message: string }).message;
    }
    return `Kubernetes API error ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The Job a pod belongs to (the Job controller sets both labels; older clusters only job-name). */
function podJobName(pod: k8s.V1Pod): string | undefined {
  const labels = pod.metadata?.labels;
  return labels?.[JOB_NAME_LABEL] ?? labels?.['job-name'];
}

/** The container's start and end, for events (only the fields it has). */
function runTimes(status: RunTimes): RunTimes {
  const out: RunTimes = {};
  if (status.startedAt) out.startedAt = status.startedAt;
  if (status.finishedAt) out.finishedAt = status.finishedAt;
  return out;
}

export class KubernetesExecutor implements Executor {
  readonly name = 'kubernetes';
  readonly containerPerAttempt = true;
  readonly config: KubernetesExecutorConfig;
  private readonly kc: k8s.KubeConfig;
  private readonly clients: ApiClients;
  private readonly core: k8s.CoreV1Api;
  private readonly batch: k8s.BatchV1Api;
  /** Task Jobs and their pods, watched per namespace (the executor's, and each team's). */
  private readonly jobs = new Map<string, Reflector<k8s.V1Job>>();
  private readonly pods = new Map<string, Reflector<k8s.V1Pod>>();
  /** Kueue's Workloads per namespace, by the Job they belong to (only when Jobs are queued in Kueue). */
  private readonly workloads = new Map<string, Reflector<Workload>>();
  private readonly teamNamespaces: Record<string, string>;
  private readonly nodes: Reflector<k8s.V1Node>;
  private readonly clusterPods: Reflector<k8s.V1Pod> | undefined;
  private readonly tracked = new Map<string, Tracked>();
  /** Owner ConfigMap uids by `<namespace>/<jobId>` (an owner must live in its Jobs' namespace). */
  private readonly ownerUids = new Map<string, string>();
  private notebookPin: { image: string; until: number } | undefined;
  private started: Promise<void> | undefined;
  private readonly warn: (message: string) => void;

  constructor(private readonly deps: KubernetesExecutorDeps) {
    this.config = KubernetesExecutorConfigSchema.parse(deps.config ?? {});
    this.kc = deps.kubeConfig;
    this.clients = pooledApiClients(this.kc);
    this.core = this.clients.make(k8s.CoreV1Api);
    this.batch = this.clients.make(k8s.BatchV1Api);
    this.warn = deps.warn ?? ((m) => console.warn(m));
    this.teamNamespaces = this.config.namespacePerTeam ? { ...(deps.teamNamespaces ?? {}) } : {};
    const onError = (what: string) => (err: unknown) =>
      this.warn(`kubernetes executor: ${what} watch: ${describe(err)}`);
    const custom = usesKueue(this.config) ? this.clients.make(k8s.CustomObjectsApi) : undefined;
    for (const ns of this.namespaces) {
      this.jobs.set(
        ns,
        new Reflector(this.kc, {
          path: `/apis/batch/v1/namespaces/${ns}/jobs`,
          list: () => this.batch.listNamespacedJob({ namespace: ns, labelSelector: MANAGED_SELECTOR }),
          labelSelector: MANAGED_SELECTOR,
          keep: cachedJob,
          resyncMs: RESYNC_MS,
          onChange: (_t, job) => this.onJob(job),
          onError: onError('Job'),
        }),
      );
      this.pods.set(
        ns,
        new Reflector(this.kc, {
          path: `/api/v1/namespaces/${ns}/pods`,
          list: () => this.core.listNamespacedPod({ namespace: ns, labelSelector: MANAGED_SELECTOR }),
          labelSelector: MANAGED_SELECTOR,
          keep: cachedPod,
          indexBy: podJobName,
          onChange: (_t, pod) => this.onPod(pod),
          onError: onError('pod'),
        }),
      );
      if (custom) {
        this.workloads.set(
          ns,
          new Reflector<Workload>(this.kc, {
            path: `/apis/${KUEUE_GROUP}/${WORKLOAD_VERSION}/namespaces/${ns}/workloads`,
            list: async () =>
              (await custom.listNamespacedCustomObject({
                group: KUEUE_GROUP,
                version: WORKLOAD_VERSION,
                namespace: ns,
                plural: 'workloads',
              })) as k8s.KubernetesListObject<Workload>,
            keep: cachedWorkload,
            indexBy: workloadJobName,
            onChange: (_t, wl) => this.onWorkload(wl),
            onError: onError('Kueue Workload'),
          }),
        );
      }
    }
    this.nodes = new Reflector(this.kc, {
      path: '/api/v1/nodes',
      list: () => this.core.listNode({}),
      onError: onError('node'),
    });
    if (this.config.inventoryScope === 'cluster') {
      const unfinished = 'status.phase!=Succeeded,status.phase!=Failed';
      this.clusterPods = new Reflector(this.kc, {
        path: '/api/v1/pods',
        list: () => this.core.listPodForAllNamespaces({ fieldSelector: unfinished }),
        fieldSelector: unfinished,
        keep: cachedPod,
        onError: onError('cluster pod'),
      });
    }
  }

  /** Every namespace task Jobs may live in: the executor's, then the teams'. */
  get namespaces(): string[] {
    return [...new Set([this.config.namespace, ...Object.values(this.teamNamespaces ?? {})])];
  }

  /** Where an attempt's Job lives: its team's namespace, or the executor's. */
  namespaceOf(spec: Pick<LaunchSpec, 'team'>): string {
    return (spec.team !== undefined && this.teamNamespaces[spec.team]) || this.config.namespace;
  }

  /** Every cached pod of Cellpipe's, in all its namespaces. */
  private ownPods(): k8s.V1Pod[] {
    return [...this.pods.values()].flatMap((r) => r.list());
  }

  /** Reads the runner from disk; the usual way to build one for the server. */
  static async create(
    deps: Omit<KubernetesExecutorDeps, 'runnerArchive'> & { runnerPath: string },
  ): Promise<KubernetesExecutor> {
    const runnerArchive = await readFile(deps.runnerPath);
    return new KubernetesExecutor({ ...deps, runnerArchive });
  }

  /** Starts the watches once; every public method waits for the first lists. */
  private ensureStarted(): Promise<void> {
    this.started ??= Promise.all([
      ...[...this.jobs.values()].map((r) => r.start()),
      ...[...this.pods.values()].map((r) => r.start()),
      this.nodes.start(),
      this.clusterPods?.start(),
      ...[...this.workloads.values()].map((r) =>
        r.start().catch((err: unknown) => {
          throw httpCode(err) === 404
            ? new Error(
                `Jobs are queued in Kueue (kubernetes.queueName, userQueues or teamQueues) but the cluster has no Kueue: ` +
                  `${KUEUE_GROUP}/${WORKLOAD_VERSION} workloads are not served`,
              )
            : err;
        }),
      ),
    ]).then(
      () => undefined,
      (err: unknown) => {
        this.started = undefined;
        this.stopWatches();
        throw new Error(`cannot watch the cluster: ${describe(err)}`);
      },
    );
    return this.started;
  }

  private stopWatches(): void {
    for (const r of this.jobs.values()) r.stop();
    for (const r of this.pods.values()) r.stop();
    this.nodes.stop();
    this.clusterPods?.stop();
    for (const r of this.workloads.values()) r.stop();
  }

  /** The rights this executor needs and its identity lacks (empty: all there). */
  async checkAccess(): Promise<string[]> {
    try {
      return await missingAccess(this.clients.make(k8s.AuthorizationV1Api), this.config, this.namespaces);
    } catch (err) {
      throw new Error(`cannot reach the cluster to check its permissions: ${describe(err)}`);
    }
  }

  async inventory(): Promise<Inventory> {
    await this.ensureStarted();
    return computeInventory(
      this.nodes.list(),
      this.clusterPods ? this.clusterPods.list() : this.ownPods(),
      this.placementOptions(),
    );
  }

  private placementOptions() {
    return {
      migStrategy: this.config.migStrategy,
      nodeSelector: this.config.nodeSelector,
      tolerations: this.config.tolerations,
    };
  }

  async start(spec: LaunchSpec, report: ReportFn): Promise<void> {
    await this.ensureStarted();
    const name = jobName(spec.jobId, spec.taskName, spec.attempt);
    const following = this.tracked.get(name);
    if (following) {
      // Already followed (a repeated call): the new listener gets the news from here on.
      const previous = following.report;
      following.report = (e) => {
        previous(e);
        report(e);
      };
      return;
    }
    const namespace = this.namespaceOf(spec);
    const t = tracked(spec, namespace, report, name, false, this.config);

    let placement;
    try {
      // An empty node list only maps the request, without judging it.
      placement = placeResources(
        spec.resources,
        this.config.checkNodeCapacity ? this.nodes.list() : [],
        this.placementOptions(),
      );
    } catch (err) {
      if (err instanceof UnsatisfiableError) {
        report({ type: 'exited', error: { reason: 'unschedulable', message: err.message } });
        return;
      }
      throw err;
    }

    this.tracked.set(name, t);
    try {
      // Built (and size-checked) before anything is created.
      const body = buildJob({
        spec,
        namespace,
        cfg: this.config,
        placement,
        image: spec.image ?? this.defaultImage(),
        podAnnotations: this.deps.podAnnotations?.(spec),
        passedEnv: this.deps.passedEnv,
      });
      const ownerUid = await this.ensureOwner(spec, namespace);
      body.metadata!.ownerReferences = [ownerReference(spec.jobId, ownerUid)];
      // The token's Secret exists before the pod that mounts it (else the kubelet waits and retries).
      if (t.secret) await this.putTokenSecret(spec, ownerUid, namespace);
      try {
        await this.batch.createNamespacedJob({ namespace, body });
      } catch (err) {
        // The same attempt was created before (a retried call, a restart): the watch follows that one.
        if (httpCode(err) !== 409) throw err;
      }
    } catch (err) {
      if (err instanceof PayloadError) {
        this.finish(t, { type: 'exited', error: { reason: 'payload-too-large', message: err.message } });
        return;
      }
      this.tracked.delete(name);
      throw new Error(`cannot start ${spec.taskId} attempt ${spec.attempt}: ${describe(err)}`);
    }
    this.evaluate(t);
  }

  async cancel({ jobId, taskName, attempt, reason }: CancelRequest): Promise<void> {
    await this.ensureStarted();
    const name = jobName(jobId, taskName, attempt);
    const t = this.tracked.get(name);
    if (t) t.cancelReason = reason;
    const gone = await this.deleteJob(name, t?.namespace ?? this.cachedNamespaceOf(name));
    if (gone && t) this.finish(t, { type: 'exited', error: { reason, message: `the attempt was ${reason}` } });
  }

  async reattach(spec: LaunchSpec, handle: AttemptHandle | null, report: ReportFn): Promise<'following' | 'not-found'> {
    await this.ensureStarted();
    const name = jobName(spec.jobId, spec.taskName, spec.attempt);
    const namespace = this.namespaceOf(spec);
    let job = this.jobs.get(namespace)!.get(namespace, name);
    if (!job) {
      try {
        job = await this.batch.readNamespacedJob({ name, namespace });
      } catch (err) {
        if (httpCode(err) !== 404) throw new Error(`cannot look up ${name}: ${describe(err)}`);
      }
    }
    if (!job) {
      if (!handle) return 'not-found';
      report({
        type: 'exited',
        error: { reason: 'lost', message: `Job ${name} no longer exists (deleted while the server was down)` },
      });
      return 'following';
    }
    // The log saved before the restart is not reported again.
    const requeued = Boolean(this.workloadOf(namespace, name)?.status?.schedulingStats?.evictions?.length);
    const t = tracked(spec, namespace, report, name, true, this.config, await savedLogBytes(spec.logPath, requeued));
    // It ran before the restart: a Job suspended now was stopped by its queue.
    t.wasRunning = handle !== null;
    this.tracked.set(name, t);
    this.evaluate(t);
    return 'following';
  }

  async close(): Promise<void> {
    for (const t of this.tracked.values()) {
      t.followClosed = true;
      t.follow?.abort();
    }
    this.stopWatches();
    this.started = undefined;
    this.tracked.clear();
    // Idle keep-alive sockets would hold the process open.
    this.clients.close();
  }

  /**
   * The job has ended: its attempts' Jobs are deleted as each ends, so only the owner ConfigMap (the
   * runner's copy) is left. Kept with keepFinishedJobs, whose Jobs it owns; deleted with the job then.
   */
  async jobEnded(jobId: string): Promise<void> {
    if (this.config.keepFinishedJobs) return;
    try {
      await this.deleteJobObjects(jobId);
    } catch (err) {
      this.warn(`kubernetes executor: ${describe(err)}`);
    }
  }

  /**
   * Deletes a Cellpipe job's owner ConfigMap; Kubernetes garbage-collects its Jobs and pods. Asked of
   * every namespace the job may have used (its team's, or the executor's: a few).
   */
  async deleteJobObjects(jobId: string): Promise<void> {
    for (const namespace of this.namespaces) {
      try {
        await this.core.deleteNamespacedConfigMap({
          name: ownerName(jobId),
          namespace,
          body: { propagationPolicy: 'Foreground' },
        });
      } catch (err) {
        if (httpCode(err) !== 404) throw new Error(`cannot delete the objects of job ${jobId}: ${describe(err)}`);
      }
      this.ownerUids.delete(`${namespace}/${jobId}`);
    }
  }

  // ------------------------------------------------------------------ internals

  /** The configured default, else the notebook's image pinned to its digest when a running pod reports it. */
  private defaultImage(): string {
    if (this.config.defaultImage) return this.config.defaultImage;
    const notebook = this.deps.notebookImage;
    if (!notebook) return FALLBACK_IMAGE;
    const now = Date.now();
    if (!this.notebookPin || this.notebookPin.until <= now) {
      const pinned = pinnedImage(notebook, this.clusterPods ? this.clusterPods.list() : this.ownPods());
      this.notebookPin = { image: pinned ?? notebook, until: now + PIN_REFRESH_MS };
    }
    return this.notebookPin.image;
  }

  private async ensureOwner(spec: LaunchSpec, namespace: string): Promise<string> {
    const key = `${namespace}/${spec.jobId}`;
    const known = this.ownerUids.get(key);
    if (known) return known;
    const body = ownerConfigMap(spec, this.deps.runnerArchive, this.config, namespace);
    let cm: k8s.V1ConfigMap;
    try {
      cm = await this.core.createNamespacedConfigMap({ namespace, body });
    } catch (err) {
      if (httpCode(err) !== 409) throw err;
      cm = await this.core.readNamespacedConfigMap({ name: body.metadata!.name!, namespace });
    }
    const uid = cm.metadata?.uid;
    if (!uid) throw new Error(`ConfigMap ${body.metadata!.name!} has no uid`);
    this.ownerUids.set(key, uid);
    return uid;
  }

  /**
   * Creates the attempt's token Secret, or replaces it: an attempt started again after a restart has a
   * new token (the server keeps only hashes).
   */
  private async putTokenSecret(spec: LaunchSpec, ownerUid: string, namespace: string): Promise<void> {
    if (!spec.dataToken) throw new Error("the server data store needs the attempt's data token");
    const body = tokenSecret(spec, this.config, spec.dataToken, ownerUid, namespace);
    try {
      await this.core.createNamespacedSecret({ namespace, body });
    } catch (err) {
      if (httpCode(err) !== 409) throw err;
      await this.core.replaceNamespacedSecret({ name: body.metadata!.name!, namespace, body });
    }
  }

  /** The token of an ended attempt is revoked already; its Secret goes too (best effort). */
  private dropTokenSecret(t: Tracked): void {
    if (!t.secret) return;
    this.core.deleteNamespacedSecret({ name: t.secret, namespace: t.namespace }).catch((err: unknown) => {
      if (httpCode(err) !== 404) this.warn(`kubernetes executor: cannot delete Secret ${t.secret}: ${describe(err)}`);
    });
  }

  /**
   * Foreground (cancel): the Job is gone only once its pod is, so `exited` means the GPU is free.
   * Returns true when the Job is already gone.
   */
  private async deleteJob(
    name: string,
    namespace: string | undefined,
    propagationPolicy: 'Foreground' | 'Background' = 'Foreground',
  ): Promise<boolean> {
    // Not followed and not cached: it may be in any of the namespaces.
    let gone = true;
    for (const ns of namespace ? [namespace] : this.namespaces) {
      try {
        await this.batch.deleteNamespacedJob({ name, namespace: ns, body: { propagationPolicy } });
        gone = false;
      } catch (err) {
        if (httpCode(err) !== 404) throw new Error(`cannot delete Job ${name}: ${describe(err)}`);
      }
    }
    return gone;
  }

  /** The namespace of a Job the cache holds, by name (names are unique across namespaces). */
  private cachedNamespaceOf(name: string): string | undefined {
    for (const [ns, r] of this.jobs) if (r.get(ns, name)) return ns;
    return undefined;
  }

  private onJob(job: k8s.V1Job): void {
    const t = this.tracked.get(job.metadata?.name ?? '');
    if (t) this.evaluate(t);
  }

  private onPod(pod: k8s.V1Pod): void {
    const t = this.tracked.get(podJobName(pod) ?? '');
    if (t) this.evaluate(t);
  }

  private onWorkload(wl: Workload): void {
    const t = this.tracked.get(workloadJobName(wl) ?? '');
    if (t) this.evaluate(t);
  }

  /** The Kueue Workload of an attempt's Job (Kueue makes one per Job it queues). */
  private workloadOf(namespace: string, name: string): Workload | undefined {
    return this.workloads.get(namespace)?.byIndex(name)[0];
  }

  private evaluate(t: Tracked): void {
    if (t.finishing) return;
    const job = this.jobs.get(t.namespace)!.get(t.namespace, t.name);
    if (!job) {
      if (!t.seen) return; // created but not in the cache yet
      this.finish(
        t,
        t.cancelReason
          ? { type: 'exited', error: { reason: t.cancelReason, message: `the attempt was ${t.cancelReason}` } }
          : { type: 'exited', error: { reason: 'lost', message: `Job ${t.name} was deleted outside Cellpipe` } },
      );
      return;
    }
    t.seen = true;
    // Being deleted (cancel, or an image that cannot be pulled): wait until the pods are gone.
    if (job.metadata?.deletionTimestamp) return;
    const status = attemptStatus(
      job,
      this.pods.get(t.namespace)!.byIndex(t.name),
      this.workloadOf(t.namespace, t.name),
    );
    if (!status) return;
    if (status.kind === 'waiting' && job.spec?.suspend && t.wasRunning) this.requeued(t);
    this.apply(t, job, status);
  }

  private apply(t: Tracked, job: k8s.V1Job, status: AttemptStatus): void {
    switch (status.kind) {
      case 'waiting': {
        const key = `waiting:${status.reason}`;
        if (t.lastKey === key) return;
        t.lastKey = key;
        t.report({ type: 'waiting', reason: status.reason });
        return;
      }
      case 'running': {
        if (this.reportRunning(t, job, status.pod, status.node, status.startedAt)) this.followLog(t, status.pod);
        return;
      }
      case 'succeeded':
        // A pod can end before any Running status was seen (or posted): it did run, so say so first.
        if (status.pod && status.node) this.reportRunning(t, job, status.pod, status.node, status.startedAt);
        this.finishWithLogs(t, status.pod, {
          type: 'exited',
          exitCode: status.exitCode,
          ...runTimes(status),
        }).catch((e: unknown) => this.warn(describe(e)));
        return;
      case 'failed': {
        if (status.pod && status.node) this.reportRunning(t, job, status.pod, status.node, status.startedAt);
        const event: ExecutorEvent = {
          type: 'exited',
          exitCode: status.exitCode,
          error: { reason: status.reason, message: status.message },
          ...runTimes(status),
        };
        // A pod stuck on its image still holds its node's devices: remove it now, kept Jobs too.
        if (status.reason === 'image-pull' || status.reason === 'config') {
          t.deleting = true;
          void this.deleteJob(t.name, t.namespace).catch((e: unknown) => this.warn(describe(e)));
        }
        this.finishWithLogs(t, status.pod, event).catch((e: unknown) => this.warn(describe(e)));
        return;
      }
    }
  }

  /**
   * Its queue stopped the running attempt (Kueue suspended the Job again; its pod goes): not an end.
   * The log of the next pod follows a line saying so, and the attempt is followed as before.
   */
  private requeued(t: Tracked): void {
    t.wasRunning = false;
    t.lastKey = '';
    t.follow?.abort();
    t.follow = undefined;
    t.followed++;
    t.savedBytes = 0;
    const reason = evictionOf(this.workloadOf(t.namespace, t.name)) ?? 'the Job was suspended while it ran';
    t.report({ type: 'log', chunk: `\n${REQUEUE_MARK}${reason}\n` });
    t.report({ type: 'requeued', reason });
  }

  /** Reports the attempt as running, once; true when this call reported it. */
  private reportRunning(t: Tracked, job: k8s.V1Job, pod: string, node: string, startedAt?: string): boolean {
    if (t.lastKey === 'running') return false;
    t.lastKey = 'running';
    t.wasRunning = true;
    const handle: AttemptHandle = {
      namespace: t.namespace,
      job: t.name,
      jobUid: job.metadata?.uid ?? null,
      pod,
      node,
    };
    const running: ExecutorEvent = { type: 'running', handle, placement: `${node}/${pod}` };
    if (startedAt) running.startedAt = startedAt;
    t.report(running);
    return true;
  }

  /** Streams the running container's output as `log` events, from where the saved log ends. */
  private followLog(t: Tracked, pod: string): void {
    const decoder = new StringDecoder('utf8');
    /** Bytes of the log this stream has delivered (it starts at the log's beginning). */
    let streamed = 0;
    const generation = t.followed;
    const stale = (): boolean => t.followClosed || t.followed !== generation;
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        const skip = Math.max(0, t.savedBytes - streamed);
        streamed += chunk.length;
        if (!stale() && skip < chunk.length) {
          const text = decoder.write(skip ? chunk.subarray(skip) : chunk);
          if (text) {
            // Count only what was reported: a character split across chunks is reported (and counted) whole.
            t.savedBytes += Buffer.byteLength(text);
            t.report({ type: 'log', chunk: text });
          }
        }
        done();
      },
    });
    sink.on('error', () => undefined);
    new k8s.Log(this.kc)
      .log(t.namespace, pod, CONTAINER_NAME, sink, { follow: true, limitBytes: LOG_LIMIT_BYTES })
      .then(
        (controller) => {
          if (stale()) controller.abort();
          else t.follow = controller;
        },
        // Not fatal: the whole log is read again when the attempt ends.
        () => undefined,
      );
  }

  /**
   * Saves the rest of the pod's log (before any clean-up can remove it), then reports the end. The
   * live stream may have ended early or missed the tail, so the log is read once more and only
   * what the stream did not report is added.
   */
  private async finishWithLogs(t: Tracked, pod: string | undefined, event: ExecutorEvent): Promise<void> {
    if (t.finishing) return;
    t.finishing = true;
    t.followClosed = true;
    t.follow?.abort();
    if (pod) {
      try {
        const text = await this.core.readNamespacedPodLog({
          name: pod,
          namespace: t.namespace,
          container: CONTAINER_NAME,
          limitBytes: LOG_LIMIT_BYTES,
        });
        const rest = text ? Buffer.from(text, 'utf8').subarray(t.savedBytes).toString('utf8') : '';
        if (rest) t.report({ type: 'log', chunk: rest });
      } catch (err) {
        // A pod that never started has no log; anything else is worth a line in the task log.
        if (httpCode(err) !== 400 && httpCode(err) !== 404) {
          t.report({ type: 'log', chunk: `[cellpipe] could not read the log of pod ${pod}: ${describe(err)}\n` });
        }
      }
    }
    let ended = event;
    const data = dataPath(this.config);
    if (event.type === 'exited' && data !== 'none') {
      // The runner uploaded result.json before it exited (or wrote it on the shared volume).
      const read = readResultFile(t.resultPath, this.deps.resultBytes ?? DEFAULT_LIMITS.resultBytes);
      if ('result' in read) ended = { ...event, result: read.result };
      else if ('error' in read) ended = { ...event, error: read.error };
    }
    this.tracked.delete(t.name);
    if (ended.type === 'exited' && !('result' in ended) && ended.error?.reason === 'exit') {
      // Only the exit code came back: say where the real reason is.
      ended = {
        ...ended,
        error: {
          ...ended.error,
          message: `${ended.error.message}; the task left no result${data === 'none' ? ' (no data store: kubernetes.serverUrl is not set)' : ''}: its log says why`,
        },
      };
    }
    t.report(ended);
    this.dropTokenSecret(t);
    // The end is recorded (reports are persisted before they return) and the log is saved: the
    // Job and its pod have nothing more to give.
    if (!this.config.keepFinishedJobs && !t.deleting)
      void this.deleteJob(t.name, t.namespace, 'Background').catch((e: unknown) => this.warn(describe(e)));
  }

  private finish(t: Tracked, event: ExecutorEvent): void {
    if (t.finishing) return;
    t.finishing = true;
    t.followClosed = true;
    t.follow?.abort();
    this.tracked.delete(t.name);
    t.report(event);
    this.dropTokenSecret(t);
  }
}
