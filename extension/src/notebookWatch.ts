/**
 * Calls `onChange` (debounced) whenever a notebook's cells, their sources or their metadata change:
 * the pipeline panel recompiles and the badges redraw from it.
 */
import type { ICellModel } from '@jupyterlab/cells';
import type { INotebookModel, Notebook } from '@jupyterlab/notebook';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';

export function watchNotebook(model: INotebookModel, onChange: () => void, delayMs: number): IDisposable {
  let timer: number | undefined;
  const schedule = (): void => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      timer = undefined;
      onChange();
    }, delayMs);
  };
  const connected = new Set<ICellModel>();
  const connectCells = (): void => {
    const present = new Set<ICellModel>();
    for (let i = 0; i < model.cells.length; i++) present.add(model.cells.get(i));
    for (const cell of connected) {
      if (!present.has(cell)) {
        cell.metadataChanged.disconnect(schedule);
        cell.contentChanged.disconnect(schedule);
        connected.delete(cell);
      }
    }
    for (const cell of present) {
      if (!connected.has(cell)) {
        cell.metadataChanged.connect(schedule);
        cell.contentChanged.connect(schedule);
        connected.add(cell);
      }
    }
  };
  const onCells = (): void => {
    connectCells();
    schedule();
  };
  model.cells.changed.connect(onCells);
  model.contentChanged.connect(schedule);
  model.metadataChanged.connect(schedule);
  connectCells();
  return new DisposableDelegate(() => {
    if (timer !== undefined) window.clearTimeout(timer);
    model.cells.changed.disconnect(onCells);
    model.contentChanged.disconnect(schedule);
    model.metadataChanged.disconnect(schedule);
    for (const cell of connected) {
      cell.metadataChanged.disconnect(schedule);
      cell.contentChanged.disconnect(schedule);
    }
    connected.clear();
  });
}

/** Makes a notebook's cell `index` (0-based) active and scrolls it into view. */
export async function revealCell(notebook: Notebook, index: number): Promise<void> {
  const cell = notebook.widgets[index];
  if (!cell) return;
  notebook.activeCellIndex = index;
  notebook.activate();
  await notebook.scrollToCell(cell);
}
