import { compileNotebook, formatDiagnostic, type NotebookCompileResult, type Pipeline } from '../src/index.js';

/** Builds small nbformat 4.5 notebooks for tests. */
export interface CellSpec {
  source: string;
  tags?: string[];
  cellpipe?: Record<string, unknown>;
  type?: 'code' | 'markdown' | 'raw';
}

export type CellArg = string | [string[], string] | CellSpec;

function toSpec(c: CellArg): CellSpec {
  if (typeof c === 'string') return { source: c };
  if (Array.isArray(c)) return { tags: c[0], source: c[1] };
  return c;
}

export function notebook(cells: CellArg[], metadata: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata,
    cells: cells.map(toSpec).map((c, i) => {
      const meta: Record<string, unknown> = {};
      if (c.tags) meta['tags'] = c.tags;
      if (c.cellpipe) meta['cellpipe'] = c.cellpipe;
      const type = c.type ?? 'code';
      const lines = c.source.split('\n');
      const source = lines.map((l, j) => (j < lines.length - 1 ? l + '\n' : l));
      return type === 'code'
        ? { cell_type: type, id: `c${i}`, metadata: meta, source, outputs: [], execution_count: null }
        : { cell_type: type, id: `c${i}`, metadata: meta, source };
    }),
  };
}

export type Flow = Record<string, { dependsOn: string[]; inputs: string[]; outputs: string[] }>;

/**
 * Compiles task sources into tasks t0, t1, ... (`setup` sources come first, untagged; a source may
 * be a CellArg with its own tags, the task tag is added). Errors throw.
 */
export function flow(
  sources: CellArg[],
  setup: CellArg[] = [],
  metadata: Record<string, unknown> = {},
): { flow: Flow; warnings: string[]; pipeline: Pipeline; result: NotebookCompileResult } {
  const cells = sources.map((c, i): CellSpec => {
    const spec = toSpec(c);
    return { ...spec, tags: [`task:t${i}`, ...(spec.tags ?? [])] };
  });
  const nb = notebook([...setup, ...cells], metadata);
  const r = compileNotebook(nb, { path: 'flow.ipynb' });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.pipeline) throw new Error(errors.map(formatDiagnostic).join('\n'));
  const out: Flow = {};
  for (const t of r.pipeline.spec.tasks) out[t.name] = { dependsOn: t.dependsOn, inputs: t.inputs, outputs: t.outputs };
  return {
    flow: out,
    warnings: r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic),
    pipeline: r.pipeline,
    result: r,
  };
}
