import type { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator } from '@jupyterlab/translation';
import { cellpipeTaskIcon } from '../icons.js';
import { formFromTags } from '../tags.js';
import { CommandIDs, ICellpipeJobs, ICellpipePipeline, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';
import { TaskEditorPanel } from '../widgets/taskEditor.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:task-editor`;

/** A task name no task of the notebook has yet: task-1, task-2, ... */
export function freshTaskName(existing: Iterable<string>): string {
  const taken = new Set(existing);
  let n = taken.size + 1;
  while (taken.has(`task-${n}`)) n++;
  return `task-${n}`;
}

function activateTaskEditor(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  jobs: ICellpipeJobs,
  pipeline: ICellpipePipeline | null,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
): void {
  const trans = cellpipeTrans(translator);
  const panel = new TaskEditorPanel(tracker, jobs, pipeline, trans);
  panel.id = 'cellpipe-task-editor';
  panel.title.icon = cellpipeTaskIcon;
  panel.title.caption = trans.__('Cellpipe Task');
  app.shell.add(panel, 'right', { rank: 600 });

  const activeCode = (): boolean => tracker.activeCell?.model.type === 'code';

  app.commands.addCommand(CommandIDs.openTaskEditor, {
    label: trans.__('Edit Cellpipe Task of the Active Cell'),
    icon: cellpipeTaskIcon,
    execute: () => {
      (app.shell as ILabShell).activateById(panel.id);
    },
  });
  app.commands.addCommand(CommandIDs.makeCellTask, {
    label: trans.__('Make This Cell a Cellpipe Task'),
    caption: trans.__('Start a Cellpipe task at this cell: name it in the Cellpipe Task panel'),
    icon: cellpipeTaskIcon,
    isEnabled: activeCode,
    isVisible: activeCode,
    execute: () => {
      (app.shell as ILabShell).activateById(panel.id);
      const cell = tracker.activeCell?.model;
      const hasTask = cell ? formFromTags(cell.getMetadata('tags')).task !== '' : false;
      const names = (pipeline?.result?.cells ?? []).map((c) => c.task ?? '').filter(Boolean);
      // After the panel rendered the active cell's form.
      requestAnimationFrame(() => panel.focusName(hasTask ? undefined : freshTaskName(names)));
    },
  });
  palette?.addItem({ command: CommandIDs.openTaskEditor, category: 'Cellpipe' });
  palette?.addItem({ command: CommandIDs.makeCellTask, category: 'Cellpipe' });
}

export const taskEditorPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Right sidebar form that edits the active cell\'s Cellpipe task tags; "Make This Cell a Cellpipe Task".',
  autoStart: true,
  requires: [INotebookTracker, ICellpipeJobs],
  optional: [ICellpipePipeline, ICommandPalette, ITranslator],
  activate: activateTaskEditor,
};
