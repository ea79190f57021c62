import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ApiError, describeError } from '../api/client.js';
import { cellpipeIcon } from '../icons.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { PipelinePanel } from '../widgets/pipelinePanel.js';

/** The error's text with the server's field details (path or cell, and message) as lines under it. */
export function errorDetails(err: unknown): string {
  const text = describeError(err);
  const lines = err instanceof ApiError ? err.detailLines() : [];
  return lines.length ? `${text}\n${lines.map((l) => `• ${l}`).join('\n')}` : text;
}

function activatePipeline(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  palette: ICommandPalette | null,
): void {
  const run = async (): Promise<void> => {
    const notebook = tracker.currentWidget;
    if (!notebook?.model) return;
    const path = notebook.context.path;
    panel.running = true;
    try {
      const job = await api.client.submitJob({
        notebook: { path, content: notebook.model.toJSON() as Record<string, unknown> },
        parameters: panel.parameters(),
      });
      jobs.add(job);
      jobs.rememberSource(job.id, path);
      panel.setLastJob(path, job.id);
      await monitor.open(job.id);
    } catch (err) {
      await showErrorMessage('Run as Pipeline failed', errorDetails(err));
    } finally {
      panel.running = false;
    }
  };

  const panel = new PipelinePanel(
    tracker,
    api,
    jobs,
    () => app.commands.execute(CommandIDs.runPipeline),
    () => app.commands.execute(CommandIDs.scheduleNotebook),
  );
  panel.id = 'cellpipe-pipeline';
  panel.title.icon = cellpipeIcon;
  panel.title.caption = 'Cellpipe Pipeline';
  app.shell.add(panel, 'left', { rank: 650 });

  app.commands.addCommand(CommandIDs.runPipeline, {
    label: 'Run as Pipeline',
    caption: 'Submit the current notebook to Cellpipe as a pipeline job',
    icon: cellpipeIcon,
    isEnabled: () => tracker.currentWidget !== null && !panel.running,
    execute: run,
  });
  palette?.addItem({ command: CommandIDs.runPipeline, category: 'Cellpipe' });
}

export const pipelinePlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:pipeline`,
  description: "Left sidebar with the current notebook's pipeline graph, problems, parameters and Run as Pipeline.",
  autoStart: true,
  requires: [INotebookTracker, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor],
  optional: [ICommandPalette],
  activate: activatePipeline,
};
