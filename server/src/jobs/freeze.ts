/**
 * Turns a submit request into a frozen job: the compiled pipeline, the effective parameters and,
 * per task, the exact code and wiring it will run (its base, stored with the job). Nothing a job runs is read from
 * the user's files after submit.
 */
import {
  checkPipeline,
  ownValue,
  setOwn,
  compileNotebook,
  inputSources,
  formatDiagnostic,
  TaskCodeReader,
  type CellCode,
  type Definition,
  type Diagnostic,
  type Parameter,
  type Pipeline,
  type SubmitJobRequest,
} from '@cellpipe/schema';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { ValidationError, type ValidationIssue } from './errors.js';
import { checkBytes, checkJsonDepth, checkNotebook, checkPipelineSize } from './submit-limits.js';

type Path = (string | number)[];

export interface TaskBase {
  kind: 'cells' | 'notebook' | 'script';
  /** `tags`: the cell tags the runner honours (raises-exception), when a cell has them. */
  setup: CellCode[];
  cells: CellCode[];
  cellOffset: number;
  /** readOnly: the task's analysis found it does not change the input in place (the runner checks). */
  inputs: { name: string; from: string; readOnly?: true }[];
  outputs: string[];
  parameters: Record<string, unknown>;
  parametersCell: number | null;
  /** Imports, functions and classes of other tasks that the task runs again (the runner's contract). */
  definitions?: Definition[];
  /** The cell where the task last binds each output, for messages about an output that cannot be saved. */
  outputOrigins?: Record<string, number>;
  /** The folder the job's tasks work in (SubmitJobRequest `workDir`), where the executor honours it. */
  workDir?: string;
}

export interface FrozenJob {
  pipeline: Pipeline;
  parameters: Record<string, unknown>;
  bases: Map<string, TaskBase>;
}

/** Injectable for tests that exercise the engine without the compiler. */
export interface Compiler {
  compileNotebook: typeof compileNotebook;
  /** Reads the code of each task of one pipeline (TaskCodeReader.code). */
  taskCodeReader: (pipeline: Pipeline) => Pick<TaskCodeReader, 'code'>;
}

const defaultCompiler: Compiler = { compileNotebook, taskCodeReader: (p) => new TaskCodeReader(p) };

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
  for (const [name, p] of Object.entries(declared)) setOwn(out, name, p.default);
  for (const [name, value] of Object.entries(overrides)) {
    // `toString` or `constructor` are parameters only when the pipeline declares them.
    const p = ownValue(declared, name);
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
    setOwn(out, name, value);
  }
  return out;
}

/**
 * The spec's graph check (unknown dependencies, duplicate names, cycles, inputs with no upstream
 * source): a pipeline sent pre-compiled has only passed zod.
 */
export function checkGraph(pipeline: Pipeline): void {
  const issues: ValidationIssue[] = checkPipeline(pipeline).map((i) => {
    const issue: ValidationIssue = { message: i.message, path: ['pipeline', ...i.path] };
    if (i.task !== undefined) issue.task = i.task;
    return issue;
  });
  const first = issues[0];
  if (first) throw new ValidationError(first.message, first.path, issues);
}

/**
 * The files of a submission as the tasks read them, each checked against the limits and parsed once:
 * notebooks as parsed JSON (text that is not JSON is handed on as is, for the compiler to report),
 * scripts as text.
 */
class SubmittedFiles {
  private readonly parsed = new Map<string, unknown>();
  constructor(
    private readonly files: Record<string, string>,
    private readonly limits: Limits,
  ) {}

  content(path: string, kind: 'notebook' | 'script', missing: () => never): unknown {
    if (this.parsed.has(path)) return this.parsed.get(path);
    if (!Object.hasOwn(this.files, path)) missing();
    const text = this.files[path]!;
    checkBytes(text, this.limits.notebookBytes, `file '${path}'`, 'notebookBytes', ['files', path]);
    let content: unknown = text;
    if (kind === 'notebook') {
      try {
        content = JSON.parse(text) as unknown;
      } catch {
        // Reported with the task that reads it.
      }
      checkJsonDepth(content, this.limits.jsonDepth, ['files', path]);
      checkNotebook(content, this.limits, ['files', path]);
    }
    this.parsed.set(path, content);
    return content;
  }
}

