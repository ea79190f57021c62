// A directory of this machine as a ReadWriteMany claim in the test bed: a hostPath PersistentVolume
// bound to a claim of the same name. What a shared file system gives on a real cluster, for the
// Kubernetes executor's dataVolume on the bed's real node (pods see the directory at the same path).
// Used by the real-node tests and benchmark.
import * as k8s from '@kubernetes/client-node';

/** Creates the volume and claim, waits until they are bound; returns the claim's name. */
export async function hostPathClaim(kc, namespace, path, name) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const accessModes = ['ReadWriteMany'];
  await core.createPersistentVolume({
    body: {
      metadata: { name },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes,
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path, type: 'Directory' },
        claimRef: { namespace, name },
      },
    },
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name },
      spec: { accessModes, storageClassName: '', volumeName: name, resources: { requests: { storage: '1Gi' } } },
    },
  });
  for (const deadline = Date.now() + 60_000; ;) {
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name, namespace });
    if (pvc.status?.phase === 'Bound') return name;
    if (Date.now() > deadline) throw new Error(`claim ${namespace}/${name} not bound after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
