/**
 * The current notebook's pipeline, compiled live with the same compiler the server uses: its graph
 * (kept on screen through errors), its problems (the compiler's, and requests no GPU or MIG slice of
 * the server can ever satisfy), its parameters, and the state of its last run. The sidebar and the
 * main-area graph both render it.
 */
import {
  compileNotebook,
  type Diagnostic,
  type NotebookCompileResult,
  type NotifyRule,
  type Parameter,
  type Pipeline,
} from '@cellpipe/schema';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import type { TaskGraphData } from '../dag/graph.js';
import { notebookGraph, type CompileWithEdges } from '../dag/notebookGraph.js';
import { unsatisfiable } from '../inventoryCheck.js';
import { revealCell, watchNotebook } from '../notebookWatch.js';
import type { ICellpipeJobs } from '../tokens.js';

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

/** The notebook with its `after:` tags removed (nothing else changes). */
export function withoutAfterTags<T extends { cells?: { metadata?: Record<string, unknown> }[] }>(nb: T): T {
  return {
    ...nb,
    cells: (nb.cells ?? []).map((c) => {
      const tags = c.metadata?.['tags'];
      if (!Array.isArray(tags)) return c;
      return {
        ...c,
        metadata: { ...c.metadata, tags: tags.filter((t) => !(typeof t === 'string' && /^\s*after\s*:/i.test(t))) },
      };
    }),
  };
}

/** True for the compiler's "no tasks yet" error: a new notebook gets a getting-started hint instead. */
export function hasNoTasks(result: NotebookCompileResult): boolean {
  return !result.cells.some((c) => c.role === 'task') && !result.diagnostics.some((d) => d.cell !== undefined);
}

/** A request no device of the server can ever satisfy, listed under Problems with its task and cell. */
export interface ResourceProblem {
  task: string;
  cell?: number;
  message: string;
}

export function resourceProblems(
  pipeline: Pipeline | undefined,
  inventory: Parameters<typeof unsatisfiable>[0],
): ResourceProblem[] {
  if (!pipeline || !inventory) return [];
  const out: ResourceProblem[] = [];
  for (const t of pipeline.spec.tasks) {
    const r = { ...(pipeline.spec.defaults.resources ?? {}), ...t.resources };
    const message = unsatisfiable(inventory, { gpus: r.gpu ? String(r.gpu) : '', mig: r.mig ?? '' });
    if (message) out.push({ task: t.name, ...(t.cells.length ? { cell: Math.min(...t.cells) + 1 } : {}), message });
  }
  return out;
}

export class PipelineModel implements IDisposable {
  private readonly _changed = new Signal<this, void>(this);
  private _panel: NotebookPanel | null = null;
  private _watch: IDisposable | null = null;
  private _result: CompileWithEdges | null = null;
  private _graph: TaskGraphData | null = null;
  private _executedBy: string | null = null;
  private _values: Record<string, string> = {};
  /** Where the next run's end is sent (the sidebar's Notify field; empty: only the pipeline's own rules). */
  notify: NotifyRule[] = [];
  private _running = false;
  private _stayInNotebook = false;
  private _disposed = false;
  /** The last pipeline that compiled, per notebook path: its variable flow draws the graph through errors. */
  private readonly _lastGood = new Map<string, Pipeline>();
  /** Last job run from each notebook path. */
  private readonly _lastJob = new Map<string, string>();

