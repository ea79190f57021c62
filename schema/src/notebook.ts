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

/** A string is parsed as JSON; anything else is taken as already parsed nbformat JSON. */
export function notebookJson(content: unknown): { value: unknown } | { error: string } {
  if (typeof content !== 'string') return { value: content };
  try {
    return { value: JSON.parse(content) as unknown };
  } catch (e) {
    return { error: `notebook is not valid JSON: ${(e as Error).message}` };
  }
}

/** Cell-level tags; anything that is not a list of strings is reported by the compiler. */
export function cellTags(cell: NotebookCell): unknown {
  return cell.metadata['tags'];
}
