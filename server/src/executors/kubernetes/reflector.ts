/**
 * A list+watch cache of one kind of object (the client's ListWatch in 1.4 cannot be stopped
 * reliably while a watch request is being opened, which leaks connections on shutdown). Calls
 * `onChange` for every add/update/delete, re-lists on 410 Gone and re-watches after errors, and
 * can resync periodically.
 */
import { Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export type ChangeType = 'add' | 'update' | 'delete';

export interface ReflectorOptions<T extends KubernetesObject> {
  /** API path of the collection, e.g. `/apis/batch/v1/namespaces/ns/jobs`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * What the cache keeps of each object (default: all but managedFields). Thousands of pods and
   * Jobs are cached, and each carries a whole pod spec that the reader may never look at.
   */
  keep?: (obj: T) => T;
  /** A secondary key (e.g. the owning Job's name) for `byIndex`; objects without one are not indexed. */
  indexBy?: (obj: T) => string | undefined;
  onChange?: (type: ChangeType, obj: T) => void;
  onError?: (err: unknown) => void;
  /**
   * Every so often, hand every cached object to `onChange` again as an update (client-go's resync):
   * whatever the handler decides from an object is decided again, so a lost decision heals.
   */
  resyncMs?: number;
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/**
 * managedFields (server-side apply bookkeeping) is often the largest part of an object and no
 * reader here needs it.
 */
function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

function statusCode(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

export class Reflector<T extends KubernetesObject> {
  private readonly objects = new Map<string, T>();
  /** indexBy key → object keys; only kept when `indexBy` is given. */
  private readonly index = new Map<string, Set<string>>();
  private readonly keep: (obj: T) => T;
  private resourceVersion = '';
  private stopped = false;
  private request: AbortController | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly watch: Watch;

  constructor(
    kc: KubeConfig,
    private readonly opts: ReflectorOptions<T>,
  ) {
    this.watch = new Watch(kc);
    this.keep = opts.keep ?? withoutManagedFields;
  }

  /** Resolves after the first list, so `list()` is complete from then on. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.relist();
    this.openWatch().catch((err: unknown) => this.watchFailed(err));
    if (this.opts.resyncMs && !this.resyncTimer) {
      this.resyncTimer = setInterval(() => {
        for (const obj of [...this.objects.values()]) this.opts.onChange?.('update', obj);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.request?.abort();
    this.request = undefined;
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  /** The cached objects whose `indexBy` key is `key`. */
  byIndex(key: string): T[] {
    const keys = this.index.get(key);
    if (!keys) return [];
    return [...keys].map((k) => this.objects.get(k)!);
  }

  private put(key: string, obj: T): boolean {
    const old = this.objects.get(key);
    if (old) this.unindex(key, old);
    this.objects.set(key, obj);
    const ix = this.opts.indexBy?.(obj);
    if (ix !== undefined) {
      let keys = this.index.get(ix);
      if (!keys) this.index.set(ix, (keys = new Set()));
      keys.add(key);
    }
    return old !== undefined;
  }

  private remove(key: string): void {
    const old = this.objects.get(key);
    if (!old) return;
    this.unindex(key, old);
    this.objects.delete(key);
  }

  private unindex(key: string, obj: T): void {
    const ix = this.opts.indexBy?.(obj);
    if (ix === undefined) return;
    const keys = this.index.get(ix);
    keys?.delete(key);
    if (keys?.size === 0) this.index.delete(ix);
  }

  private async relist(): Promise<void> {
    const list = await this.opts.list();
    const seen = new Set<string>();
    for (const item of list.items) {
      const obj = this.keep(item);
      const key = keyOf(obj);
      seen.add(key);
      const had = this.put(key, obj);
      this.opts.onChange?.(had ? 'update' : 'add', obj);
    }
    for (const [key, obj] of [...this.objects]) {
      if (!seen.has(key)) {
        this.remove(key);
        this.opts.onChange?.('delete', obj);
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  private scheduleRetry(relist: boolean): void {
    if (this.stopped) return;
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      (relist ? this.relist() : Promise.resolve())
        .then(() => this.openWatch())
        .catch((err: unknown) => this.watchFailed(err));
    }, 1000);
    this.retryTimer.unref();
  }

  private watchFailed(err: unknown): void {
    this.opts.onError?.(err);
    this.scheduleRetry(true);
  }

  private async openWatch(): Promise<void> {
    if (this.stopped) return;
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      // Renew the watch every few minutes rather than relying on the server's random timeout.
      timeoutSeconds: 300,
    };
    if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) query.fieldSelector = this.opts.fieldSelector;
    let gone = false;
    const controller = await this.watch.watch(
      this.opts.path,
      query,
      (phase, raw: T & { code?: number }) => {
        if (this.stopped) return;
        if (phase === 'BOOKMARK') {
          this.resourceVersion = raw.metadata?.resourceVersion ?? this.resourceVersion;
          return;
        }
        if (phase === 'ERROR') {
          // A Status object; 410 means our resourceVersion is too old.
          if (raw.code === 410) gone = true;
          return;
        }
        this.resourceVersion = raw.metadata?.resourceVersion ?? this.resourceVersion;
        const obj = this.keep(raw);
        const key = keyOf(obj);
        if (phase === 'DELETED') {
          this.remove(key);
          this.opts.onChange?.('delete', obj);
        } else {
          const had = this.put(key, obj);
          this.opts.onChange?.(had ? 'update' : 'add', obj);
        }
      },
      (err: unknown) => {
        if (this.stopped) return;
        this.request = undefined;
        if (err && statusCode(err) !== 410) this.opts.onError?.(err);
        const relist = gone || statusCode(err) === 410;
        if (relist) this.resourceVersion = '';
        if (!err && !relist) {
          // Normal end of a watch (timeoutSeconds): reopen at once from the last resourceVersion.
          void this.openWatch().catch((e: unknown) => {
            this.opts.onError?.(e);
            this.scheduleRetry(true);
          });
        } else {
          this.scheduleRetry(true);
        }
      },
    );
    if (this.stopped) {
      controller.abort();
      return;
    }
    this.request = controller;
  }
}
