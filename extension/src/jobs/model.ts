/**
 * The browser's live view of Cellpipe: the newest jobs, the details of the jobs someone looked at,
 * the user's running and waiting task counts, and the GPU/MIG inventory, all kept current from the
 * server-sent events at `/api/events`.
 *
 * EventSource retries by itself after a dropped stream but gives up for good on an HTTP error reply
 * (502 from the proxy, 401). A JupyterLab `Poll` watches the stream: it reopens a closed one with a
 * growing back-off, and the reason is shown (`connection`).
 */
import { InventorySchema, type Activity, type Inventory, type Job, type JobSummary, type Me } from '@cellpipe/schema';
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { Signal, type ISignal } from '@lumino/signaling';
import { ApiError, describeError } from '../api/client.js';
import type { ConnectionStatus, ICellpipeAPI, ICellpipeJobs } from '../tokens.js';
import { actionFromEvent, EMPTY_STATE, isJobFinished, jobsReducer, type JobsAction, type JobsState } from './state.js';

const SOURCES_KEY = 'cellpipe:job-sources';
const MAX_SOURCES = 500;
const PAGE_SIZE = 50;
/** Activity counts change with every task event; one request per burst is enough. */
const ACTIVITY_DELAY_MS = 400;

export class JobsModel implements ICellpipeJobs, IDisposable {
  private _state: JobsState = EMPTY_STATE;
  private _connection: ConnectionStatus = { kind: 'connecting' };
  private _activity: Activity | null = null;
  private _inventory: Inventory | null = null;
  private _me: Me | null = null;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _jobEnded = new Signal<this, JobSummary>(this);
  private _source: EventSource | null = null;
  private _opened: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private _activityTimer: number | undefined;
  private _disposed = false;
  private _sources: Record<string, string> = {};
  private readonly _poll: Poll;

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
    this._poll = new Poll({
      auto: false,
      factory: () => this._ensureStream(),
      // While the stream is open a tick only checks it; after a failure the wait grows to 30 s.
      frequency: { interval: 2000, backoff: true, max: 30_000 },
      name: '@cellpipe/jupyterlab:events',
      standby: 'never',
    });
    api.changed.connect(this._reconnect, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get jobEnded(): ISignal<this, JobSummary> {
    return this._jobEnded;
  }

  get state(): JobsState {
    return this._state;
  }

  get connection(): ConnectionStatus {
    return this._connection;
  }

  get activity(): Activity | null {
    return this._activity;
  }

  get inventory(): Inventory | null {
    return this._inventory;
  }

  get me(): Me | null {
    return this._me;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  summaries(): readonly JobSummary[] {
    return this._state.jobs;
  }

  /** Opens the event stream and fetches what it does not replay. */
  start(): void {
    void this._poll.start();
  }

  dispatch(action: JobsAction): void {
    const before = action.type === 'job' ? this._state.jobs.find((j) => j.id === action.job.id) : undefined;
    this._state = jobsReducer(this._state, action);
    this._changed.emit();
    if (action.type === 'job' || action.type === 'task') this._scheduleActivity();
    // Only an end this page saw happen: a job that was already over when the page loaded is not news.
    if (action.type === 'job' && before && !isJobFinished(before.state) && isJobFinished(action.job.state)) {
      this._jobEnded.emit(action.job);
    }
  }

  add(job: Job): void {
    this.dispatch({ type: 'detail', job });
  }

  async refresh(): Promise<void> {
    try {
      const [list, me] = await Promise.all([this.api.client.listJobs({ limit: PAGE_SIZE }), this.api.client.me()]);
      this._me = me;
      this.dispatch({ type: 'list', jobs: list.items });
      // Details we hold may have missed events while the stream was down.
      await Promise.all(Object.keys(this._state.details).map((id) => this.loadJob(id).catch(() => undefined)));
      await Promise.all([this._loadActivity(), this.refreshInventory()]);
      this._setConnection({ kind: 'connected' });
    } catch (err) {
      this._setError(err);
    }
  }

  async refreshInventory(): Promise<void> {
    try {
      this._inventory = await this.api.client.inventory();
      this._changed.emit();
    } catch {
      // The connection status already says why; the last inventory stays shown.
    }
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
    this._poll.dispose();
    this._close();
    window.clearTimeout(this._activityTimer);
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

  private _scheduleActivity(): void {
    if (this._activityTimer !== undefined) return;
    this._activityTimer = window.setTimeout(() => {
      this._activityTimer = undefined;
      void this._loadActivity();
    }, ACTIVITY_DELAY_MS);
  }

  private async _loadActivity(): Promise<void> {
    try {
      this._activity = await this.api.client.activity();
      this._changed.emit();
    } catch {
      // Shown as unknown until the next event; the connection status says why.
    }
  }

  private _close(): void {
    this._source?.close();
    this._source = null;
    this._opened?.reject(new Error('closed'));
    this._opened = null;
  }

  private _reconnect(): void {
    if (this._disposed) return;
    this._close();
    void this._poll.refresh();
  }

  /**
   * The poll's tick: nothing to do while the stream is open or the browser is re-opening it; a closed
   * stream is opened again, and the tick fails (so the poll backs off) until it is open.
   */
  private _ensureStream(): Promise<void> {
    const current = this._source;
    if (current && current.readyState !== EventSource.CLOSED) return Promise.resolve();
    this._close();
    const source = new EventSource(this.api.eventsUrl({ inventory: '1' }), { withCredentials: true });
    this._source = source;
    const opened = new Promise<void>((resolve, reject) => (this._opened = { resolve, reject }));
    const onEvent = (type: string) => (ev: MessageEvent) => {
      const action = actionFromEvent(type, String(ev.data));
      if (action) this.dispatch(action);
    };
    source.addEventListener('job', onEvent('job'));
    source.addEventListener('task', onEvent('task'));
    source.addEventListener('inventory', (ev: MessageEvent) => {
      const parsed = InventorySchema.safeParse(safeJson(String(ev.data)));
      if (!parsed.success) return;
      this._inventory = parsed.data;
      this._changed.emit();
    });
    source.onopen = () => {
      this._opened?.resolve();
      this._opened = null;
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
        this._opened?.reject(new Error('the event stream closed'));
        this._opened = null;
      }
    };
    return opened;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
