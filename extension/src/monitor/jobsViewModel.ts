/**
 * What the Jobs tab shows besides the jobs themselves: the selected job, the open log, an action in
 * progress and the last error. The components render it; they never hold this state themselves, so a
 * re-opened monitor comes back as it was left.
 */
import type { JobSummary, RerunPlan } from '@cellpipe/schema';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError } from '../api/client.js';
import { notebookRequest } from '../api/workDir.js';
import { isJobFinished, isTaskFinished } from '../jobs/state.js';
import type { ICellpipeAPI, ICellpipeJobs } from '../tokens.js';
import { JobSectionRegistry } from './jobSections.js';
import { JobListModel } from './jobListModel.js';

/** What the job detail's buttons do; the plugin routes each through a command (and asks first where it destroys). */
export interface MonitorActions {
  cancel(jobId: string): Promise<void>;
  /** Cancels one task of a job after a confirmation naming it. */
  cancelTask(jobId: string, task: string): Promise<void>;
  /** Cancels several jobs after one confirmation. */
  cancelJobs(jobIds: string[]): Promise<void>;
  /** Deletes several finished jobs and their files after one confirmation. */
  deleteJobs(jobIds: string[]): Promise<void>;
  rerun(jobId: string, mode: 'all' | 'failed'): Promise<void>;
  openAtCell(jobId: string, cell: number): Promise<void>;
  openExecuted(jobId: string, task: string): Promise<void>;
  downloadArtifact(jobId: string, task: string, path: string): Promise<void>;
  /** The job's source notebook as it is now (unsaved edits included), or null when it cannot be found. */
  notebookOf(jobId: string): Promise<{ path: string; content: Record<string, unknown> } | null>;
  /** Shows what a re-run with the current notebook reuses and runs, and starts it when confirmed. */
  rerunWithChanges(jobId: string): Promise<void>;
}

/** How the job's notebook compares with what the job ran (null: not asked, or no notebook to compare). */
export interface ChangeCheck {
  jobId: string;
  source: string;
  plan?: RerunPlan;
  error?: string;
}

export interface LogView {
  jobId: string;
  task: string;
  text: string;
  live: boolean;
  error?: string;
}

export class JobsViewModel implements IDisposable {
  private readonly _changed = new Signal<this, void>(this);
  private _selected: string | null = null;
  private _error: string | null = null;
  private _log: LogView | null = null;
  private _logAbort: AbortController | null = null;
  private _busy = false;
  private _ticker: number | undefined;
  private _disposed = false;
  private _announcement = '';
  private _changes: ChangeCheck | null = null;
  private _checking: string | null = null;
  /** Task states of the selected job as last seen, to announce what changed. */
  private _seen = new Map<string, string>();
  readonly list: JobListModel;

  constructor(
    readonly jobs: ICellpipeJobs,
    private readonly api: ICellpipeAPI,
    readonly actions: MonitorActions,
    private readonly trans: TranslationBundle,
    /** What other plugins show in a job's view below its tasks. */
    readonly sections: JobSectionRegistry = new JobSectionRegistry(),
  ) {
    this.list = new JobListModel(jobs, api);
    sections.changed.connect(() => this._changed.emit(), this);
    this.list.changed.connect(() => this._changed.emit(), this);
    jobs.changed.connect(this._onJobs, this);
    jobs.jobEnded.connect(this._onJobEnded, this);
    this._onJobs();
  }

  /** How the selected job's notebook compares with what it ran (for "Re-run with my changes"). */
  get changes(): ChangeCheck | null {
    return this._changes && this._changes.jobId === this._selected ? this._changes : null;
  }

  /**
   * Compares the selected (finished) job with its notebook as it is now: the server says which tasks a
   * re-run would reuse and why the others would run. Called on selection, when the Jobs tab shows
   * again (the user may have edited the notebook meanwhile) and when the job ends.
   */
  async checkChanges(): Promise<void> {
    const id = this._selected;
    const job = id ? this.jobs.state.details[id] : undefined;
    if (!id || !job || !isJobFinished(job.state) || this._checking === id) return;
    this._checking = id;
    try {
      const nb = await this.actions.notebookOf(id);
      if (!nb) {
        this._changes = null;
        return;
      }
      try {
        const plan = await this.api.client.rerunPlan(id, notebookRequest(nb));
        this._changes = { jobId: id, source: nb.path, plan };
      } catch (err) {
        this._changes = { jobId: id, source: nb.path, error: describeError(err) };
      }
    } finally {
      this._checking = null;
      this._changed.emit();
    }
  }

