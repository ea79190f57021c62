import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import type { Contents } from '@jupyterlab/services';
import { NotebookPanel } from '@jupyterlab/notebook';
import { cellpipeIcon } from '../icons.js';
import { revealCell } from '../notebookWatch.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { MonitorWidget, type MonitorActions } from '../widgets/monitor.js';

const MONITOR_ID = 'cellpipe-monitor';
/** Executed notebooks are saved here (a hidden folder), or in the fallback when hidden files are refused. */
const EXECUTED_DIRS = ['.cellpipe', 'cellpipe-runs'];

async function ensureDirectory(contents: Contents.IManager, path: string): Promise<void> {
  try {
    await contents.get(path, { content: false });
  } catch {
    await contents.save(path, { type: 'directory' });
  }
}

function jobIdArg(args: Record<string, unknown>, monitor: MonitorWidget | null): string | null {
  const id = args['jobId'];
  if (typeof id === 'string' && id) return id;
  return monitor?.selected ?? null;
}

function activateMonitor(
  app: JupyterFrontEnd,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  docManager: IDocumentManager,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
): ICellpipeMonitor {
  const tracker = new WidgetTracker<MainAreaWidget<MonitorWidget>>({ namespace: MONITOR_ID });
  let main: MainAreaWidget<MonitorWidget> | null = null;

  const openAtCell = async (jobId: string, cell: number): Promise<void> => {
    const job = jobs.state.details[jobId] ?? (await jobs.loadJob(jobId));
    const path = jobs.sourceOf(jobId) ?? job.pipeline.spec.source?.notebook;
    if (!path) throw new Error(`job ${jobId} does not say which notebook it came from`);
    const widget = docManager.openOrReveal(path);
    if (!widget) throw new Error(`cannot open ${path}`);
    await widget.context.ready;
    if (widget instanceof NotebookPanel) await revealCell(widget.content, cell - 1);
  };

  const openExecuted = async (jobId: string, task: string): Promise<void> => {
    const notebook = await api.client.executedNotebook(jobId, task);
    const contents = app.serviceManager.contents;
    let lastError: unknown = null;
    for (const root of EXECUTED_DIRS) {
      try {
        await ensureDirectory(contents, root);
        await ensureDirectory(contents, `${root}/${jobId}`);
        const path = `${root}/${jobId}/${task}.executed.ipynb`;
        await contents.save(path, { type: 'notebook', format: 'json', content: notebook });
        docManager.openOrReveal(path);
        return;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof Error ? lastError : new Error('cannot save the executed notebook');
  };

  const downloadArtifact = async (jobId: string, task: string, path: string): Promise<void> => {
    const blob = await api.client.artifact(jobId, task, path);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = path.split('/').pop() ?? path;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  };

  const actions: MonitorActions = {
    cancel: async (jobId) => {
      await app.commands.execute(CommandIDs.cancelJob, { jobId });
    },
    rerun: async (jobId, mode) => {
      await app.commands.execute(mode === 'failed' ? CommandIDs.rerunFailed : CommandIDs.rerunJob, { jobId });
    },
    openAtCell,
    openExecuted,
    downloadArtifact,
  };

  const open = async (jobId?: string): Promise<void> => {
    if (!main || main.isDisposed) {
      const content = new MonitorWidget(jobs, api, actions);
      main = new MainAreaWidget({ content });
      main.id = MONITOR_ID;
      main.title.label = 'Cellpipe Jobs';
      main.title.icon = cellpipeIcon;
      main.title.closable = true;
      void tracker.add(main);
    }
    if (!main.isAttached) app.shell.add(main, 'main');
    app.shell.activateById(main.id);
    if (jobId) main.content.select(jobId);
    else if (!main.content.selected && jobs.state.jobs[0]) main.content.select(jobs.state.jobs[0].id);
  };

  const monitorContent = (): MonitorWidget | null => (main && !main.isDisposed ? main.content : null);

  const rerun = async (args: Record<string, unknown>, mode: 'all' | 'failed'): Promise<void> => {
    const id = jobIdArg(args, monitorContent());
    if (!id) return;
    const job = await api.client.rerunJob(id, mode);
    jobs.add(job);
    const source = jobs.sourceOf(id);
    if (source) jobs.rememberSource(job.id, source);
    await open(job.id);
  };

  app.commands.addCommand(CommandIDs.openMonitor, {
    label: 'Cellpipe Jobs',
    caption: 'Open the Cellpipe job monitor',
    icon: cellpipeIcon,
    execute: (args) => open(typeof args['jobId'] === 'string' ? args['jobId'] : undefined),
  });
  app.commands.addCommand(CommandIDs.cancelJob, {
    label: 'Cancel Cellpipe Job',
    execute: async (args) => {
      const id = jobIdArg(args, monitorContent());
      if (!id) return;
      jobs.add(await api.client.cancelJob(id));
    },
  });
  app.commands.addCommand(CommandIDs.rerunJob, {
    label: 'Re-run Cellpipe Job',
    execute: (args) => rerun(args, 'all'),
  });
  app.commands.addCommand(CommandIDs.rerunFailed, {
    label: 'Re-run Failed Tasks of Cellpipe Job',
    execute: (args) => rerun(args, 'failed'),
  });
  app.commands.addCommand(CommandIDs.openAtCell, {
    label: 'Open Source Notebook at Cell',
    execute: (args) => {
      const id = jobIdArg(args, monitorContent());
      const cell = Number(args['cell']);
      if (!id || !Number.isInteger(cell) || cell < 1) return;
      return openAtCell(id, cell);
    },
  });
  for (const command of [CommandIDs.openMonitor, CommandIDs.cancelJob, CommandIDs.rerunJob, CommandIDs.rerunFailed]) {
    palette?.addItem({ command, category: 'Cellpipe' });
  }

  if (restorer) {
    void restorer.restore(tracker, { command: CommandIDs.openMonitor, name: () => MONITOR_ID });
  }
  return { open };
}

export const monitorPlugin: JupyterFrontEndPlugin<ICellpipeMonitor> = {
  id: `${PLUGIN_PREFIX}:monitor`,
  description: 'Main-area Cellpipe job monitor: jobs, task graph, logs, results, cancel and re-run.',
  autoStart: true,
  requires: [ICellpipeAPI, ICellpipeJobs, IDocumentManager],
  optional: [ILayoutRestorer, ICommandPalette],
  provides: ICellpipeMonitor,
  activate: activateMonitor,
};
