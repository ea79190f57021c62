/**
 * The configured limits on what one submission may cost, checked before the expensive work (compiling,
 * resolving, storing) so an oversized request is refused whole with the field and the limit named.
 */
import type { Pipeline } from '@cellpipe/schema';
import { formatBytes, type Limits } from '../limits.js';
import { TooLargeError, ValidationError } from './errors.js';

type Path = (string | number)[];

/**
 * Throws a ValidationError naming the first place a JSON value nests deeper than `maxDepth` (a scalar
 * is depth 0, `[1]` depth 1). Iterative: the check itself cannot overflow the stack.
 */
export function checkJsonDepth(value: unknown, maxDepth: number, path: Path): void {
  // Each entry links to its parent, so a path is only built for the one value that is too deep.
  interface Entry {
    v: unknown;
    depth: number;
    key?: string | number;
    parent?: Entry;
  }
  const stack: Entry[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const e = stack.pop()!;
    if (typeof e.v !== 'object' || e.v === null) continue;
    if (e.depth >= maxDepth) {
      const at: Path = [];
      for (let x: Entry | undefined = e; x?.key !== undefined; x = x.parent) at.unshift(x.key);
      const full = [...path, ...at];
      // The field is the start of the path; the rest is the nesting itself.
      const shown = full.length > 8 ? [...full.slice(0, 8), '…'] : full;
      throw new ValidationError(
        `${shown.join('.') || 'the request'}: JSON nested more than ${maxDepth} levels deep (the limit is limits.jsonDepth)`,
        shown,
      );
    }
    if (Array.isArray(e.v)) e.v.forEach((v, key) => stack.push({ v, depth: e.depth + 1, key, parent: e }));
    else
      for (const key of Object.keys(e.v))
        stack.push({ v: (e.v as Record<string, unknown>)[key], depth: e.depth + 1, key, parent: e });
  }
}

function tooLarge(what: string, size: string, limit: string, setting: string, path: Path): never {
  throw new TooLargeError(`${what} is ${size}, over the limit of ${limit} (limits.${setting})`, path);
}

export function checkBytes(text: string, limit: number, what: string, setting: keyof Limits, path: Path): void {
  // Cheap first: a string of n UTF-16 units is at least n and at most 3n bytes.
  if (text.length <= limit / 3) return;
  const size = Buffer.byteLength(text);
  if (size > limit) tooLarge(what, formatBytes(size), formatBytes(limit), setting, path);
}

/** Cells and cell sizes of parsed notebook JSON (anything malformed is left to the compiler to report). */
export function checkNotebook(content: unknown, limits: Limits, path: Path): void {
  if (typeof content !== 'object' || content === null) return;
  const cells = (content as { cells?: unknown }).cells;
  if (!Array.isArray(cells)) return;
  if (cells.length > limits.notebookCells) {
    tooLarge('the notebook', `${cells.length} cells`, `${limits.notebookCells} cells`, 'notebookCells', [
      ...path,
      'cells',
    ]);
  }
  cells.forEach((cell: unknown, i) => {
    const source = typeof cell === 'object' && cell !== null ? (cell as { source?: unknown }).source : undefined;
    const text = typeof source === 'string' ? source : Array.isArray(source) ? source.join('') : '';
    checkBytes(text, limits.cellBytes, `cell ${i + 1}`, 'cellBytes', [...path, 'cells', i, 'source']);
  });
}

export function checkPipelineSize(pipeline: Pipeline, limits: Limits, path: Path): void {
  const n = pipeline.spec.tasks.length;
  if (n > limits.tasksPerPipeline) {
    tooLarge('the pipeline', `${n} tasks`, `${limits.tasksPerPipeline} tasks`, 'tasksPerPipeline', [
      ...path,
      'spec',
      'tasks',
    ]);
  }
}
