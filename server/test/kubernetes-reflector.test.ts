/**
 * The list+watch cache against a real kube-apiserver: a watch from a resourceVersion the server no
 * longer serves is answered with 410 Gone, and the cache must re-list and end up complete; the
 * secondary index follows adds, label changes and deletes.
 */
import { jest } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { Reflector, type ChangeType } from '../src/executors/kubernetes/reflector.js';
import {
  BUILD_TIMEOUT_MS,
  createNamespace,
  eventually,
  restartApiserver,
  startTestbed,
  type Testbed,
} from './kubernetes-bed.js';

jest.setTimeout(120_000);

let bed: Testbed;
let core: k8s.CoreV1Api;
let namespace: string;

beforeAll(async () => {
  bed = startTestbed();
  core = bed.kc.makeApiClient(k8s.CoreV1Api);
  namespace = await createNamespace(bed.kc, 'reflector');
}, BUILD_TIMEOUT_MS);

afterAll(() => bed?.stop());

const configMap = (name: string, group: string): k8s.V1ConfigMap => ({
  metadata: { name, labels: { group } },
  data: { payload: 'x'.repeat(64) },
});

/** What the apiserver answers to a watch of the namespace's ConfigMaps from `resourceVersion`. */
async function watchAnswer(resourceVersion: string): Promise<number | 'events'> {
  let answer: (a: number | 'events') => void = () => undefined;
  const answered = new Promise<number | 'events'>((resolve) => (answer = resolve));
  const controller = await new k8s.Watch(bed.kc).watch(
    `/api/v1/namespaces/${namespace}/configmaps`,
    { resourceVersion },
    (phase, obj: { code?: number }) => answer(phase === 'ERROR' ? (obj.code ?? 0) : 'events'),
    () => undefined,
  );
  try {
    return await answered;
  } finally {
    controller.abort();
  }
}

test('a watch answered with 410 Gone re-lists and sees what the stale watch could not deliver', async () => {
  await core.createNamespacedConfigMap({ namespace, body: configMap('before', 'a') });
  // A restarted apiserver's watch cache starts at the current revision: older resourceVersions
  // are gone, as for a client that was disconnected across a restart or an etcd compaction.
  await restartApiserver(bed);
  expect(await watchAnswer('1')).toBe(410);
  let lists = 0;
  const changes: string[] = [];
  const errors: unknown[] = [];
  const reflector = new Reflector<k8s.V1ConfigMap>(bed.kc, {
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: async () => {
      const list = await core.listNamespacedConfigMap({ namespace });
      lists++;
      if (lists > 1) return list;
      // The first list claims a resourceVersion long gone (as after an etcd compaction or a long
      // disconnection), and a change lands right after it that only a new list can show.
      await core.createNamespacedConfigMap({ namespace, body: configMap('missed', 'a') });
      return { ...list, metadata: { ...list.metadata, resourceVersion: '1' } };
    },
    onChange: (type: ChangeType, cm) => changes.push(`${type} ${cm.metadata?.name ?? ''}`),
    onError: (err) => errors.push(err),
  });
  try {
    await reflector.start();
    expect(reflector.list().map((c) => c.metadata?.name)).not.toContain('missed');
    await eventually('the re-list after 410 Gone', async () => (reflector.get(namespace, 'missed') ? true : undefined));
    expect(lists).toBeGreaterThanOrEqual(2);
    // 410 is an expected answer, handled by re-listing: not reported as a watch failure.
    expect(errors).toEqual([]);
    // And the watch opened after the re-list delivers new changes.
    await core.createNamespacedConfigMap({ namespace, body: configMap('after', 'b') });
    await eventually('the watch after the re-list', async () => (reflector.get(namespace, 'after') ? true : undefined));
    expect(changes).toEqual(expect.arrayContaining(['add before', 'add missed', 'add after']));
  } finally {
    reflector.stop();
  }
});

test('the secondary index follows adds, label changes and deletes', async () => {
  const ns = await createNamespace(bed.kc, 'reflector-ix');
  const reflector = new Reflector<k8s.V1ConfigMap>(bed.kc, {
    path: `/api/v1/namespaces/${ns}/configmaps`,
    // Every namespace also holds the cluster's kube-root-ca.crt: only the test's own objects.
    list: () => core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'group' }),
    labelSelector: 'group',
    indexBy: (cm) => cm.metadata?.labels?.group,
  });
  const names = (group: string) =>
    reflector
      .byIndex(group)
      .map((c) => c.metadata?.name)
      .sort();
  try {
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('one', 'a') });
    await reflector.start();
    await core.createNamespacedConfigMap({ namespace: ns, body: configMap('two', 'a') });
    await eventually('two indexed', async () => (names('a').length === 2 ? true : undefined));
    const one = await core.readNamespacedConfigMap({ name: 'one', namespace: ns });
    one.metadata!.labels = { group: 'b' };
    await core.replaceNamespacedConfigMap({ name: 'one', namespace: ns, body: one });
    await eventually('one moved to b', async () => (names('b').length === 1 ? true : undefined));
    expect(names('a')).toEqual(['two']);
    await core.deleteNamespacedConfigMap({ name: 'two', namespace: ns });
    await eventually('two gone', async () => (names('a').length === 0 ? true : undefined));
    expect(names('b')).toEqual(['one']);
    expect(reflector.list().map((c) => c.metadata?.name)).toEqual(['one']);
  } finally {
    reflector.stop();
  }
});

test('a resync hands every cached object to the handler again, with nothing changed', async () => {
  const ns = await createNamespace(bed.kc, 'reflector-resync');
  await core.createNamespacedConfigMap({ namespace: ns, body: configMap('steady', 'a') });
  const changes: string[] = [];
  const reflector = new Reflector<k8s.V1ConfigMap>(bed.kc, {
    path: `/api/v1/namespaces/${ns}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'group' }),
    labelSelector: 'group',
    resyncMs: 200,
    onChange: (type, cm) => changes.push(`${type} ${cm.metadata?.name ?? ''}`),
  });
  try {
    await reflector.start();
    await eventually('two resyncs', async () =>
      changes.filter((c) => c === 'update steady').length >= 2 ? true : undefined,
    );
    expect(changes[0]).toBe('add steady');
    reflector.stop();
    const after = changes.length;
    await new Promise((r) => setTimeout(r, 600));
    // Stopped means stopped: no resync after stop().
    expect(changes).toHaveLength(after);
  } finally {
    reflector.stop();
  }
});
