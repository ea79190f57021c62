/**
 * The browser's live view of Cellpipe jobs: one list fetch, then `/api/events` (EventSource) keeps it
 * current. EventSource retries by itself after a dropped stream but gives up for good on an HTTP
 * error reply (502 from the proxy, 401), so those are retried here with a backoff, and the reason is
 * shown (`connection`).
 */
import type { Job, JobSummary } from '@cellpipe/schema';
import type { IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError, ApiError } from '../api/client.js';
import type { ConnectionStatus, ICellpipeAPI, ICellpipeJobs } from '../tokens.js';
import { actionFromEvent, EMPTY_STATE, jobsReducer, type JobsAction, type JobsState } from './state.js';

const SOURCES_KEY = 'cellpipe:job-sources';
const MAX_SOURCES = 500;
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;
const PAGE_SIZE = 50;

export class JobsModel implements ICellpipeJobs, IDisposable {
  private _state: JobsState = EMPTY_STATE;
  private _connection: ConnectionStatus = { kind: 'connecting' };
  private readonly _changed = new Signal<this, void>(this);
  private _source: EventSource | null = null;
  private _retryMs = RETRY_MIN_MS;
  private _retryTimer: number | undefined;
  private _disposed = false;
  private _sources: Record<string, string> = {};
  private _nextCursor: string | undefined;
  private _pagedFurther = false;

  constructor(private readonly api: ICellpipeAPI) {
    try {
      const raw = window.localStorage.getItem(SOURCES_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') this._sources[k] = v;
      }
    } catch {
      // Storage unavailable or corrupt: links to source notebooks fall back to the spec's name.
    }
    api.changed.connect(this._reconnect, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get state(): JobsState {
    return this._state;
  }

  get connection(): ConnectionStatus {
    return this._connection;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  summaries(): readonly JobSummary[] {
    return this._state.jobs;
  }

  /** Opens the event stream and fetches the list. */
  start(): void {
    this._reconnect();
  }

  dispatch(action: JobsAction): void {
    this._state = jobsReducer(this._state, action);
    this._changed.emit();
  }

  add(job: Job): void {
    this.dispatch({ type: 'detail', job });
  }

  async refresh(): Promise<void> {
    try {
      const list = await this.api.client.listJobs({ limit: PAGE_SIZE });
      // Keep the cursor of older pages once the user went there.
      if (!this._pagedFurther) this._nextCursor = list.nextCursor;
      this.dispatch({ type: 'list', jobs: list.items });
      // Details we hold may have missed events while the stream was down.
      await Promise.all(Object.keys(this._state.details).map((id) => this.loadJob(id).catch(() => undefined)));
      this._setConnection({ kind: 'connected' });
    } catch (err) {
      this._setError(err);
    }
  }

  get hasMore(): boolean {
    return this._nextCursor !== undefined;
  }

  async loadMore(): Promise<void> {
    if (!this._nextCursor) return;
    const list = await this.api.client.listJobs({ limit: PAGE_SIZE, cursor: this._nextCursor });
    this._pagedFurther = true;
    this._nextCursor = list.nextCursor;
    this.dispatch({ type: 'list', jobs: list.items });
  }

  async loadJob(id: string): Promise<Job> {
    const job = await this.api.client.getJob(id);
    this.dispatch({ type: 'detail', job });
    return job;
  }

  rememberSource(jobId: string, notebookPath: string): void {
    this._sources[jobId] = notebookPath;
    const keys = Object.keys(this._sources);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_SOURCES))) delete this._sources[k];
    try {
      window.localStorage.setItem(SOURCES_KEY, JSON.stringify(this._sources));
    } catch {
      // Best effort only.
    }
  }

  sourceOf(jobId: string): string | undefined {
    return this._sources[jobId];
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._close();
    this.api.changed.disconnect(this._reconnect, this);
    Signal.clearData(this);
  }

  private _setConnection(status: ConnectionStatus): void {
    const same = JSON.stringify(status) === JSON.stringify(this._connection);
    this._connection = status;
    if (!same) this._changed.emit();
  }

  private _setError(err: unknown): void {
    this._setConnection({
      kind: 'error',
      message: describeError(err),
      unreachable: !(err instanceof ApiError) || err.unreachable,
      unauthorized: err instanceof ApiError && err.unauthorized,
      noApi: err instanceof ApiError && err.noApi,
    });
  }

  private _close(): void {
    if (this._retryTimer !== undefined) window.clearTimeout(this._retryTimer);
    this._retryTimer = undefined;
    this._source?.close();
    this._source = null;
  }

  private _reconnect(): void {
    if (this._disposed) return;
    this._close();
    const source = new EventSource(this.api.eventsUrl(), { withCredentials: true });
    this._source = source;
    const onEvent = (type: string) => (ev: MessageEvent) => {
      const action = actionFromEvent(type, String(ev.data));
      if (action) this.dispatch(action);
    };
    source.addEventListener('job', onEvent('job'));
    source.addEventListener('task', onEvent('task'));
    source.onopen = () => {
      this._retryMs = RETRY_MIN_MS;
      void this.refresh();
    };
    source.onerror = () => {
      if (source !== this._source) return;
      // Ask the API why (the stream itself carries no status): 502 unreachable, 401 bad token...
      void this.api.client.me().then(
        () => undefined,
        (err: unknown) => this._setError(err),
      );
      if (source.readyState === EventSource.CLOSED) {
        this._retryTimer = window.setTimeout(() => this._reconnect(), this._retryMs);
        this._retryMs = Math.min(RETRY_MAX_MS, this._retryMs * 2);
      }
    };
    void this.refresh();
  }
}