  constructor(
    private readonly tracker: INotebookTracker,
    readonly jobs: ICellpipeJobs,
    private readonly trans: TranslationBundle,
  ) {
    tracker.currentChanged.connect(this._onCurrent, this);
    jobs.changed.connect(this._onJobs, this);
    this._onCurrent();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get notebook(): NotebookPanel | null {
    return this._panel;
  }

  get path(): string | null {
    return this._panel?.context.path ?? null;
  }

  get result(): CompileWithEdges | null {
    return this._result;
  }

  /** The open notebook is a task's executed copy: the job id it ran in. */
  get executedBy(): string | null {
    return this._executedBy;
  }

  get running(): boolean {
    return this._running;
  }

  set running(value: boolean) {
    this._running = value;
    this._changed.emit();
  }

  /** Run leaves the user in the notebook instead of opening the monitor (a setting). */
  get stayInNotebook(): boolean {
    return this._stayInNotebook;
  }

  set stayInNotebook(value: boolean) {
    if (value === this._stayInNotebook) return;
    this._stayInNotebook = value;
    this._changed.emit();
  }

  get noTasks(): boolean {
    return this._result !== null && hasNoTasks(this._result);
  }

  /** The compiler's diagnostics (the "no tasks" one is the getting-started hint instead). */
  get diagnostics(): Diagnostic[] {
    const result = this._result;
    if (!result) return [];
    return this.noTasks ? result.diagnostics.filter((d) => d.severity !== 'error') : result.diagnostics;
  }

  get resourceProblems(): ResourceProblem[] {
    return resourceProblems(this._result?.pipeline, this.jobs.inventory);
  }

  /** The graph of the notebook's tasks, states from its last run, resources as the second line. */
  get graph(): TaskGraphData | null {
    const result = this._result;
    const panel = this._panel;
    if (!result || !panel?.model || this.noTasks) return null;
    if (!this._graph) {
      const path = panel.context.path;
      const job = this.lastJob ? this.jobs.state.details[this.lastJob] : undefined;
      const states = new Map((job?.tasks ?? []).map((t) => [t.name, t.state]));
      const specs = new Map((result.pipeline?.spec.tasks ?? []).map((t) => [t.name, t]));
      const cells: { metadata?: Record<string, unknown> }[] = [];
      for (let i = 0; i < panel.model.cells.length; i++) cells.push({ metadata: panel.model.cells.get(i).metadata });
      this._graph = notebookGraph(result, cells, this._lastGood.get(path), (name) => {
        const r = specs.get(name)?.resources;
        const detail = r?.mig
          ? this.trans.__('MIG %1', r.mig)
          : r?.gpu
            ? this.trans._n('%1 GPU', '%1 GPUs', r.gpu)
            : undefined;
        return { state: states.get(name), detail };
      });
    }
    return this._graph;
  }

  get lastJob(): string | undefined {
    const path = this.path;
    return path ? this._lastJob.get(path) : undefined;
  }

  setLastJob(path: string, jobId: string): void {
    this._lastJob.set(path, jobId);
    this._invalidate();
  }

  parameterText(name: string, p: Parameter): string {
    return this._values[name] ?? parameterText(p);
  }

  setParameter(name: string, text: string): void {
    this._values[name] = text;
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

  /** Makes a cell (1-based) of the notebook active and shows it. */
  async revealCell(cell: number): Promise<void> {
    const panel = this._panel;
    if (panel) await revealCell(panel.content, cell - 1);
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._watch?.dispose();
    this.tracker.currentChanged.disconnect(this._onCurrent, this);
    this.jobs.changed.disconnect(this._onJobs, this);
    Signal.clearData(this);
  }

  private _invalidate(): void {
    this._graph = null;
    this._changed.emit();
  }

  private _onJobs(): void {
    // States on the graph and the inventory behind the resource problems follow the server.
    this._invalidate();
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
    this._invalidate();
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
    const path = panel.context.path;
    const content = panel.model.toJSON() as { cells?: { metadata?: Record<string, unknown> }[] };
    this._result = this._executedBy ? { diagnostics: [], cells: [] } : compileNotebook(content, { path });
    if (this._result.pipeline) this._lastGood.set(path, this._result.pipeline);
    else if (!this._executedBy) {
      // The variable flow does not depend on after: tags: without them the compiler may still give it
      // (a bad target or a cycle through after: is exactly what the draft graph has to show).
      const flow = compileNotebook(withoutAfterTags(content), { path }).pipeline;
      if (flow) this._lastGood.set(path, flow);
    }
    this._invalidate();
  }
}
