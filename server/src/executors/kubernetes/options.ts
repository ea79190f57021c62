/**
 * Configuration of the Kubernetes executor, validated with zod where it enters (a config file or
 * environment), so every name that reaches a pod spec has been checked.
 */
import { z } from 'zod';

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS label (lower-case letters, digits, "-")' });
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, { message: 'must be a DNS subdomain' });
/** Label/annotation key: optional DNS prefix and a name part. */
const labelKey = z
  .string()
  .max(316)
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    {
      message: 'must be a Kubernetes label key',
    },
  );
const labelVal = z
  .string()
  .max(63)
  .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, { message: 'must be a Kubernetes label value' });
const imageRef = z
  .string()
  .max(512)
  .regex(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/, { message: 'must be a container image reference' });

const absolutePath = z.string().regex(/^\/[^\0]*$/, { message: 'must be an absolute path' });

export const TolerationSchema = z
  .object({
    key: labelKey.optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: labelVal.optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

export const KubernetesExecutorConfigSchema = z
  .object({
    /**
     * The kubeconfig file to use. Unset: KUBECONFIG, else ~/.kube/config, else the pod's own
     * ServiceAccount when the server runs in the cluster.
     */
    kubeconfig: z.string().min(1).optional(),
    /** The kubeconfig context to use (default: its current-context). */
    context: z.string().min(1).optional(),
    /** Namespace the Jobs, pods and ConfigMaps live in (with namespacePerTeam: those of users in no team). */
    namespace: dnsLabel.default('default'),
    /**
     * Each team's Jobs in a namespace of its own: `teams.<team>.namespace`, default `cellpipe-<team>`
     * (auth/teams.ts). The server's identity needs the executor's rights in each (deploy/rbac.yaml).
     */
    namespacePerTeam: z.boolean().default(false),
    /**
     * Image for tasks that name none; it needs python3. Unset: the notebook's own image (JUPYTER_IMAGE,
     * pinned to its digest when the cluster reports one), else python:3.11-slim.
     */
    defaultImage: imageRef.optional(),
    /** How MIG slices are advertised; `auto` reads the node labels. */
    migStrategy: z.enum(['auto', 'mixed', 'single']).default('auto'),
    nodeSelector: z.record(labelKey, labelVal).default({}),
    tolerations: z.array(TolerationSchema).default([]),
    priorityClassName: dnsSubdomain.optional(),
    serviceAccountName: dnsSubdomain.optional(),
    imagePullSecrets: z.array(dnsSubdomain).default([]),
    /**
     * Kueue: the LocalQueue (in the Jobs' namespace) each Job is labelled for, so Kueue queues it,
     * admits it against its ClusterQueue's quota and may preempt it (the task is then requeued, not
     * failed). A user's own queue (`userQueues`) wins over their team's (`teamQueues`, by the team the
     * job counts toward), which wins over `queueName`; a Job none of them names is not queued.
     */
    queueName: dnsSubdomain.optional(),
    userQueues: z.record(z.string().min(1), dnsSubdomain).default({}),
    teamQueues: z.record(z.string().min(1), dnsSubdomain).default({}),
    /** Extra labels and annotations on every Job and pod. */
    labels: z.record(labelKey, labelVal).default({}),
    annotations: z.record(labelKey, z.string().max(4096)).default({}),
    /**
     * Keep each attempt's Job and pod after it ends (for `kubectl describe`). By default the server
     * deletes them as soon as the attempt's end and its log are saved.
     */
    keepFinishedJobs: z.boolean().default(false),
    /**
     * Kubernetes deletes finished Jobs (and their pods) after this many seconds even when the server
     * cannot (it is down): a fallback, since a log not yet saved is then lost.
     */
    ttlSecondsAfterFinished: z.number().int().min(0).optional(),
    /**
     * How inputs, outputs, result.json, executed notebooks and artifacts pass between the pods and the
     * server. `server`: over HTTP, to and from this server at `serverUrl`, each attempt with a token of
     * its own (nothing shared; outputs up to limits.uploadBytes). `volume`: through `dataVolume`, a
     * file system mounted in the server and in every pod (outputs of any size). Default: `volume` when
     * dataVolume is set, else `server`.
     */
    dataStore: z.enum(['server', 'volume']).optional(),
    /**
     * `server` store: the URL task pods reach this server at; in a cluster, its Service
     * (`http://cellpipe.cellpipe.svc:8765`). Required by `cellpipe serve`; an executor built without
     * it (tests where no pod runs) gives its tasks no data path.
     */
    serverUrl: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, { message: 'must be an http:// or https:// URL' })
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    /** `server` store: how long a task retries a transfer the server does not answer (a restart) before it fails. */
    dataRetrySeconds: z.number().int().min(0).max(86_400).default(600),
    /**
     * `volume` store: a file system holding the server's job directories, mounted in each pod at the
     * same absolute path, so task.json paths, artifacts and result.json resolve alike on both sides.
     * One source: a ReadWriteMany claim, an NFS export or a node's directory (hostPath).
     */
    dataVolume: z
      .object({
        claimName: dnsSubdomain.optional(),
        nfs: z
          .object({ server: z.string().min(1), path: absolutePath })
          .strict()
          .optional(),
        hostPath: absolutePath.optional(),
        mountPath: absolutePath,
      })
      .strict()
      .refine((v) => [v.claimName, v.nfs, v.hostPath].filter((x) => x !== undefined).length === 1, {
        message: 'give exactly one of claimName, nfs or hostPath',
      })
      .optional(),
    /**
     * Refuse at once (reason `unschedulable`) a request no current node could ever hold. Turn off
     * where a cluster autoscaler adds GPU nodes on demand (a pool scaled to zero has no node yet).
     */
    checkNodeCapacity: z.boolean().default(true),
    /**
     * `cluster`: inventory counts every pod on the nodes (needs the ClusterRole in deploy/rbac.yaml);
     * `namespace`: only Cellpipe's own pods (a Role suffices; other tenants' use is invisible).
     */
    inventoryScope: z.enum(['cluster', 'namespace']).default('cluster'),
    /**
     * Largest task payload (task.json: the task's code, inputs and parameters). It travels in the pod's
     * annotations, which Kubernetes caps at 256 KiB in all.
     */
    maxPayloadBytes: z.number().int().min(1024).max(240_000).default(200_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.dataStore === 'volume' && !c.dataVolume)
      ctx.addIssue({ code: 'custom', path: ['dataVolume'], message: 'is required with dataStore: volume' });
    if (c.dataStore === 'server' && c.dataVolume)
      ctx.addIssue({ code: 'custom', path: ['dataVolume'], message: 'is only used with dataStore: volume' });
  })
  .transform((c) => ({ ...c, dataStore: c.dataStore ?? (c.dataVolume ? ('volume' as const) : ('server' as const)) }));

export type KubernetesExecutorConfig = z.infer<typeof KubernetesExecutorConfigSchema>;
export type DataVolume = NonNullable<KubernetesExecutorConfig['dataVolume']>;
export type KubernetesExecutorConfigInput = z.input<typeof KubernetesExecutorConfigSchema>;

/**
 * The URL task pods reach the server at, when a configuration section (`kubernetes:`, unchecked)
 * uses the server data store; undefined otherwise (or when the section is invalid: building the
 * executor says why).
 */
export function serverStoreUrl(section: unknown): string | undefined {
  const parsed = KubernetesExecutorConfigSchema.safeParse(section ?? {});
  return parsed.success && parsed.data.dataStore === 'server' ? (parsed.data.serverUrl ?? '') : undefined;
}
