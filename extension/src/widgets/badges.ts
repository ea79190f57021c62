/**
 * Badges on task cells: the task name and GPU/MIG request, redrawn from the cell's tags whenever
 * the notebook changes.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import { watchNotebook } from '../notebookWatch.js';
import { badgeText, formFromTags } from '../tags.js';

export const BADGE_CLASS = 'jp-cellpipe-Badge';
const TASK_CELL_CLASS = 'jp-cellpipe-mod-task';
const REDRAW_DELAY_MS = 150;

export function drawBadges(panel: NotebookPanel): void {
  for (const cell of panel.content.widgets) {
    const form = formFromTags(cell.model.getMetadata('tags'));
    const text = badgeText(form);
    // The cell header sits above the input and stays empty in JupyterLab: the badge lives there, so it
    // never covers the cell toolbar (top right of the input) and stays put when the cell re-renders.
    const host = cell.node.querySelector<HTMLElement>(':scope > .jp-CellHeader') ?? cell.node;
    let badge = host.querySelector<HTMLElement>(`:scope > .${BADGE_CLASS}`);
    if (!text) {
      badge?.remove();
      cell.removeClass(TASK_CELL_CLASS);
      continue;
    }
    if (!badge) {
      badge = document.createElement('div');
      badge.className = BADGE_CLASS;
      host.appendChild(badge);
    }
    cell.addClass(TASK_CELL_CLASS);
    if (badge.textContent !== text) badge.textContent = text;
    badge.title = `Cellpipe task ${form.task}${form.dependsOn ? `, after ${form.dependsOn}` : ''}`;
  }
}

/** Keeps badges on every notebook the tracker knows. */
export function trackBadges(tracker: INotebookTracker): void {
  const watches = new Map<NotebookPanel, IDisposable>();
  const add = (panel: NotebookPanel): void => {
    void panel.context.ready.then(() => {
      if (panel.isDisposed || watches.has(panel) || !panel.model) return;
      watches.set(
        panel,
        watchNotebook(panel.model, () => drawBadges(panel), REDRAW_DELAY_MS),
      );
      drawBadges(panel);
    });
    panel.disposed.connect(() => {
      watches.get(panel)?.dispose();
      watches.delete(panel);
    });
  };
  tracker.forEach(add);
  tracker.widgetAdded.connect((_, panel) => add(panel));
}
