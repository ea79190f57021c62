import type { KubeConfig } from '@kubernetes/client-node';

/** Creates a hostPath PersistentVolume of `path` and a claim `name` bound to it in `namespace`; resolves with `name` once bound. */
export function hostPathClaim(kc: KubeConfig, namespace: string, path: string, name: string): Promise<string>;
