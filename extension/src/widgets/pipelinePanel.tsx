/**
 * Left sidebar "Cellpipe Pipeline": the current notebook compiled live with the same compiler the
 * server uses (`compileNotebook` from `@cellpipe/schema`), drawn as a DAG, with its problems, its
 * parameters and the "Run as Pipeline" button.
 */
import {
  compileNotebook,
  formatDiagnostic,
  type Diagnostic,
  type Inventory,
  type NotebookCompileResult,
  type Parameter,
} from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import * as React from 'react';
import { describeError } from '../api/client.js';
import { Dag, type DagTask } from '../components/Dag.js';
import { revealCell, watchNotebook } from '../notebookWatch.js';
import type { ICellpipeAPI, ICellpipeJobs } from '../tokens.js';

const CLASS = 'jp-cellpipe-Pipeline';
const RECOMPILE_DELAY_MS = 300;

/** Text the parameters form shows for a default value. */
export function parameterText(p: Parameter): string {
  return typeof p.default === 'string' ? p.default : JSON.stringify(p.default);
}

/** The value to send for a parameter typed into the form: strings as typed, anything else as JSON. */
export function parameterValue(p: Parameter, text: string): unknown {
  const stringy = p.type === 'string' || (p.type === undefined && typeof p.default === 'string');
  if (stringy) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The job id the runner records in an executed notebook's `metadata.cellpipe`, if any. */
export function executedJob(metadata: unknown): string | null {
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return null;
  const jobId = (metadata as Record<string, unknown>)['jobId'];
  return typeof jobId === 'string' ? jobId : null;
}

export class PipelinePanel extends ReactWidget {
  private readonly _changed = new Signal<this, void>(this);
  private _panel: NotebookPanel | null = null;
  private _watch: IDisposable | null = null;
  private _result: NotebookCompileResult | null = null;
  private _values: Record<string, string> = {};
  private _inventory: Inventory | null = null;
  private _inventoryError: string | null = null;
  private _target = '';
  private _running = false;
  /** Set when the open notebook is a task's executed copy (the runner's record in its metadata). */
  private _executedBy: string | null = null;
  /** Last job run from each notebook path. */
  private readonly _lastJob = new Map<string, string>();

  constructor(
    private readonly tracker: INotebookTracker,
    private readonly api: ICellpipeAPI,
    private readonly jobs: ICellpipeJobs,
    private readonly runPipeline: () => Promise<void>,
    /** Opens "Schedule…" for the current notebook. */
    private readonly schedulePipeline: () => Promise<void>,
  ) {
    super();
    this.addClass(CLASS);
    tracker.currentChanged.connect(this._onCurrent, this);
    jobs.changed.connect(() => this._changed.emit(), this);
    this._onCurrent();
  }

  get notebook(): NotebookPanel | null {
    return this._panel;
  }

  get result(): NotebookCompileResult | null {
    return this._result;
  }

  get running(): boolean {
    return this._running;
  }

  set running(value: boolean) {
    this._running = value;
    this._changed.emit();
  }

  /** Parameter overrides for a run: only values that differ from the defaults. */
  parameters(): Record<string, unknown> {
    const params = this._result?.pipeline?.spec.parameters ?? {};
    const out: Record<string, unknown> = {};
    for (const [name, p] of Object.entries(params)) {
      const text = this._values[name];
      if (text === undefined || text === parameterText(p)) continue;
      out[name] = parameterValue(p, text);
    }
    return out;
  }

  setLastJob(path: string, jobId: string): void {
    this._lastJob.set(path, jobId);
    this._changed.emit();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this._watch?.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  protected override onAfterShow(): void {
    void this._loadInventory();
  }

  private async _loadInventory(): Promise<void> {
    try {
      this._inventory = await this.api.client.inventory();
      this._inventoryError = null;
      this._target = this._inventory.executor;
    } catch (err) {
      this._inventoryError = describeError(err);
    }
    this._changed.emit();
  }

  private _onCurrent(): void {
    const panel = this.tracker.currentWidget;
    if (panel === this._panel) return;
    this._watch?.dispose();
    this._watch = null;
    this._panel = panel;
    this._result = null;
    this._executedBy = null;
    this._values = {};
    this._changed.emit();
    if (!panel) return;
    void panel.context.ready.then(() => {
      if (this._panel !== panel || !panel.model) return;
      this._watch = watchNotebook(panel.model, () => this._compile(), RECOMPILE_DELAY_MS);
      this._compile();
    });
    panel.disposed.connect(() => {
      if (this._panel === panel) this._onCurrent();
    });
  }

  private _compile(): void {
    const panel = this._panel;
    if (!panel?.model) return;
    this._executedBy = executedJob(panel.model.getMetadata('cellpipe'));
    this._result = this._executedBy
      ? { diagnostics: [], cells: [] }
      : compileNotebook(panel.model.toJSON(), { path: panel.context.path });
    this._changed.emit();
  }

  private _jump(d: Diagnostic): void {
    const panel = this._panel;
    if (!panel || d.cell === undefined) return;
    void revealCell(panel.content, d.cell - 1);
  }

  private _taskStates(path: string): Map<string, { state: string; detail?: string }> {
    const out = new Map<string, { state: string; detail?: string }>();
    const jobId = this._lastJob.get(path);
    const job = jobId ? this.jobs.state.details[jobId] : undefined;
    for (const t of job?.tasks ?? []) out.set(t.name, { state: t.state });
    return out;
  }

  protected render(): React.ReactElement {
    return <UseSignal signal={this._changed}>{() => this._renderBody()}</UseSignal>;
  }

  private _renderBody(): React.ReactElement {
    const panel = this._panel;
    if (!panel) {
      return (
        <div className={`${CLASS}-body`}>
          <h2 className={`${CLASS}-title`}>Cellpipe Pipeline</h2>
          <p className={`${CLASS}-empty`}>Open a notebook to see its pipeline.</p>
        </div>
      );
    }
    if (this._executedBy) {
      return (
        <div className={`${CLASS}-body`}>
          <h2 className={`${CLASS}-title`}>Cellpipe Pipeline</h2>
          <p className={`${CLASS}-empty`}>
            {panel.context.path} is the executed copy of a task of job {this._executedBy}; open the source notebook to
            edit or run its pipeline.
          </p>
        </div>
      );
    }
    const result = this._result;
    const pipeline = result?.pipeline;
    const diagnostics = result?.diagnostics ?? [];
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const states = this._taskStates(panel.context.path);
    const tasks: DagTask[] = (pipeline?.spec.tasks ?? []).map((t) => {
      const r = t.resources;
      const detail = r.mig ? `MIG ${r.mig}` : r.gpu ? `${r.gpu} GPU` : undefined;
      return { name: t.name, dependsOn: t.dependsOn, state: states.get(t.name)?.state ?? 'pending', detail };
    });
    const params = Object.entries(pipeline?.spec.parameters ?? {});
    const lastJob = this._lastJob.get(panel.context.path);
    const lastSummary = lastJob ? this.jobs.state.jobs.find((j) => j.id === lastJob) : undefined;
    const executor = this._inventory?.executor;
    const targets = executor ? [executor] : [];
    return (
      <div className={`${CLASS}-body`}>
        <h2 className={`${CLASS}-title`}>Cellpipe Pipeline</h2>
        <div className={`${CLASS}-notebook`} title={panel.context.path}>
          {pipeline ? pipeline.metadata.name : panel.context.path}
          {pipeline ? ` · ${pipeline.spec.tasks.length} task${pipeline.spec.tasks.length === 1 ? '' : 's'}` : ''}
        </div>
        <section className={`${CLASS}-graph`} aria-label="Pipeline graph">
          {result === null ? (
            <p className={`${CLASS}-empty`}>Compiling…</p>
          ) : pipeline ? (
            <Dag tasks={tasks} label={`Tasks of ${pipeline.metadata.name}`} />
          ) : (
            <p className={`${CLASS}-empty`}>
              {errors.length > 0
                ? 'Fix the problems below to see the graph.'
                : 'Tag a code cell with task:NAME to start a pipeline.'}
            </p>
          )}
        </section>
        <section className={`${CLASS}-problems`} aria-label="Problems">
          <h3>Problems</h3>
          {diagnostics.length === 0 ? (
            <p className={`${CLASS}-none`}>No problems.</p>
          ) : (
            <ul>
              {diagnostics.map((d, i) => (
                <li key={i} className={`${CLASS}-problem jp-mod-${d.severity}`}>
                  <button type="button" className={`${CLASS}-problemButton`} onClick={() => this._jump(d)}>
                    {formatDiagnostic(d)}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
        {params.length > 0 ? (
          <section className={`${CLASS}-parameters`} aria-label="Parameters">
            <h3>Parameters</h3>
            {params.map(([name, p]) => {
              const id = `cellpipe-param-${name}`;
              return (
                <div key={name} className={`${CLASS}-param`}>
                  <label htmlFor={id}>{name}</label>
                  <input
                    id={id}
                    className="jp-mod-styled"
                    type="text"
                    value={this._values[name] ?? parameterText(p)}
                    title={p.description ?? p.type ?? ''}
                    onChange={(e) => {
                      this._values[name] = e.currentTarget.value;
                      this._changed.emit();
                    }}
                  />
                </div>
              );
            })}
          </section>
        ) : null}
        <section className={`${CLASS}-run`}>
          <div className={`${CLASS}-target`}>
            <label htmlFor="cellpipe-target">Target</label>
            <select
              id="cellpipe-target"
              className="jp-mod-styled"
              value={this._target}
              onChange={(e) => {
                this._target = e.currentTarget.value;
                this._changed.emit();
              }}
            >
              {targets.length === 0 ? (
                <option value="">{this._inventoryError ? 'server unavailable' : 'loading…'}</option>
              ) : null}
              {targets.map((t) => (
                <option key={t} value={t}>
                  {t === 'local' ? 'Local (this machine)' : t === 'kubernetes' ? 'Cluster (Kubernetes)' : t}
                </option>
              ))}
            </select>
          </div>
          {this._inventoryError ? <p className={`${CLASS}-offline`}>{this._inventoryError}</p> : null}
          <button
            type="button"
            className={`${CLASS}-runButton jp-mod-styled jp-mod-accept`}
            disabled={!pipeline || this._running}
            title={pipeline ? 'Submit this notebook as a pipeline job' : 'The notebook has no runnable pipeline yet'}
            onClick={() => void this.runPipeline()}
          >
            Run as Pipeline
          </button>
          <button
            type="button"
            className={`${CLASS}-scheduleButton jp-mod-styled`}
            disabled={!pipeline}
            title={
              pipeline
                ? 'Run this notebook on a schedule in the Cellpipe server'
                : 'The notebook has no runnable pipeline yet'
            }
            onClick={() => void this.schedulePipeline()}
          >
            Schedule…
          </button>
          {lastSummary ? (
            <p className={`${CLASS}-last`}>
              Last run: {lastSummary.id} · {lastSummary.state}
            </p>
          ) : null}
        </section>
      </div>
    );
  }
}
