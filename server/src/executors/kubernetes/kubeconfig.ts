/**
 * Which cluster and identity the executor talks to: the configured kubeconfig file and context, else
 * the client library's defaults (KUBECONFIG, ~/.kube/config, the in-cluster ServiceAccount).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { KubernetesExecutorConfig } from './options.js';

/** A kubeconfig setting that cannot be used; the message names the setting. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

export function loadKubeConfig(cfg: Pick<KubernetesExecutorConfig, 'kubeconfig' | 'context'>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  let source = 'the default kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)';
  if (cfg.kubeconfig) {
    const path = resolve(cfg.kubeconfig);
    if (!existsSync(path)) throw new KubeConfigError(`kubernetes.kubeconfig: ${path} does not exist`);
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new KubeConfigError(`kubernetes.kubeconfig: cannot read ${path}: ${(err as Error).message}`);
    }
    source = path;
  } else {
    kc.loadFromDefault();
  }
  if (cfg.context) {
    if (!kc.getContextObject(cfg.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeConfigError(
        `kubernetes.context: ${source} has no context "${cfg.context}"` +
          (known.length ? ` (it has: ${known.join(', ')})` : ' (it has none)'),
      );
    }
    kc.setCurrentContext(cfg.context);
  }
  return kc;
}
