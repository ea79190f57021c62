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
