/**
 * The parts of nbformat 4 the compiler reads, validated at the boundary. Unknown fields are kept
 * out of the way (passthrough) because notebooks carry plenty of metadata other tools own.
 */
import { z } from 'zod';

export const NotebookSourceSchema = z.union([z.string(), z.array(z.string())]);

export const NotebookCellSchema = z
  .object({
    cell_type: z.string(),
    source: NotebookSourceSchema,
    metadata: z.record(z.string(), z.unknown()).default({}),
    id: z.string().optional(),
  })
  .loose();

export const NotebookSchema = z
  .object({
    cells: z.array(NotebookCellSchema),
    metadata: z.record(z.string(), z.unknown()).default({}),
    nbformat: z.number().int().optional(),
    nbformat_minor: z.number().int().optional(),
  })
  .loose();

export type NotebookCell = z.infer<typeof NotebookCellSchema>;
export type Notebook = z.infer<typeof NotebookSchema>;

/** A plain JSON object (what JSON.parse makes); anything more exotic is left to zod to judge. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.getPrototypeOf(v) === Object.prototype;
}

const optionalInt = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isSafeInteger(v));

function isWellFormedCell(cell: unknown): boolean {
  if (!isPlainObject(cell)) return false;
  const { cell_type, source, metadata, id } = cell;
  if (typeof cell_type !== 'string') return false;
  if (typeof source !== 'string' && !(Array.isArray(source) && source.every((l) => typeof l === 'string')))
    return false;
  return (metadata === undefined || isPlainObject(metadata)) && (id === undefined || typeof id === 'string');
}

/**
 * NotebookSchema.safeParse with a fast path. Zod builds and compiles its validators on first use,
 * which costs more than the whole check of a large notebook; the compiler runs in the editor on
 * every change, so a well-formed notebook (nearly always) is checked here by hand, with rules at
 * least as strict as the schema's. Anything that fails goes through zod, so error messages and
 * their field paths are zod's.
 */
export function parseNotebook(value: unknown): ReturnType<typeof NotebookSchema.safeParse> {
  if (
    isPlainObject(value) &&
    Array.isArray(value['cells']) &&
    (value['metadata'] === undefined || isPlainObject(value['metadata'])) &&
    optionalInt(value['nbformat']) &&
    optionalInt(value['nbformat_minor']) &&
    value['cells'].every(isWellFormedCell)
  ) {
    // What the schema would output: the same fields, `metadata` defaulted to {} (loose objects keep the rest).
    const cells = (value['cells'] as Record<string, unknown>[]).map(
      (c) => ({ ...c, metadata: c['metadata'] ?? {} }) as NotebookCell,
    );
    const data = { ...value, cells, metadata: value['metadata'] ?? {} } as Notebook;
    return { success: true, data };
  }
  return NotebookSchema.safeParse(value);
}

export function cellSource(cell: { source: string | string[] }): string {
  return typeof cell.source === 'string' ? cell.source : cell.source.join('');
}

/**
 * A string is parsed as JSON; anything else is taken as already parsed nbformat JSON. nbformat 3
 * notebooks are converted to nbformat 4 (as nbformat's own `v4.upgrade` does: worksheets
 * flattened, `input` → `source`, heading cells → markdown); versions that cannot be read say so.
 */
export function notebookJson(content: unknown): { value: unknown } | { error: string } {
  let value = content;
  if (typeof content === 'string') {
    try {
      value = JSON.parse(content) as unknown;
    } catch (e) {
      return { error: `notebook is not valid JSON: ${(e as Error).message}` };
    }
  }
  if (!isPlainObject(value)) return { value };
  const version = value['nbformat'];
  if (version === 3 || (version === undefined && Array.isArray(value['worksheets']) && !('cells' in value)))
    return upgradeV3(value);
  if (typeof version === 'number' && version !== 4) {
    return {
      error: `nbformat ${version} notebooks cannot be read (nbformat 4 is read, nbformat 3 is converted): open and save it in Jupyter to convert it`,
    };
  }
  return { value };
}

const V3CellSchema = z
  .object({
    cell_type: z.string(),
    input: NotebookSourceSchema.optional(),
    source: NotebookSourceSchema.optional(),
    language: z.string().optional(),
    level: z.number().int().optional(),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .loose();

const V3NotebookSchema = z
  .object({
    worksheets: z.array(z.object({ cells: z.array(V3CellSchema) }).loose()),
    metadata: z.record(z.string(), z.unknown()).default({}),
  })
  .loose();

function upgradeV3(value: Record<string, unknown>): { value: unknown } | { error: string } {
  const parsed = V3NotebookSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol').join('.');
    return { error: `not a readable nbformat 3 notebook: ${path ? `${path}: ` : ''}${issue.message}` };
  }
  const cells: Record<string, unknown>[] = [];
  for (const ws of parsed.data.worksheets) {
    for (const cell of ws.cells) {
      const { input, language, level, ...rest } = cell;
      if (cell.cell_type === 'code') {
        // nbformat 3 named each code cell's language; nbformat 4 has one kernel for the notebook.
        if (language !== undefined && language !== 'python') {
          return {
            error: `nbformat 3 notebook: cell ${cells.length + 1} is a '${language}' code cell, and the converted notebook would run it as Python`,
          };
        }
        cells.push({ ...rest, source: input ?? '' });
      } else if (cell.cell_type === 'heading') {
        const text = typeof cell.source === 'string' ? cell.source : (cell.source ?? []).join('');
        cells.push({
          ...rest,
          cell_type: 'markdown',
          source: `${'#'.repeat(level ?? 1)} ${text.split(/\r?\n/).join(' ')}`,
        });
      } else if (cell.cell_type === 'html') {
        cells.push({ ...rest, cell_type: 'markdown' });
      } else cells.push(rest);
    }
  }
  const { worksheets: _worksheets, ...nb } = parsed.data;
  const { name: _name, signature: _signature, ...metadata } = nb.metadata;
  return {
    value: { ...nb, metadata: { ...metadata, orig_nbformat: 3 }, nbformat: 4, nbformat_minor: 5, cells },
  };
}

/** Cell-level tags; anything that is not a list of strings is reported by the compiler. */
export function cellTags(cell: NotebookCell): unknown {
  return cell.metadata['tags'];
}
