import type { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ICommandPalette } from '@jupyterlab/apputils';
import { cellpipeIcon } from '../icons.js';
import { CommandIDs, ICellpipeAPI, PLUGIN_PREFIX } from '../tokens.js';
import { TaskEditorPanel } from '../widgets/taskEditor.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:task-editor`;

function activateTaskEditor(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  api: ICellpipeAPI,
  palette: ICommandPalette | null,
): void {
  const panel = new TaskEditorPanel(tracker, api);
  panel.id = 'cellpipe-task-editor';
  panel.title.icon = cellpipeIcon;
  panel.title.caption = 'Cellpipe Task';
  app.shell.add(panel, 'right', { rank: 600 });

  app.commands.addCommand(CommandIDs.openTaskEditor, {
    label: 'Edit Cellpipe Task of the Active Cell',
    execute: () => {
      (app.shell as ILabShell).activateById(panel.id);
    },
  });
  palette?.addItem({ command: CommandIDs.openTaskEditor, category: 'Cellpipe' });
}

export const taskEditorPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "Right sidebar form that edits the active cell's Cellpipe task tags.",
  autoStart: true,
  requires: [INotebookTracker, ICellpipeAPI],
  optional: [ICommandPalette],
  activate: activateTaskEditor,
};
