/**
 * Turns a submit request into a frozen job: the compiled pipeline, the effective parameters and,
 * per task, the exact code and wiring it will run (task.base.json). Nothing a job runs is read from
 * the user's files after submit.
 */
import {
  compileNotebook,
  formatDiagnostic,
  taskCode,
  type Diagnostic,
  type Parameter,
  type Pipeline,
  type SubmitJobRequest,
  type Task,
} from '@cellpipe/schema';
import { ValidationError, type ValidationIssue } from './errors.js';

export interface TaskBase {
  kind: 'cells' | 'notebook' | 'script';
  setup: { index: number; source: string }[];
  cells: { index: number; source: string }[];
  cellOffset: number;
  inputs: { name: string; from: string }[];
  outputs: string[];
  parameters: Record<string, unknown>;
  parametersCell: number | null;
}

export interface FrozenJob {
  pipeline: Pipeline;
  parameters: Record<string, unknown>;
  bases: Map<string, TaskBase>;
}

/** Injectable for tests that exercise the engine without the compiler. */
export interface Compiler {
  compileNotebook: typeof compileNotebook;
  taskCode: typeof taskCode;
}

const defaultCompiler: Compiler = { compileNotebook, taskCode };

function diagnosticIssue(d: Diagnostic, prefix: (string | number)[]): ValidationIssue {
  const issue: ValidationIssue = { message: formatDiagnostic(d), path: [...prefix, ...(d.path ?? [])] };
  if (d.file !== undefined) issue.file = d.file;
  if (d.line !== undefined) issue.line = d.line;
  if (d.column !== undefined) issue.column = d.column;
  if (d.cell !== undefined) issue.cell = d.cell;
  if (d.task !== undefined) issue.task = d.task;
  return issue;
}

function fail(message: string, path: (string | number)[]): never {
  throw new ValidationError(message, path);
}

const JSON_TYPES: Record<NonNullable<Parameter['type']>, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  list: (v) => Array.isArray(v),
  dict: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  null: (v) => v === null,
};

export function resolveParameters(
  pipeline: Pipeline,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const declared = pipeline.spec.parameters;
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(declared)) out[name] = p.default;
  for (const [name, value] of Object.entries(overrides)) {
    const p = declared[name];
    if (!p) {
      const known = Object.keys(declared);
      fail(
        `unknown parameter '${name}' (${known.length ? `the pipeline declares ${known.join(', ')}` : 'the pipeline declares no parameters'})`,
        ['parameters', name],
      );
    }
    if (value === undefined) continue;
    const type = p.type;
    if (type && !JSON_TYPES[type](value)) fail(`parameter '${name}' must be of type ${type}`, ['parameters', name]);
    out[name] = value;
  }
  return out;
}

/** Unknown dependencies, duplicate names and cycles: a pipeline sent pre-compiled has only passed zod. */
export function checkGraph(pipeline: Pipeline): void {
  const tasks = pipeline.spec.tasks;
  const index = new Map<string, number>();
  tasks.forEach((t, i) => {
    if (index.has(t.name)) fail(`duplicate task name '${t.name}'`, ['pipeline', 'spec', 'tasks', i, 'name']);
    index.set(t.name, i);
  });
  tasks.forEach((t, i) =>
    t.dependsOn.forEach((d, j) => {
      if (!index.has(d))
        fail(`task '${t.name}' depends on unknown task '${d}'`, ['pipeline', 'spec', 'tasks', i, 'dependsOn', j]);
      if (d === t.name) fail(`task '${t.name}' depends on itself`, ['pipeline', 'spec', 'tasks', i, 'dependsOn', j]);
    }),
  );
  const state = new Map<string, 1 | 2>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 2) return;
    if (state.get(name) === 1) {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      fail(`dependency cycle: ${cycle.join(' → ')}`, ['pipeline', 'spec', 'tasks', index.get(name)!, 'dependsOn']);
    }
    state.set(name, 1);
    for (const d of tasks[index.get(name)!]!.dependsOn) visit(d, [...trail, name]);
    state.set(name, 2);
  };
  for (const t of tasks) visit(t.name, []);
}

function ancestors(pipeline: Pipeline, task: Task): Set<string> {
  const byName = new Map(pipeline.spec.tasks.map((t) => [t.name, t]));
  const out = new Set<string>();
  const stack = [...task.dependsOn];
  while (stack.length) {
    const name = stack.pop()!;
    if (out.has(name)) continue;
    out.add(name);
    stack.push(...(byName.get(name)?.dependsOn ?? []));
  }
  return out;
}

