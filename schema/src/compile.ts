/**
 * Notebook → Pipeline compiler: tags and `metadata.cellpipe` give the tasks and their settings,
 * variable flow between tasks gives the dependencies, inputs and outputs. Browser-safe (the
 * JupyterLab extension runs it live to draw the DAG).
 *
 * Cell roles, in notebook order: cells before the first `task:` cell, cells tagged `setup` and the
 * `parameters` cell are setup (they run at the start of every task; `spec.setupCells` lists them
 * all, the parameters cell included, in order). A `task:NAME` cell starts task NAME and untagged
 * cells after it belong to it. `skip` leaves a cell's code out; its task and settings still apply,
 * so skipping the first cell of a task does not move the rest into the previous task.
 */
import { API_VERSION, PipelineSchema, TaskNameSchema, type Definition } from './spec.js';
import { hasErrors, sortDiagnostics, type CompileResult, type Diagnostic } from './diagnostics.js';
import { cellSource, notebookJson, parseNotebook, type NotebookCell } from './notebook.js';
import { cellSettings, hasTaskSettings, notebookSettings, type CellResources, type CellSettings } from './tags.js';
import { analyzePythonCached, type CellAnalysis } from './python/analyze.js';
import { inferFlow, type FlowReport, type TaskFlow, type VersionKind } from './flow.js';
import { processWarnings } from './effects.js';
import { parseParameters } from './python/parameters.js';
import { findCycles, formatCycle } from './graph.js';
import { mergeDefaults } from './defaults.js';
import { setOwn } from './own.js';

export interface CompileOptions {
  /** The notebook's path as the user knows it: used in messages; its basename is `spec.source.notebook`. */
  path: string;
}

/** How each code cell was understood; the extension uses it to colour cells and draw the DAG. */
export interface CellRole {
  /** 0-based cell index. */
  index: number;
  role: 'setup' | 'parameters' | 'task' | 'skipped';
  task?: string;
}

export interface NotebookCompileResult extends CompileResult {
  cells: CellRole[];
  /** With the pipeline: every dependency and why it exists (for the DAG view's edge labels). */
  edges?: DagEdge[];
}

interface TaskBuild {
  name: string;
  /** 0-based index of the cell that starts the task. */
  first: number;
  cells: number[];
  /** Every cell of the task, skipped ones included, for the "no code" check. */
  allCells: number[];
  after: { name: string; cell: number; path: (string | number)[] }[];
  resources: CellResources;
  image?: string;
  env: Record<string, string>;
  retries?: number;
  timeout?: string;
  /** Names declared read-only for the task (`readonly:` tags and metadata of its cells). */
  readonly: Set<string>;
  /** Where each setting came from, to report conflicts between cells of one task. */
  setAt: Map<string, { value: unknown; cell: number }>;
}

/** Why task `to` runs after task `from`: the names it reads from there, or an `after:` tag. */
export interface DagEdge {
  from: string;
  to: string;
  /** Each name `to` reads from `from`: `bound` there (assigned, imported, defined) or `changed` there in place. */
  variables: { name: string; kind: VersionKind }[];
  /** An `after:` tag asks for the edge (it may also carry variables). */
  after: boolean;
  /** Files (literal paths) `to` uses after `from` wrote them, or writes after `from` used them. */
  files?: string[];
}

/**
 * Files order tasks as variables do, where the analysis sees their paths (string literals given to
 * calls: `open("scores.csv", "w")` in one task, `pd.read_csv("scores.csv")` in a later one): the tasks
 * of a job share one working folder, so a task that uses a file depends on the last task before it
 * that wrote it, and a task that writes a file on the tasks that used it since that writer (they must
 * read the version a top-to-bottom run gives them). Returns, per task, the tasks and the paths.
 */
