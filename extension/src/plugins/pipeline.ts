import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  showDialog,
  showErrorMessage,
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';
import { ApiError, describeError } from '../api/client.js';
import { NotificationsClient } from '../api/notifications.js';
import { workDirFields } from '../api/workDir.js';
import { cellpipeIcon } from '../icons.js';
import { PipelineModel, type ResourceProblem } from '../pipeline/model.js';
import {
  CommandIDs,
  ICellpipeAPI,
  ICellpipeJobs,
  ICellpipeMonitor,
  ICellpipePipeline,
  PLUGIN_PREFIX,
} from '../tokens.js';
import { cellpipeTrans } from '../translation.js';
import { PipelineGraphWidget } from '../widgets/pipelineGraph.js';
import { PipelinePanel } from '../widgets/pipelinePanel.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:pipeline`;

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
  settingRegistry: ISettingRegistry | null,
  translator: ITranslator | null,
): ICellpipePipeline {
  const trans = cellpipeTrans(translator);
  const model = new PipelineModel(tracker, jobs, trans);
  const notifications = new NotificationsClient(api.client);
  let saveStay = (value: boolean): void => void (model.stayInNotebook = value);
  if (settingRegistry) {
    void settingRegistry
      .load(PLUGIN_ID)
      .then((settings) => {
        const apply = (): void => void (model.stayInNotebook = settings.get('stayInNotebookOnRun').composite === true);
        apply();
        settings.changed.connect(apply);
        saveStay = (value) => {
          // Shown at once; the setting follows (and comes back through `changed`).
          model.stayInNotebook = value;
          settings.set('stayInNotebookOnRun', value).catch((reason: unknown) => {
            console.error(`${PLUGIN_ID}: cannot save stayInNotebookOnRun`, reason);
          });
        };
      })
      .catch((reason: unknown) => console.error(`${PLUGIN_ID}: cannot load settings`, reason));
  }

  /** Runs anyway when the user says so, after listing the requests nothing can satisfy. */
  const confirmUnsatisfiable = async (problems: ResourceProblem[]): Promise<boolean> => {
    if (!problems.length) return true;
    const lines = problems.map((p) => `• ${p.task}: ${p.message}`).join('\n');
    const result = await showDialog({
      title: trans.__('Some tasks can never start'),
      body: trans.__('%1\n\nThese tasks would fail at once. Run the pipeline anyway?', lines),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Run anyway') })],
    });
    return result.button.accept;
  };

  const run = async (): Promise<void> => {
    const notebook = model.notebook;
    if (!notebook?.model || !model.result?.pipeline) return;
    if (!(await confirmUnsatisfiable(model.resourceProblems))) return;
    const path = notebook.context.path;
    model.running = true;
    try {
      const job = await api.client.submitJob({
        notebook: { path, content: notebook.model.toJSON() as Record<string, unknown> },
        ...workDirFields(path),
        parameters: model.parameters(),
        ...(model.notify.length ? { notify: model.notify } : {}),
      });
      jobs.add(job);
      jobs.rememberSource(job.id, path);
      model.setLastJob(path, job.id);
      if (model.stayInNotebook) {
        Notification.info(trans.__('Cellpipe job %1 (%2) submitted', job.name, job.id), {
          autoClose: 5000,
          actions: [{ label: trans.__('Open'), callback: () => void monitor.open(job.id) }],
        });
      } else await monitor.open(job.id);
    } catch (err) {
      await showErrorMessage(trans.__('Run as Pipeline failed'), errorDetails(err));
    } finally {
      model.running = false;
    }
  };

  let graphWidget: MainAreaWidget<PipelineGraphWidget> | null = null;
  const openGraph = (): void => {
    if (!graphWidget || graphWidget.isDisposed) {
      graphWidget = new MainAreaWidget({ content: new PipelineGraphWidget(model, trans) });
      graphWidget.id = 'cellpipe-pipeline-graph';
      graphWidget.title.label = trans.__('Pipeline Graph');
      graphWidget.title.icon = cellpipeIcon;
      graphWidget.title.closable = true;
    }
    if (!graphWidget.isAttached) app.shell.add(graphWidget, 'main', { mode: 'split-right' });
    app.shell.activateById(graphWidget.id);
  };

  const panel = new PipelinePanel(
    model,
    {
      run: () => app.commands.execute(CommandIDs.runPipeline) as Promise<void>,
      schedule: () => app.commands.execute(CommandIDs.scheduleNotebook) as Promise<void>,
      openTaskEditor: () => void app.commands.execute(CommandIDs.openTaskEditor),
      openGraphInMain: () => void app.commands.execute(CommandIDs.openPipelineGraph),
      setStayInNotebook: (value) => saveStay(value),
      notifyTargets: () => notifications.targets(),
    },
    trans,
  );
  panel.id = 'cellpipe-pipeline';
  panel.title.icon = cellpipeIcon;
  panel.title.caption = trans.__('Cellpipe Pipeline');
  app.shell.add(panel, 'left', { rank: 650 });

  app.commands.addCommand(CommandIDs.runPipeline, {
    label: trans.__('Run as Pipeline'),
    caption: trans.__('Submit the current notebook to Cellpipe as a pipeline job'),
    icon: cellpipeIcon,
    isEnabled: () => tracker.currentWidget !== null && !model.running,
    execute: run,
  });
  app.commands.addCommand(CommandIDs.openPipelineGraph, {
    label: trans.__('Open Pipeline Graph'),
    caption: trans.__("Show the current notebook's task graph in the main area"),
    icon: cellpipeIcon,
    execute: openGraph,
  });
  model.changed.connect(() => app.commands.notifyCommandChanged(CommandIDs.runPipeline));
  palette?.addItem({ command: CommandIDs.runPipeline, category: 'Cellpipe' });
  palette?.addItem({ command: CommandIDs.openPipelineGraph, category: 'Cellpipe' });
  return model;
}

export const pipelinePlugin: JupyterFrontEndPlugin<ICellpipePipeline> = {
  id: PLUGIN_ID,
  description:
    "Left sidebar with the current notebook's pipeline graph, problems, parameters and Run as Pipeline; the graph in the main area.",
  autoStart: true,
  requires: [INotebookTracker, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor],
  optional: [ICommandPalette, ISettingRegistry, ITranslator],
  provides: ICellpipePipeline,
  activate: activatePipeline,
};