  /** The last state change worth telling a screen reader about (an `aria-live` region shows it). */
  get announcement(): string {
    return this._announcement;
  }

  /** Emitted on every change, and once a second while a job runs (durations tick). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get selected(): string | null {
    return this._selected;
  }

  get error(): string | null {
    return this._error;
  }

  get busy(): boolean {
    return this._busy;
  }

  get log(): LogView | null {
    return this._log;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  select(jobId: string | null): void {
    if (jobId !== this._selected) {
      this.closeLog();
      this._seen = new Map();
    }
    this._selected = jobId;
    this._error = null;
    this._changed.emit();
    if (jobId) {
      this.jobs.loadJob(jobId).then(
        () => this.checkChanges(),
        (err: unknown) => {
          this._error = describeError(err);
          this._changed.emit();
        },
      );
    }
  }

  /** Runs an action, showing its failure inline instead of losing it. */
  async run(action: () => Promise<void>): Promise<void> {
    this._busy = true;
    this._changed.emit();
    try {
      await action();
      this._error = null;
    } catch (err) {
      this._error = describeError(err);
    } finally {
      this._busy = false;
      this._changed.emit();
    }
  }

  showLogs(jobId: string, task: string): void {
    this.closeLog();
    const run = this.jobs.state.details[jobId]?.tasks.find((t) => t.name === task);
    const live = !run || !isTaskFinished(run.state);
    const view: LogView = { jobId, task, text: '', live };
    this._log = view;
    const abort = new AbortController();
    this._logAbort = abort;
    this._changed.emit();
    this.api.client
      .streamLogs(jobId, task, {
        follow: live,
        signal: abort.signal,
        onText: (text) => {
          view.text += text;
          this._changed.emit();
        },
      })
      .then(
        () => {
          view.live = false;
          this._changed.emit();
        },
        (err: unknown) => {
          if (abort.signal.aborted) return;
          view.live = false;
          view.error = describeError(err);
          this._changed.emit();
        },
      );
  }

  closeLog(): void {
    this._logAbort?.abort();
    this._logAbort = null;
    this._log = null;
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._logAbort?.abort();
    if (this._ticker !== undefined) window.clearInterval(this._ticker);
    this.jobs.changed.disconnect(this._onJobs, this);
    this.jobs.jobEnded.disconnect(this._onJobEnded, this);
    this.list.dispose();
    Signal.clearData(this);
  }

  private _announce(text: string): void {
    this._announcement = text;
    this._changed.emit();
  }

  private _onJobEnded(_: ICellpipeJobs, job: JobSummary): void {
    if (job.id === this._selected) void this.checkChanges();
    this._announce(this.trans.__('Job %1 (%2) %3', job.name, job.id, job.state));
  }

  /** Announces the selected job's tasks that changed state since the last look. */
  private _announceTasks(): void {
    const job = this._selected ? this.jobs.state.details[this._selected] : undefined;
    if (!job) return;
    const changed = job.tasks.filter((t) => this._seen.has(t.name) && this._seen.get(t.name) !== t.state);
    const first = this._seen.size === 0;
    this._seen = new Map(job.tasks.map((t) => [t.name, t.state]));
    if (first || !changed.length) return;
    this._announce(changed.map((t) => this.trans.__('Task %1 %2', t.name, t.state)).join('. '));
  }

  private _onJobs(): void {
    this._announceTasks();
    const anyRunning = this.jobs.state.jobs.some((j) => !isJobFinished(j.state));
    if (anyRunning && this._ticker === undefined) {
      this._ticker = window.setInterval(() => this._changed.emit(), 1000);
    } else if (!anyRunning && this._ticker !== undefined) {
      window.clearInterval(this._ticker);
      this._ticker = undefined;
    }
    this._changed.emit();
  }
}
