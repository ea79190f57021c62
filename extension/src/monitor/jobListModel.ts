/**
 * The Jobs tab's list: the server filters and pages it (`GET /api/jobs?q=&state=&user=&since=`),
 * events keep the loaded rows current, and a new job or a state change under a filter reloads the
 * loaded window. It also holds the rows the user ticked for bulk actions.
 */
import type { JobState, JobSummary } from '@cellpipe/schema';
import type { IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError, type JobListFilter } from '../api/client.js';
import { laterSummary } from '../jobs/state.js';
import type { ICellpipeAPI, ICellpipeJobs } from '../tokens.js';

export const PAGE_SIZE = 50;
/** The API's largest page: a reload fetches every loaded row again in one request, up to this. */
const MAX_RELOAD = 500;
const SEARCH_DELAY_MS = 300;
const RELOAD_DELAY_MS = 500;

export type CreatedWithin = 'any' | 'hour' | 'day' | 'week' | 'month';

const WITHIN_MS: Record<Exclude<CreatedWithin, 'any'>, number> = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
};

export interface JobFilter {
  /** Words the job's name, id or owner contains. */
  search: string;
  /** Empty: every state. */
  states: JobState[];
  /** Another user's jobs (admins); empty: the server's default (your own, or everyone's for admins). */
  user: string;
  createdWithin: CreatedWithin;
}

export const NO_FILTER: JobFilter = { search: '', states: [], user: '', createdWithin: 'any' };

/** The API query for a filter, at time `now`. */
export function filterQuery(filter: JobFilter, now: number): JobListFilter {
  const q: JobListFilter = {};
  if (filter.search.trim()) q.q = filter.search.trim();
  if (filter.states.length) q.states = filter.states;
  if (filter.user.trim()) q.user = filter.user.trim();
  if (filter.createdWithin !== 'any') q.since = new Date(now - WITHIN_MS[filter.createdWithin]).toISOString();
  return q;
}

export function isFiltered(filter: JobFilter): boolean {
  return Boolean(filter.search.trim() || filter.states.length || filter.user.trim() || filter.createdWithin !== 'any');
}

export class JobListModel implements IDisposable {
  private readonly _changed = new Signal<this, void>(this);
  private _filter: JobFilter = NO_FILTER;
  private _items: JobSummary[] = [];
  private _total: number | undefined;
  private _cursor: string | undefined;
  private _loading = false;
  private _error: string | null = null;
  private _checked = new Set<string>();
  /** Bumped by every load, so a slow reply to an older query never overwrites a newer one. */
  private _generation = 0;
  private _timer: number | undefined;
  private _disposed = false;
  private _loaded = false;
  private _wasConnected = false;

  constructor(
    private readonly jobs: ICellpipeJobs,
    private readonly api: ICellpipeAPI,
  ) {
    jobs.changed.connect(this._onJobs, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get filter(): JobFilter {
    return this._filter;
  }

  get items(): readonly JobSummary[] {
    return this._items;
  }

  /** How many jobs match the filter on the server (undefined until the first page arrives). */
  get total(): number | undefined {
    return this._total;
  }

  get hasMore(): boolean {
    return this._cursor !== undefined;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  get checked(): ReadonlySet<string> {
    return this._checked;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Changes the filter; typing in the search box reloads once the typing pauses. */
  setFilter(patch: Partial<JobFilter>): void {
    this._filter = { ...this._filter, ...patch };
    this._changed.emit();
    this._schedule(patch.search !== undefined ? SEARCH_DELAY_MS : 0, PAGE_SIZE);
  }

  /** Loads the first page once (the list is loaded when first shown, not when JupyterLab starts). */
  ensureLoaded(): void {
    if (!this._loaded) void this.reload();
  }

  /** Loads the first page for the current filter (the loaded rows are replaced). */
  reload(limit = PAGE_SIZE): Promise<void> {
    window.clearTimeout(this._timer);
    this._timer = undefined;
    return this._load(Math.min(MAX_RELOAD, Math.max(PAGE_SIZE, limit)), undefined);
  }

  /** Appends the next page. */
  async loadMore(): Promise<void> {
    if (!this._cursor || this._loading) return;
    await this._load(PAGE_SIZE, this._cursor);
  }

  toggle(id: string, checked = !this._checked.has(id)): void {
    const next = new Set(this._checked);
    if (checked) next.add(id);
    else next.delete(id);
    this._checked = next;
    this._changed.emit();
  }

  /** Ticks every loaded row, or none. */
  checkAll(checked: boolean): void {
    this._checked = checked ? new Set(this._items.map((j) => j.id)) : new Set();
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    window.clearTimeout(this._timer);
    this.jobs.changed.disconnect(this._onJobs, this);
    Signal.clearData(this);
  }

  private _schedule(delayMs: number, limit: number): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => {
      this._timer = undefined;
      void this.reload(limit);
    }, delayMs);
  }

  private async _load(limit: number, cursor: string | undefined): Promise<void> {
    this._loaded = true;
    const generation = ++this._generation;
    this._loading = true;
    this._changed.emit();
    try {
      const page = await this.api.client.listJobs({ ...filterQuery(this._filter, Date.now()), limit, cursor });
      if (generation !== this._generation || this._disposed) return;
      const known = new Map(this.jobs.summaries().map((j) => [j.id, j]));
      // Events may be newer than the page: never move a row back to an earlier state.
      const rows = page.items.map((j) => laterSummary(known.get(j.id), j));
      this._items = cursor ? [...this._items, ...rows.filter((r) => !this._items.some((i) => i.id === r.id))] : rows;
      this._cursor = page.nextCursor;
      this._total = page.total;
      this._error = null;
      const present = new Set(this._items.map((j) => j.id));
      this._checked = new Set([...this._checked].filter((id) => present.has(id)));
    } catch (err) {
      if (generation !== this._generation) return;
      this._error = describeError(err);
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  private _onJobs(): void {
    // Back after an outage: what the list shows may be stale.
    const connected = this.jobs.connection.kind === 'connected';
    if (connected && !this._wasConnected && this._loaded) this._schedule(0, this._items.length);
    this._wasConnected = connected;
    const latest = new Map(this.jobs.summaries().map((j) => [j.id, j]));
    let changed = false;
    let reload = false;
    const filtered = isFiltered(this._filter);
    this._items = this._items.map((row) => {
      const next = latest.get(row.id);
      if (!next || next === row) return row;
      const merged = laterSummary(row, next);
      if (merged === row) return row;
      changed = true;
      // Under a state or search filter a row may stop matching: the server decides.
      if (filtered && merged.state !== row.state) reload = true;
      return merged;
    });
    const newest = this._items[0]?.createdAt ?? '';
    const listed = new Set(this._items.map((j) => j.id));
    for (const j of latest.values()) {
      if (!listed.has(j.id) && j.createdAt >= newest) reload = true;
    }
    if (changed) this._changed.emit();
    if (reload && this._timer === undefined && !this._loading) this._schedule(RELOAD_DELAY_MS, this._items.length);
  }
}
