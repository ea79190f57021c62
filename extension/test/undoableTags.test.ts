/**
 * Against @jupyter/ydoc's real shared cells and notebooks (the same package JupyterLab runs), not a
 * stand-in: the point is how its undo managers treat metadata.
 */
import { YCodeCell, YNotebook } from '@jupyter/ydoc';
import type { IDisposable } from '@lumino/disposable';
import { writeTagsUndoable } from '../src/undoableTags.js';

// Shared models hold awareness timers; dispose of them so jest can exit.
const made: IDisposable[] = [];
afterEach(() => made.splice(0).forEach((m) => m.dispose()));

function standaloneCell(): YCodeCell {
  const cell = YCodeCell.create();
  made.push(cell);
  return cell;
}

function notebookCell(documentWide: boolean): { nb: YNotebook; cell: ReturnType<YNotebook['addCell']> } {
  const nb = YNotebook.create({ disableDocumentWideUndoRedo: !documentWide });
  made.push(nb);
  const cell = nb.addCell({ cell_type: 'code' });
  cell.setSource('x = 1');
  cell.setMetadata('tags', ['hide-input']);
  // Loading the notebook is not an undo step in JupyterLab either.
  cell.clearUndoHistory();
  nb.clearUndoHistory();
  return { nb, cell };
}

describe('ydoc undo and metadata (why writeTagsUndoable exists)', () => {
  it('a plain setMetadata is not on the cell undo stack', () => {
    const cell = standaloneCell();
    cell.setMetadata('tags', ['task:a']);
    expect(cell.canUndo()).toBe(false);
    cell.undo();
    expect(cell.getMetadata('tags')).toEqual(['task:a']);
  });
});

describe('writeTagsUndoable', () => {
  it.each([
    ['per-cell undo (JupyterLab default)', false],
    ['document-wide undo', true],
  ])('an Apply is undone and redone by the cell undo manager: %s', (_name, documentWide) => {
    const { cell } = notebookCell(documentWide);
    expect(writeTagsUndoable(cell, ['hide-input', 'task:train', 'gpu:1'])).toBe(true);
    expect(cell.getMetadata('tags')).toEqual(['hide-input', 'task:train', 'gpu:1']);
    expect(cell.canUndo()).toBe(true);

    cell.undo();
    expect(cell.getMetadata('tags')).toEqual(['hide-input']);
    expect(cell.getSource()).toBe('x = 1');

    cell.redo();
    expect(cell.getMetadata('tags')).toEqual(['hide-input', 'task:train', 'gpu:1']);
  });

  it('a Clear that removes the key is undone back to the tags it had', () => {
    const cell = standaloneCell();
    cell.setMetadata('tags', ['task:prep', 'cpu:2']);
    writeTagsUndoable(cell, []);
    expect(cell.getMetadata('tags')).toBeUndefined();
    cell.undo();
    expect(cell.getMetadata('tags')).toEqual(['task:prep', 'cpu:2']);
  });

  it('a cell that had no tags has none again after undo', () => {
    const cell = standaloneCell();
    writeTagsUndoable(cell, ['task:a']);
    cell.undo();
    expect(cell.getMetadata('tags')).toBeUndefined();
  });

  it('each write is its own step, apart from typing just before it', () => {
    const { cell } = notebookCell(false);
    cell.setSource('x = 2'); // an edit of the source, well inside the capture window
    writeTagsUndoable(cell, ['hide-input', 'task:a']);
    writeTagsUndoable(cell, ['hide-input', 'task:b']);

    cell.undo();
    expect(cell.getMetadata('tags')).toEqual(['hide-input', 'task:a']);
    cell.undo();
    expect(cell.getMetadata('tags')).toEqual(['hide-input']);
    expect(cell.getSource()).toBe('x = 2');
    cell.undo();
    expect(cell.getSource()).toBe('x = 1');
  });

  it('records nothing when the tags do not change', () => {
    const { cell } = notebookCell(false);
    expect(writeTagsUndoable(cell, ['hide-input'])).toBe(false);
    expect(standaloneCell().canUndo()).toBe(false);
    expect(writeTagsUndoable(standaloneCell(), [])).toBe(false);
    expect(cell.canUndo()).toBe(false);
  });

  it('leaves the notebook-level (cell actions) history alone under per-cell undo', () => {
    const { nb, cell } = notebookCell(false);
    writeTagsUndoable(cell, ['task:a']);
    expect(nb.canUndo()).toBe(false);
  });
});
