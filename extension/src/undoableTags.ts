/**
 * Writes a cell's tags as one step of the cell's undo history, so Ctrl+Z / Edit > Undo in the
 * notebook reverts a change made in the Cellpipe Task panel. Pure: no JupyterLab imports; the cell
 * is anything shaped like @jupyter/ydoc's shared cell.
 *
 * Why the wrapper: @jupyter/ydoc's `setMetadata`/`deleteMetadata` write inside a transaction marked
 * not undoable (origin null), and the cell's undo manager only records transactions whose origin is
 * the shared cell (or the notebook, under document-wide undo). Its scope is the whole cell map,
 * metadata included, so calling the setters inside `transact(f, true)` (a Yjs transaction nested in
 * another takes the outer one's origin) puts the tag change on the same stack as the cell's text
 * edits. `stopCapturing` before and after keeps it a step of its own rather than merging it with
 * typing (or another Apply) inside the undo manager's capture window.
 */
import { sameTags } from './tags.js';

/** The part of @jupyter/ydoc's `ISharedCell` that writing tags needs. */
export interface TagWritableCell {
  getMetadata(key: string): unknown;
  setMetadata(key: string, value: string[]): void;
  deleteMetadata(key: string): void;
  transact(f: () => void, undoable?: boolean): void;
  /** The Y.UndoManager; @jupyter/ydoc's cells have it though its `ISharedCell` type does not say so. */
  readonly undoManager?: { stopCapturing(): void } | null;
}

/**
 * Sets the cell's `tags` (an empty list removes the key) as one undoable step. Returns false, and
 * records nothing, when the tags are already those.
 */
export function writeTagsUndoable(cell: TagWritableCell, tags: readonly string[]): boolean {
  const current = cell.getMetadata('tags');
  if (Array.isArray(current) ? sameTags(current.map(String), tags) : current === undefined && tags.length === 0) {
    return false;
  }
  cell.undoManager?.stopCapturing();
  cell.transact(() => {
    if (tags.length === 0) cell.deleteMetadata('tags');
    else cell.setMetadata('tags', [...tags]);
  }, true);
  cell.undoManager?.stopCapturing();
  return true;
}