function fileDependencies(
  tasks: readonly TaskBuild[],
  analysis: (cell: number) => CellAnalysis,
): Map<string, Map<string, Set<string>>> {
  const writer = new Map<string, string>();
  const usedSince = new Map<string, Set<string>>();
  const deps = new Map<string, Map<string, Set<string>>>();
  for (const t of tasks) {
    const mine = new Map<string, Set<string>>();
    const on = (from: string, path: string) => {
      if (from === t.name) return;
      let paths = mine.get(from);
      if (!paths) mine.set(from, (paths = new Set()));
      paths.add(path);
    };
    const uses = new Map<string, boolean>();
    for (const cell of t.cells)
      for (const p of analysis(cell).paths) {
        const path = posixNormalize(p.path);
        uses.set(path, (uses.get(path) ?? false) || p.written);
      }
    for (const [path, written] of uses) {
      const w = writer.get(path);
      if (w !== undefined) on(w, path);
      if (written) {
        for (const user of usedSince.get(path) ?? []) on(user, path);
        writer.set(path, t.name);
        usedSince.set(path, new Set([t.name]));
      } else {
        let users = usedSince.get(path);
        if (!users) usedSince.set(path, (users = new Set()));
        users.add(t.name);
      }
    }
    deps.set(t.name, mine);
  }
  return deps;
}

/** `./data/../scores.csv` and `scores.csv` name one file of the working folder. */
function posixNormalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '.' || (part === '' && out.length)) continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..' && out[out.length - 1] !== '') out.pop();
    else out.push(part);
  }
  return out.join('/') || '.';
}

/**
 * The statements a task runs again, in notebook order: a whole statement, or for an import of
 * which the task needs only some names, one statement per needed name.
 */
function definitionsOf(flow: TaskFlow): Definition[] {
  const out: Definition[] = [];
  const needed = [...flow.definitions.values()].sort(
    (a, b) => a.cell - b.cell || a.definition.line - b.definition.line,
  );
  for (const { cell, definition: d, kind, names } of needed) {
    const base = { kind, cell, line: d.line };
    if (!d.parts || d.names.every((n) => names.has(n))) out.push({ ...base, names: d.names, source: d.source });
    else for (const p of d.parts) if (names.has(p.name)) out.push({ ...base, names: [p.name], source: p.source });
  }
  return out;
}

/** The dependencies of task `t`, ordered by upstream task, with their reasons (`inputs` sorted). */
function dagEdges(
  t: TaskBuild,
  inputs: readonly string[],
  flow: TaskFlow,
  files: ReadonlyMap<string, ReadonlySet<string>>,
  edges: DagEdge[],
): void {
  const byFrom = new Map<string, DagEdge>();
  const edge = (from: string) => {
    let e = byFrom.get(from);
    if (!e) byFrom.set(from, (e = { from, to: t.name, variables: [], after: false }));
    return e;
  };
  for (const name of inputs) {
    const i = flow.inputs.get(name)!;
    edge(i.from).variables.push({ name, kind: i.kind });
  }
  for (const a of t.after) if (a.name !== t.name) edge(a.name).after = true;
  for (const [from, paths] of files) edge(from).files = [...paths].sort();
  edges.push(...[...byFrom.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0)));
}

function basename(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** A task-name-safe pipeline name from a file name: `My Analysis (v2).ipynb` → `My-Analysis-v2`. */
export function pipelineNameFromPath(p: string): string {
  const stem = basename(p).replace(/\.[^.]*$/, '');
  let name = stem
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[^A-Za-z]+/, '')
    .replace(/-+$/, '');
  if (!name) name = 'pipeline';
  return name.slice(0, 63).replace(/-+$/, '');
}

/** Comment-only and blank cells do nothing; IPython lines do count as code. */
function hasCode(source: string): boolean {
  return source.split('\n').some((l) => {
    const t = l.trim();
    return t !== '' && !t.startsWith('#');
  });
}

function lineCol(src: string, at: number): { line: number; column: number } {
  const before = src.slice(0, at);
  return { line: before.split('\n').length, column: at - (before.lastIndexOf('\n') + 1) + 1 };
}