function checkParameterDepth(pipeline: Pipeline, at: Path, overrides: Record<string, unknown>, limits: Limits): void {
  for (const [name, p] of Object.entries(pipeline.spec.parameters)) {
    checkJsonDepth(p.default, limits.jsonDepth, [...at, 'spec', 'parameters', name, 'default']);
  }
  for (const [name, value] of Object.entries(overrides)) checkJsonDepth(value, limits.jsonDepth, ['parameters', name]);
}

export interface FreezeOptions {
  limits?: Limits;
  compiler?: Compiler;
}

export function freezeJob(request: SubmitJobRequest, options: FreezeOptions = {}): FrozenJob {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const compiler = options.compiler ?? defaultCompiler;
  const files = new SubmittedFiles(request.files ?? {}, limits);
  let pipeline: Pipeline;
  let notebookContent: unknown;
  if (request.notebook) {
    const content = request.notebook.content;
    checkJsonDepth(content, limits.jsonDepth, ['notebook', 'content']);
    checkBytes(JSON.stringify(content), limits.notebookBytes, 'the notebook', 'notebookBytes', ['notebook', 'content']);
    checkNotebook(content, limits, ['notebook', 'content']);
    const result = compiler.compileNotebook(content, { path: request.notebook.path });
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length || !result.pipeline) {
      const issues = errors.map((d) => diagnosticIssue(d, ['notebook', 'content']));
      const first = issues[0] ?? { message: 'the notebook did not compile', path: ['notebook'] };
      throw new ValidationError(first.message, first.path, issues);
    }
    pipeline = result.pipeline;
    checkPipelineSize(pipeline, limits, ['notebook']);
    checkParameterDepth(pipeline, ['notebook'], request.parameters ?? {}, limits);
    notebookContent = content;
  } else if (request.pipeline) {
    pipeline = request.pipeline;
    checkPipelineSize(pipeline, limits, ['pipeline']);
    checkParameterDepth(pipeline, ['pipeline'], request.parameters ?? {}, limits);
    const nbPath = pipeline.spec.source?.notebook;
    if (nbPath !== undefined) {
      notebookContent = files.content(nbPath, 'notebook', () =>
        fail(`files has no '${nbPath}' (the pipeline's source notebook)`, ['files', nbPath]),
      );
    }
  } else {
    return fail('send either a notebook to compile or a compiled pipeline', ['pipeline']);
  }
  checkGraph(pipeline);
  const parameters = resolveParameters(pipeline, request.parameters);
  const sources = inputSources(pipeline.spec.tasks);
  const reader = compiler.taskCodeReader(pipeline);
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
      const path = task.source.path;
      content = files.content(path, task.source.kind, () =>
        fail(`files has no '${path}' (task '${task.name}')`, ['files', path]),
      );
    }
    let code;
    try {
      code = reader.code(content, task.name);
    } catch (err) {
      fail(`task '${task.name}': ${err instanceof Error ? err.message : String(err)}`, [...at, 'source']);
    }
    bases.set(task.name, {
      kind: task.source.kind,
      setup: code.setup,
      cells: code.cells,
      cellOffset: 1,
      inputs: (sources.get(task.name) ?? []).map((input) =>
        task.readOnlyInputs.includes(input.name) ? { ...input, readOnly: true as const } : input,
      ),
      outputs: task.outputs,
      ...(task.definitions.length ? { definitions: task.definitions } : {}),
      ...(Object.keys(task.outputOrigins).length ? { outputOrigins: task.outputOrigins } : {}),
      parameters,
      // Overrides go right after the parameters cell: the pipeline notebook's for cell tasks, the task
      // notebook's own for whole-notebook tasks (scripts have none and get them up front).
      parametersCell:
        task.source.kind === 'cells' ? (pipeline.spec.parametersCell ?? null) : (code.parametersCell ?? null),
    });
  });
  return { pipeline, parameters, bases };
}
