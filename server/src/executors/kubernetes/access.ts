/**
 * What the executor needs the cluster to allow, asked of the apiserver itself
 * (SelfSubjectAccessReview, which every authenticated identity may create). The server checks this
 * at start so a missing Role says so in one message, instead of failing the first task that hits it.
 */
import type { AuthorizationV1Api } from '@kubernetes/client-node';
import { KUEUE_GROUP, usesKueue } from './kueue.js';
import type { KubernetesExecutorConfig } from './options.js';

interface Need {
  group: string;
  resource: string;
  subresource?: string;
  verbs: string[];
  /** Unset: cluster-wide. */
  namespace?: string;
}

/** In each task namespace (the executor's and, with namespacePerTeam, every team's), and cluster-wide. */
export function requiredAccess(cfg: KubernetesExecutorConfig, namespaces: readonly string[] = [cfg.namespace]): Need[] {
  const needs: Need[] = namespaces.flatMap((ns): Need[] => [
    { group: 'batch', resource: 'jobs', verbs: ['create', 'get', 'list', 'watch', 'delete'], namespace: ns },
    { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'], namespace: ns },
    { group: '', resource: 'pods', subresource: 'log', verbs: ['get'], namespace: ns },
    { group: '', resource: 'configmaps', verbs: ['create', 'get', 'delete'], namespace: ns },
    // The server data store hands each attempt its token in a Secret.
    ...(cfg.dataStore === 'server'
      ? [{ group: '', resource: 'secrets', verbs: ['create', 'update', 'delete'], namespace: ns }]
      : []),
    // Why a queued Job waits, and whether Kueue preempted it, is in its Workload.
    ...(usesKueue(cfg) ? [{ group: KUEUE_GROUP, resource: 'workloads', verbs: ['list', 'watch'], namespace: ns }] : []),
  ]);
  needs.push({ group: '', resource: 'nodes', verbs: ['list', 'watch'] });
  if (cfg.inventoryScope === 'cluster') needs.push({ group: '', resource: 'pods', verbs: ['list', 'watch'] });
  return needs;
}

/** The rights that are missing, as "create jobs.batch in namespace x" lines; empty when all are there. */
export async function missingAccess(
  api: AuthorizationV1Api,
  cfg: KubernetesExecutorConfig,
  namespaces?: readonly string[],
): Promise<string[]> {
  const checks = requiredAccess(cfg, namespaces).flatMap((need) =>
    need.verbs.map(async (verb) => {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              group: need.group,
              resource: need.resource,
              subresource: need.subresource,
              verb,
              namespace: need.namespace,
            },
          },
        },
      });
      if (review.status?.allowed) return undefined;
      const what = `${need.resource}${need.subresource ? `/${need.subresource}` : ''}${need.group ? `.${need.group}` : ''}`;
      return `${verb} ${what} ${need.namespace ? `in namespace ${need.namespace}` : 'cluster-wide'}`;
    }),
  );
  return (await Promise.all(checks)).filter((m): m is string => m !== undefined);
}
