/**
 * Main-area "Cellpipe Jobs": the job list (newest first) and one job's detail, live from the jobs
 * model (server-sent events). Actions go through commands so the palette and tests use the same path.
 */
import type { Job, JobSummary, TaskRun } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import * as React from 'react';
import { describeError } from '../api/client.js';
import { Dag, type DagTask } from '../components/Dag.js';
import { elapsedMs, formatDuration, isJobFinished, isTaskFinished } from '../jobs/state.js';
import type { ICellpipeAPI, ICellpipeJobs } from '../tokens.js';

const CLASS = 'jp-cellpipe-Monitor';

export interface MonitorActions {
  cancel(jobId: string): Promise<void>;
  rerun(jobId: string, mode: 'all' | 'failed'): Promise<void>;
  openAtCell(jobId: string, cell: number): Promise<void>;
  openExecuted(jobId: string, task: string): Promise<void>;
  downloadArtifact(jobId: string, task: string, path: string): Promise<void>;
}

interface LogView {
  jobId: string;
  task: string;
  text: string;
  live: boolean;
  error?: string;
}

function time(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Task rows show the clock time only; the job's date is in its facts. */
function clock(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

/** Python tracebacks carry terminal colour codes. */
function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

function resourcesText(t: TaskRun): string {
  const r = t.resources;
  const parts: string[] = [];
  if (r.mig) parts.push(`MIG ${r.mig}`);
  if (r.gpu) parts.push(`${r.gpu} GPU`);
  if (r.cpu) parts.push(`${r.cpu} CPU`);
  if (r.memory) parts.push(r.memory);
  return parts.join(', ');
}

export class MonitorWidget extends ReactWidget {
  private readonly _changed = new Signal<this, void>(this);
  private _selected: string | null = null;
  private _detailError: string | null = null;
  private _log: LogView | null = null;
  private _logAbort: AbortController | null = null;
  private _busy = false;
  private _ticker: number | undefined;

  constructor(
    private readonly jobs: ICellpipeJobs,
    private readonly api: ICellpipeAPI,
    private readonly actions: MonitorActions,
  ) {
    super();
    this.addClass(CLASS);
    jobs.changed.connect(this._onJobs, this);
  }

  get selected(): string | null {
    return this._selected;
  }

  select(jobId: string | null): void {
    if (jobId !== this._selected) this.closeLog();
    this._selected = jobId;
    this._detailError = null;
    this._changed.emit();
    if (jobId) {
      this.jobs.loadJob(jobId).catch((err: unknown) => {
        this._detailError = describeError(err);
        this._changed.emit();
      });
    }
  }

  /** Runs an action, showing its failure inline instead of losing it. */
  async run(action: () => Promise<void>): Promise<void> {
    this._busy = true;
    this._changed.emit();
    try {
      await action();
      this._detailError = null;
    } catch (err) {
      this._detailError = describeError(err);
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

  override dispose(): void {
    if (this.isDisposed) return;
    this._logAbort?.abort();
    if (this._ticker !== undefined) window.clearInterval(this._ticker);
    this.jobs.changed.disconnect(this._onJobs, this);
    Signal.clearData(this);
    super.dispose();
  }

  private _onJobs(): void {
    // Running durations tick once a second while something runs.
    const anyRunning = this.jobs.state.jobs.some((j) => !isJobFinished(j.state));
    if (anyRunning && this._ticker === undefined) {
      this._ticker = window.setInterval(() => this._changed.emit(), 1000);
    } else if (!anyRunning && this._ticker !== undefined) {
      window.clearInterval(this._ticker);
      this._ticker = undefined;
    }
    this._changed.emit();
  }

  protected render(): React.ReactElement {
    return <UseSignal signal={this._changed}>{() => this._renderBody()}</UseSignal>;
  }

  private _renderBody(): React.ReactElement {
    const { state, connection } = this.jobs;
    const selected = this._selected ? state.details[this._selected] : undefined;
    const selectedSummary = this._selected ? state.jobs.find((j) => j.id === this._selected) : undefined;
    return (
      <div className={`${CLASS}-body`}>
        {connection.kind === 'error' ? (
          <div className={`${CLASS}-banner jp-mod-error`} role="alert">
            {connection.message}
            {connection.unreachable
              ? ' Start the server with `cellpipe serve` (or set CELLPIPE_URL for Jupyter) and it reconnects by itself.'
              : ''}
            {connection.unauthorized ? ' Check CELLPIPE_TOKEN or $CELLPIPE_HOME/token for the Jupyter server.' : ''}
          </div>
        ) : null}
        <div className={`${CLASS}-layout`}>
          <section className={`${CLASS}-list`} aria-label="Jobs">
            <div className={`${CLASS}-listHeader`}>
              <h2>Jobs</h2>
              <button type="button" className="jp-mod-styled" onClick={() => void this.jobs.refresh()}>
                Refresh
              </button>
            </div>
            {state.jobs.length === 0 ? (
              <p className={`${CLASS}-empty`}>
                {connection.kind === 'error'
                  ? 'No jobs to show while the Cellpipe server is unavailable.'
                  : 'No Cellpipe jobs yet. Tag cells as tasks in a notebook and click "Run as Pipeline" in the Cellpipe Pipeline panel.'}
              </p>
            ) : (
              <ul className={`${CLASS}-jobs`}>{state.jobs.map((j) => this._renderRow(j))}</ul>
            )}
            {this.jobs.hasMore ? (
              <button type="button" className="jp-mod-styled" onClick={() => void this.run(() => this.jobs.loadMore())}>
                Older jobs
              </button>
            ) : null}
          </section>
          <section className={`${CLASS}-detail`} aria-label="Job detail">
            {this._detailError ? (
              <div className={`${CLASS}-error`} role="alert">
                {this._detailError}
              </div>
            ) : null}
            {selected ? (
              this._renderDetail(selected)
            ) : selectedSummary ? (
              <p className={`${CLASS}-empty`}>Loading {selectedSummary.name}…</p>
            ) : (
              <p className={`${CLASS}-empty`}>Select a job to see its tasks, logs and results.</p>
            )}
          </section>
        </div>
      </div>
    );
  }

  private _renderRow(j: JobSummary): React.ReactElement {
    const counts = Object.entries(j.taskCounts)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(', ');
    return (
      <li
        key={j.id}
        data-job-id={j.id}
        data-state={j.state}
        className={`${CLASS}-row jp-mod-${j.state}${j.id === this._selected ? ' jp-mod-selected' : ''}`}
      >
        <button
          type="button"
          className={`${CLASS}-rowButton`}
          onClick={() => this.select(j.id)}
          aria-pressed={j.id === this._selected}
        >
          <span className={`${CLASS}-rowName`}>{j.name}</span>
          <span className={`${CLASS}-state jp-mod-${j.state}`}>{j.state}</span>
          <span className={`${CLASS}-rowMeta`}>
            {j.id} · {j.owner} · {time(j.createdAt)}
            {counts ? ` · ${counts}` : ''}
          </span>
        </button>
      </li>
    );
  }

  private _renderDetail(job: Job): React.ReactElement {
    const now = Date.now();
    const finished = isJobFinished(job.state);
    const hasFailed = job.tasks.some((t) => t.state === 'failed' || t.state === 'cancelled' || t.state === 'skipped');
    const dagTasks: DagTask[] = job.tasks.map((t) => ({
      name: t.name,
      dependsOn: t.dependsOn,
      state: t.state,
      detail: t.reused ? 'reused' : formatDuration(elapsedMs(t.startedAt, t.finishedAt, now)) || undefined,
    }));
    const log = this._log && this._log.jobId === job.id ? this._log : null;
    return (
      <div className={`${CLASS}-job`}>
        <div className={`${CLASS}-jobHeader`}>
          <h2>
            {job.name} <span className={`${CLASS}-state jp-mod-${job.state}`}>{job.state}</span>
          </h2>
          <div className={`${CLASS}-actions`}>
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn"
              disabled={finished || this._busy}
              onClick={() => void this.run(() => this.actions.cancel(job.id))}
            >
              Cancel
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              disabled={!finished || this._busy}
              onClick={() => void this.run(() => this.actions.rerun(job.id, 'all'))}
            >
              Re-run
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              disabled={!finished || !hasFailed || this._busy}
              onClick={() => void this.run(() => this.actions.rerun(job.id, 'failed'))}
            >
              Re-run failed
            </button>
          </div>
        </div>
        <dl className={`${CLASS}-facts`}>
          <dt>Job</dt>
          <dd>{job.id}</dd>
          <dt>Owner</dt>
          <dd>{job.owner}</dd>
          <dt>Executor</dt>
          <dd>{job.executor}</dd>
          <dt>Created</dt>
          <dd>{time(job.createdAt)}</dd>
          <dt>Started</dt>
          <dd>{time(job.startedAt)}</dd>
          <dt>Finished</dt>
          <dd>{time(job.finishedAt)}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(elapsedMs(job.startedAt, job.finishedAt, now))}</dd>
          {job.parentJobId ? (
            <>
              <dt>Re-run of</dt>
              <dd>
                <button type="button" className={`${CLASS}-link`} onClick={() => this.select(job.parentJobId ?? null)}>
                  {job.parentJobId}
                </button>
              </dd>
            </>
          ) : null}
          {Object.keys(job.parameters).length > 0 ? (
            <>
              <dt>Parameters</dt>
              <dd>{JSON.stringify(job.parameters)}</dd>
            </>
          ) : null}
        </dl>
        {job.error ? (
          <div className={`${CLASS}-error`} role="alert">
            {job.error}
          </div>
        ) : null}
        <Dag tasks={dagTasks} label={`Tasks of job ${job.id}`} onSelect={(task) => this.showLogs(job.id, task)} />
        <table className={`${CLASS}-tasks`}>
          <thead>
            <tr>
              <th>Task</th>
              <th>State</th>
              <th>Attempt</th>
              <th>Resources</th>
              <th>Started</th>
              <th>Finished</th>
              <th>Duration</th>
              <th />
            </tr>
          </thead>
          <tbody>{job.tasks.map((t) => this._renderTask(job, t, now))}</tbody>
        </table>
        {log ? (
          <section className={`${CLASS}-log`} aria-label={`Logs of ${log.task}`}>
            <div className={`${CLASS}-logHeader`}>
              <h3>
                Logs of {log.task}
                {log.live ? <span className={`${CLASS}-live`}> (live)</span> : null}
              </h3>
              <button type="button" className="jp-mod-styled" onClick={() => this.closeLog()}>
                Close log view
              </button>
            </div>
            {log.error ? (
              <div className={`${CLASS}-error`} role="alert">
                {log.error}
              </div>
            ) : null}
            <pre className={`${CLASS}-logText`}>{log.text || (log.live ? 'Waiting for output…' : '(no output)')}</pre>
          </section>
        ) : null}
      </div>
    );
  }

  private _renderTask(job: Job, t: TaskRun, now: number): React.ReactElement {
    const err = t.error;
    return (
      <React.Fragment key={t.name}>
        <tr data-task-row={t.name} data-state={t.state} className={`${CLASS}-task jp-mod-${t.state}`}>
          <td>{t.name}</td>
          <td>
            <span className={`${CLASS}-state jp-mod-${t.state}`}>{t.state}</span>
            {t.reused ? <span className={`${CLASS}-reused`}> (reused)</span> : null}
          </td>
          <td title="attempt / attempts allowed (retries + 1)">
            {t.attempt}/{t.maxAttempts}
          </td>
          <td>
            {resourcesText(t)}
            {t.placement ? <div className={`${CLASS}-placement`}>{t.placement}</div> : null}
          </td>
          <td title={t.startedAt}>{clock(t.startedAt)}</td>
          <td title={t.finishedAt}>{clock(t.finishedAt)}</td>
          <td>{formatDuration(t.durationMs ?? elapsedMs(t.startedAt, t.finishedAt, now))}</td>
          <td className={`${CLASS}-taskActions`}>
            <button type="button" className="jp-mod-styled" onClick={() => this.showLogs(job.id, t.name)}>
              Logs
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              disabled={t.attempt === 0 || t.state === 'pending' || t.state === 'queued' || t.state === 'skipped'}
              onClick={() => void this.run(() => this.actions.openExecuted(job.id, t.name))}
            >
              Executed notebook
            </button>
          </td>
        </tr>
        {t.waitingReason && !isTaskFinished(t.state) && t.state !== 'running' ? (
          <tr className={`${CLASS}-waiting`}>
            <td colSpan={8}>Waiting: {t.waitingReason}</td>
          </tr>
        ) : null}
        {err ? (
          <tr className={`${CLASS}-taskError`}>
            <td colSpan={8} role="alert">
              <div className={`${CLASS}-errorText`}>
                {err.ename && !err.message.startsWith(err.ename) ? `${err.ename}: ` : ''}
                {err.message}
                {err.reason ? ` (${err.reason})` : ''}
              </div>
              {err.cell !== undefined ? (
                <button
                  type="button"
                  className={`${CLASS}-link`}
                  onClick={() => void this.run(() => this.actions.openAtCell(job.id, err.cell ?? 1))}
                >
                  Open the notebook at cell {err.cell}
                </button>
              ) : null}
              {err.traceback ? <pre className={`${CLASS}-traceback`}>{stripAnsi(err.traceback)}</pre> : null}
            </td>
          </tr>
        ) : null}
        {t.artifacts.length > 0 ? (
          <tr className={`${CLASS}-artifacts`}>
            <td colSpan={8}>
              Artifacts:{' '}
              {t.artifacts.map((a) => (
                <button
                  key={a}
                  type="button"
                  className={`${CLASS}-link`}
                  onClick={() => void this.run(() => this.actions.downloadArtifact(job.id, t.name, a))}
                >
                  {a}
                </button>
              ))}
            </td>
          </tr>
        ) : null}
      </React.Fragment>
    );
  }
}
