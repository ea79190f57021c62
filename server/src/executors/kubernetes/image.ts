/**
 * The image a task runs in when it names none: the researcher's own notebook image (JupyterHub's
 * KubeSpawner sets JUPYTER_IMAGE), so the packages installed for the notebook are there. A tag can
 * move between the notebook's start and the task's; when a running container of that image reports
 * its digest, the task is pinned to exactly those bits.
 */
import type { V1Pod } from '@kubernetes/client-node';

const DIGEST = /@(sha256:[0-9a-f]{64})$/;

/** `registry/repo:tag` → name and tag (a colon before the last slash is a registry port). */
function splitTag(ref: string): { name: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { name: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { name: ref, tag: undefined };
}

/** The same reference in one spelling, with Docker's defaults (`python` → docker.io/library/python:latest). */
function canonical(ref: string): string | undefined {
  if (ref.includes('@')) return undefined;
  const { name, tag } = splitTag(ref);
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const full = hasRegistry ? name : `docker.io/${name.includes('/') ? name : `library/${name}`}`;
  return `${full}:${tag ?? 'latest'}`;
}

/**
 * `image` pinned to the digest a running container of the same image reports
 * (`registry/repo@sha256:…`), or undefined when no pod reports one.
 */
export function pinnedImage(image: string, pods: readonly V1Pod[]): string | undefined {
  const wanted = canonical(image);
  if (!wanted) return undefined;
  for (const pod of pods) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const digest = DIGEST.exec(status.imageID ?? '')?.[1];
      if (digest && canonical(status.image ?? '') === wanted) return `${splitTag(image).name}@${digest}`;
    }
  }
  return undefined;
}