/** Which upstream task provides each input: the nearest ancestor (breadth-first) that outputs it. */
function resolveInputs(pipeline: Pipeline, task: Task, taskIndex: number): { name: string; from: string }[] {
  const byName = new Map(pipeline.spec.tasks.map((t) => [t.name, t]));
  const named: Record<string, string> = task.inputsFrom ?? {};
  return task.inputs.map((input, j) => {
    // The compiler names the most recent binder; otherwise the nearest upstream task that outputs it.
    const from = named[input];
    if (from !== undefined) {
      if (!ancestors(pipeline, task).has(from) || !byName.get(from)?.outputs.includes(input)) {
        fail(`task '${task.name}' reads '${input}' from '${from}', which is not an upstream task that outputs it`, [
          'pipeline',
          'spec',
          'tasks',
          taskIndex,
          'inputsFrom',
          input,
        ]);
      }
      return { name: input, from };
    }
    const seen = new Set<string>();
    let frontier = [...task.dependsOn];
    while (frontier.length) {
      const next: string[] = [];
      for (const name of frontier) {
        if (seen.has(name)) continue;
        seen.add(name);
        const up = byName.get(name);
        if (up?.outputs.includes(input)) return { name: input, from: name };
        next.push(...(up?.dependsOn ?? []));
      }
      frontier = next;
    }
    return fail(`task '${task.name}' reads '${input}' but no upstream task outputs it`, [
      'pipeline',
      'spec',
      'tasks',
      taskIndex,
      'inputs',
      j,
    ]);
  });
}

export function freezeJob(request: SubmitJobRequest, compiler: Compiler = defaultCompiler): FrozenJob {
  const files = request.files ?? {};
  let pipeline: Pipeline;
  let notebookContent: unknown;
  if (request.notebook) {
    const result = compiler.compileNotebook(request.notebook.content, { path: request.notebook.path });
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length || !result.pipeline) {
      const issues = errors.map((d) => diagnosticIssue(d, ['notebook', 'content']));
      const first = issues[0] ?? { message: 'the notebook did not compile', path: ['notebook'] };
      throw new ValidationError(first.message, first.path, issues);
    }
    pipeline = result.pipeline;
    notebookContent = request.notebook.content;
  } else if (request.pipeline) {
    pipeline = request.pipeline;
    const nbPath = pipeline.spec.source?.notebook;
    if (nbPath !== undefined) {
      const text = files[nbPath];
      if (text === undefined) fail(`files has no '${nbPath}' (the pipeline's source notebook)`, ['files', nbPath]);
      notebookContent = text;
    }
  } else {
    return fail('send either a notebook to compile or a compiled pipeline', ['pipeline']);
  }
  checkGraph(pipeline);
  const parameters = resolveParameters(pipeline, request.parameters);
  const bases = new Map<string, TaskBase>();
  pipeline.spec.tasks.forEach((task, i) => {
    const at = ['pipeline', 'spec', 'tasks', i];
    let content: unknown;
    if (task.source.kind === 'cells') {
      if (notebookContent === undefined) {
        fail(`task '${task.name}' runs notebook cells but the pipeline names no source notebook`, [
          'pipeline',
          'spec',
          'source',
          'notebook',
        ]);
      }
      content = notebookContent;
    } else {
      const text = files[task.source.path];
      if (text === undefined)
        fail(`files has no '${task.source.path}' (task '${task.name}')`, ['files', task.source.path]);
      content = text;
    }
    let code;
    try {
      code = compiler.taskCode(content, pipeline, task.name);
    } catch (err) {
      fail(`task '${task.name}': ${err instanceof Error ? err.message : String(err)}`, [...at, 'source']);
    }
    bases.set(task.name, {
      kind: task.source.kind,
      setup: code.setup,
      cells: code.cells,
      cellOffset: 1,
      inputs: resolveInputs(pipeline, task, i),
      outputs: task.outputs,
      parameters,
      // Overrides go right after the parameters cell: the pipeline notebook's for cell tasks, the task
      // notebook's own for whole-notebook tasks (scripts have none and get them up front).
      parametersCell:
        task.source.kind === 'cells' ? (pipeline.spec.parametersCell ?? null) : (code.parametersCell ?? null),
    });
  });
  return { pipeline, parameters, bases };
}
