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