function sorted<T extends string>(xs: Iterable<T>): T[] {
  return [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function compileNotebook(content: unknown, opts: CompileOptions): NotebookCompileResult {
  const file = opts.path;
  const diags: Diagnostic[] = [];
  // Roles are returned even when there are errors, so the editor can still mark cells while typing.
  const roles: CellRole[] = [];
  const fail = (): NotebookCompileResult => ({ diagnostics: sortDiagnostics(diags), cells: roles });

  const json = notebookJson(content);
  if ('error' in json) {
    diags.push({ severity: 'error', message: json.error, file });
    return fail();
  }
  const nbParsed = parseNotebook(json.value);
  if (!nbParsed.success) {
    for (const issue of nbParsed.error.issues.slice(0, 20)) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const cell = path[0] === 'cells' && typeof path[1] === 'number' ? path[1] + 1 : undefined;
      // With a cell the path is not printed, so the message names the field inside the cell.
      const field = cell !== undefined ? `${path.slice(2).join('.') || 'cell'}: ` : path.length ? '' : 'document: ';
      diags.push({
        severity: 'error',
        message: `not an nbformat notebook: ${field}${issue.message}`,
        path,
        file,
        ...(cell !== undefined ? { cell } : {}),
      });
    }
    return fail();
  }
  const nb = nbParsed.data;
  const cellsJson: NotebookCell[] = nb.cells;

  const nbMeta = notebookSettings(nb.metadata);
  for (const e of nbMeta.errors) diags.push({ severity: 'error', message: e.message, path: e.path, file });
  const meta = nbMeta.settings;

  // ---- roles: setup / parameters / task / skipped ----------------------------------------------
  const setupCells: number[] = [];
  let parametersCell: number | undefined;
  const tasks: TaskBuild[] = [];
  const taskByName = new Map<string, TaskBuild>();
  let current: TaskBuild | undefined;
  const sources = new Map<number, string>();

  const cellDiag = (
    index: number,
    severity: Diagnostic['severity'],
    message: string,
    extra: Partial<Diagnostic> = {},
  ) => {
    diags.push({ severity, message, file, cell: index + 1, ...extra });
  };

  const setTaskValue = (t: TaskBuild, key: string, value: unknown, cell: number): boolean => {
    const prev = t.setAt.get(key);
    if (prev && JSON.stringify(prev.value) !== JSON.stringify(value)) {
      cellDiag(
        cell,
        'error',
        `task '${t.name}' sets ${key} twice: ${JSON.stringify(prev.value)} (cell ${prev.cell + 1}) and ${JSON.stringify(value)}`,
        {
          task: t.name,
        },
      );
      return false;
    }
    t.setAt.set(key, { value, cell });
    return true;
  };

  const applySettings = (t: TaskBuild, s: CellSettings, cell: number) => {
    for (const [k, v] of Object.entries(s.resources)) {
      if (v !== undefined && setTaskValue(t, k, v, cell)) (t.resources as Record<string, unknown>)[k] = v;
    }
    if (s.image !== undefined && setTaskValue(t, 'image', s.image, cell)) t.image = s.image;
    if (s.retries !== undefined && setTaskValue(t, 'retries', s.retries, cell)) t.retries = s.retries;
    if (s.timeout !== undefined && setTaskValue(t, 'timeout', s.timeout, cell)) t.timeout = s.timeout;
    for (const [k, v] of Object.entries(s.env)) if (setTaskValue(t, `env ${k}`, v, cell)) setOwn(t.env, k, v);
    for (const n of s.readonly) t.readonly.add(n);
    s.after.forEach((a) => {
      if (!t.after.some((x) => x.name === a)) t.after.push({ name: a, cell, path: ['cells', cell, 'metadata'] });
    });
  };

  cellsJson.forEach((cell, index) => {
    if (cell.cell_type !== 'code') return;
    const { settings: s, errors } = cellSettings(cell.metadata);
    for (const e of errors) {
      // Cell diagnostics print no field path of their own, so metadata messages carry it.
      const message = e.path[1] === 'cellpipe' ? `${e.path.join('.')}: ${e.message}` : e.message;
      const owner = s.setup || s.parameters ? undefined : (s.task ?? current?.name);
      cellDiag(index, 'error', message, { path: ['cells', index, ...e.path], ...(owner ? { task: owner } : {}) });
    }
    const source = cellSource(cell);
    sources.set(index, source);

    if (s.parameters) {
      if (s.task) cellDiag(index, 'error', `the parameters cell cannot also start task '${s.task}'`, { task: s.task });
      if (parametersCell !== undefined && !s.skip) {
        cellDiag(index, 'error', `only one cell may be tagged parameters (cell ${parametersCell + 1} already is)`);
      } else if (!s.skip) {
        parametersCell = index;
        setupCells.push(index);
        roles.push({ index, role: 'parameters' });
        return;
      }
    }
    if (s.setup && s.task) {
      cellDiag(index, 'error', `a cell cannot be both setup and the start of task '${s.task}'`, { task: s.task });
    }
    if (s.task && !s.setup) {
      const existing = taskByName.get(s.task);
      if (existing && existing !== current) {
        cellDiag(
          index,
          'error',
          `duplicate task name '${s.task}': task '${s.task}' already starts at cell ${existing.first + 1}`,
          {
            task: s.task,
          },
        );
        // Keep reading the cells as that task's, so this one error does not cause others.
        current = existing;
      } else if (!existing) {
        current = {
          name: s.task,
          first: index,
          cells: [],
          allCells: [],
          after: [],
          resources: {},
          env: {},
          readonly: new Set(),
          setAt: new Map(),
        };
        tasks.push(current);
        taskByName.set(s.task, current);
      }
    }
    const inSetup = s.setup || !current || (s.task !== undefined && taskByName.get(s.task) !== current);
    if (inSetup) {
      if (s.skip) {
        roles.push({ index, role: 'skipped' });
        return;
      }
      if (hasTaskSettings(s) || s.after.length || s.readonly.length) {
        cellDiag(index, 'warning', 'task settings on a setup cell have no effect (setup cells run inside every task)');
      }
      setupCells.push(index);
      roles.push({ index, role: 'setup' });
      return;
    }
    const t = current!;
    applySettings(t, s, index);
    t.allCells.push(index);
    if (s.skip) {
      roles.push({ index, role: 'skipped', task: t.name });
      return;
    }
    t.cells.push(index);
    roles.push({ index, role: 'task', task: t.name });
  });

  // Without tasks but with other errors, fixing those (a mistyped task tag) is the first step.
  if (tasks.length === 0 && !hasErrors(diags)) {
    diags.push({
      severity: 'error',
      // Split at its headings, a notebook without code still has no tasks: say why.
      message: [...sources.values()].some(hasCode)
        ? 'the notebook has no tasks: tag the first cell of each task with task:NAME (or set metadata.cellpipe.task)'
        : 'the notebook has no code: there is nothing to run',
      file,
    });
  }
  for (const t of tasks) {
    if (!t.cells.some((i) => hasCode(sources.get(i) ?? ''))) {
      cellDiag(t.first, 'error', `task '${t.name}' has no code`, { task: t.name });
    }
  }

  // ---- parameters --------------------------------------------------------------------------------
  let parameters: Record<string, { default: unknown; type: string; description?: string }> = {};
  if (parametersCell !== undefined) {
    const r = parseParameters(sources.get(parametersCell) ?? '');
    parameters = r.parameters;
    for (const w of r.warnings) cellDiag(parametersCell, 'warning', w.message, { line: w.line, column: w.column });
  }

  // ---- variable flow -----------------------------------------------------------------------------
  const analyses = new Map<number, CellAnalysis>();
  const analysis = (index: number): CellAnalysis => {
    let a = analyses.get(index);
    if (!a) {
      a = analyzePythonCached(sources.get(index) ?? '');
      analyses.set(index, a);
    }
    return a;
  };
  const taskOfCell = new Map<number, string>();
  for (const t of tasks) for (const c of t.cells) taskOfCell.set(c, t.name);
  for (const index of [...setupCells, ...tasks.flatMap((t) => t.cells)].sort((a, b) => a - b)) {
    for (const w of analysis(index).warnings) {
      const task = taskOfCell.get(index);
      cellDiag(index, 'warning', w.message, { line: w.line, column: w.column, ...(task ? { task } : {}) });
    }
  }

  const readonlyEverywhere = meta.readonly ?? [];
  const flowTasks = tasks.map((t) => ({ ...t, readonly: new Set([...readonlyEverywhere, ...t.readonly]) }));
  const report: FlowReport = (cell, severity, message, task, at, unpassable) =>
    cellDiag(cell, severity, message, {
      task,
      ...lineCol(sources.get(cell) ?? '', at),
      ...(unpassable ? { unpassable } : {}),
    });
  const flows = inferFlow(flowTasks, setupCells, analysis, report);
  processWarnings(flowTasks, analysis, report);

  // ---- after: edges and cycles -------------------------------------------------------------------
  const fileDeps = fileDependencies(tasks, analysis);
  const dependsOn = new Map<string, Set<string>>();
  for (const t of tasks) {
    const deps = new Set([...flows.get(t.name)!.inputs.values()].map((i) => i.from));
    for (const from of fileDeps.get(t.name)!.keys()) deps.add(from);
    for (const a of t.after) {
      if (a.name === t.name) cellDiag(a.cell, 'error', `task '${t.name}' cannot run after itself`, { task: t.name });
      else if (!taskByName.has(a.name)) {
        const known = tasks.map((x) => x.name).join(', ');
        cellDiag(a.cell, 'error', `unknown after: target '${a.name}' (tasks: ${known})`, { task: t.name });
      } else deps.add(a.name);
    }
    dependsOn.set(t.name, deps);
  }
  // Variable flow only points from earlier tasks to later ones: only `after:` edges can close a cycle.
  const cycles = tasks.some((t) => t.after.length)
    ? findCycles(tasks.map((t) => ({ name: t.name, dependsOn: [...(dependsOn.get(t.name) ?? [])] })))
    : [];
  for (const cycle of cycles) {
    const t = taskByName.get(cycle[0]!)!;
    const afterCell = t.after.find((a) => a.name === cycle[1])?.cell;
    cellDiag(afterCell ?? t.first, 'error', formatCycle(cycle), { task: t.name });
  }

  if (hasErrors(diags)) return fail();

  // ---- assemble ----------------------------------------------------------------------------------
  const defaults = meta.defaults ?? {};
  const edges: DagEdge[] = [];
  const taskObjects = tasks.map((t) => {
    const { resources, env, image, retries, timeout } = mergeDefaults(defaults, t);
    const flow = flows.get(t.name)!;
    const inputs = sorted(flow.inputs.keys());
    dagEdges(t, inputs, flow, fileDeps.get(t.name)!, edges);
    return {
      name: t.name,
      source: { kind: 'cells' as const },
      cells: t.cells,
      dependsOn: sorted(dependsOn.get(t.name) ?? []),
      inputs,
      // Two upstream tasks may both output a name (an earlier binder still feeds some other task):
      // the consumer needs the most recent one, so say which.
      inputsFrom: Object.fromEntries(inputs.map((n) => [n, flow.inputs.get(n)!.from])),
      readOnlyInputs: sorted(flow.readOnly),
      outputs: sorted(flow.outputs),
      definitions: definitionsOf(flow),
      outputOrigins: Object.fromEntries(sorted(flow.outputs).map((n) => [n, flow.lastCell.get(n) ?? t.first])),
      resources,
      ...(image !== undefined ? { image } : {}),
      env,
      ...(retries !== undefined ? { retries } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
    };
  });

  const name = meta.name ?? pipelineNameFromPath(file);
  const candidate = {
    apiVersion: API_VERSION,
    kind: 'Pipeline',
    metadata: {
      name,
      ...(meta.description !== undefined ? { description: meta.description } : {}),
      ...(meta.labels !== undefined ? { labels: meta.labels } : {}),
    },
    spec: {
      source: { notebook: basename(file) },
      setupCells,
      parameters,
      ...(parametersCell !== undefined ? { parametersCell } : {}),
      defaults,
      ...(meta.failurePolicy !== undefined ? { failurePolicy: meta.failurePolicy } : {}),
      ...(meta.maxParallel !== undefined ? { maxParallel: meta.maxParallel } : {}),
      ...(meta.timeout !== undefined ? { timeout: meta.timeout } : {}),
      ...(meta.schedule !== undefined ? { schedule: meta.schedule } : {}),
      ...(meta.notify !== undefined ? { notify: meta.notify } : {}),
      tasks: taskObjects,
    },
  };
  const parsed = PipelineSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      const ti = path[0] === 'spec' && path[1] === 'tasks' && typeof path[2] === 'number' ? path[2] : undefined;
      const t = ti !== undefined ? tasks[ti] : undefined;
      diags.push({
        severity: 'error',
        message: `${path.join('.')}: ${issue.message}`,
        path,
        file,
        ...(t ? { cell: t.first + 1, task: t.name } : {}),
      });
    }
    return fail();
  }
  return { pipeline: parsed.data, diagnostics: sortDiagnostics(diags), cells: roles, edges };
}

/** Re-exported for callers that want to check a name before tagging a cell with it. */
export function isValidTaskName(name: string): boolean {
  return TaskNameSchema.safeParse(name).success;
}
