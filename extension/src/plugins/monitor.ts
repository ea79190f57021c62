import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, MainAreaWidget, showDialog, WidgetTracker } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator } from '@jupyterlab/translation';
import { notebookRequest } from '../api/workDir.js';
import { RerunPlanBody } from '../components/jobs/RerunPlanView.js';
import { cellpipeIcon } from '../icons.js';
import { ExecutedNotebookView } from '../widgets/executedNotebook.js';
import { revealCell } from '../notebookWatch.js';
import { JobsView } from '../monitor/jobsView.js';
import { JobsViewModel, type MonitorActions } from '../monitor/jobsViewModel.js';
import { MonitorPanel } from '../monitor/panel.js';
import { MonitorTabRegistry } from '../monitor/tabs.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';

const MONITOR_ID = 'cellpipe-monitor';
export const JOBS_TAB = 'jobs';
/** Rethrows the first failure of a bulk action (the others succeeded). */
function throwFirst(results: PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function activateMonitor(
  app: JupyterFrontEnd,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  docManager: IDocumentManager,
  rendermime: IRenderMimeRegistry,
  editorServices: IEditorServices,
  contentFactory: NotebookPanel.IContentFactory,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
): ICellpipeMonitor {
  const trans = cellpipeTrans(translator);
  const tracker = new WidgetTracker<MainAreaWidget<MonitorPanel>>({ namespace: MONITOR_ID });
  const tabs = new MonitorTabRegistry();
  let main: MainAreaWidget<MonitorPanel> | null = null;

  const openAtCell = async (jobId: string, cell: number): Promise<void> => {
    const job = jobs.state.details[jobId] ?? (await jobs.loadJob(jobId));
    const path = jobs.sourceOf(jobId) ?? job.pipeline.spec.source?.notebook;
    if (!path) throw new Error(trans.__('job %1 does not say which notebook it came from', jobId));
    const widget = docManager.openOrReveal(path);
    if (!widget) throw new Error(trans.__('cannot open %1', path));
    await widget.context.ready;
    if (widget instanceof NotebookPanel) await revealCell(widget.content, cell - 1);
  };

  const downloadBlob = (blob: Blob, name: string): void => {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  };

  const executedViews = new Map<string, MainAreaWidget<ExecutedNotebookView>>();
  const openExecuted = async (jobId: string, task: string): Promise<void> => {
    const key = `${jobId}/${task}`;
    const known = executedViews.get(key);
    if (known && !known.isDisposed) {
      app.shell.activateById(known.id);
      return;
    }
    const json = await api.client.executedNotebook(jobId, task);
    const job = jobs.state.details[jobId];
    const source = jobs.sourceOf(jobId) ?? job?.pipeline.spec.source?.notebook;
    const view = new ExecutedNotebookView({
      json,
      jobId,
      task,
      source,
      openSource: source ? () => void docManager.openOrReveal(source) : undefined,
      download: () =>
        downloadBlob(
          new Blob([JSON.stringify(json, null, 1)], { type: 'application/x-ipynb+json' }),
          `${task}.executed.ipynb`,
        ),
      rendermime,
      contentFactory,
      mimeTypeService: editorServices.mimeTypeService,
      trans,
    });
    const widget = new MainAreaWidget({ content: view });
    widget.id = `cellpipe-executed-${jobId}-${task}`;
    widget.title.label = trans.__('%1 · job %2 (executed)', task, jobId);
    widget.title.caption = trans.__('Executed copy of task %1 of job %2 (read-only)', task, jobId);
    widget.title.icon = cellpipeIcon;
    widget.title.closable = true;
    executedViews.set(key, widget);
    widget.disposed.connect(() => executedViews.delete(key));
    app.shell.add(widget, 'main');
    app.shell.activateById(widget.id);
  };

  const downloadArtifact = async (jobId: string, task: string, path: string): Promise<void> => {
    downloadBlob(await api.client.artifact(jobId, task, path), path.split('/').pop() ?? path);
  };

  /** True when the user confirmed; destructive buttons are red and named after what they do. */
  const confirm = async (title: string, body: string, label: string): Promise<boolean> => {
    const result = await showDialog({
      title,
      body,
      buttons: [Dialog.cancelButton({ label: trans.__('Keep') }), Dialog.warnButton({ label })],
    });
    return result.button.accept;
  };

  /** The notebook a job came from, as it is now: the open widget's model (unsaved edits included), else the file. */
  const notebookOf = async (jobId: string): Promise<{ path: string; content: Record<string, unknown> } | null> => {
    const job = jobs.state.details[jobId] ?? (await jobs.loadJob(jobId));
    const path = jobs.sourceOf(jobId) ?? job.pipeline.spec.source?.notebook;
    if (!path) return null;
    const widget = docManager.findWidget(path);
    if (widget instanceof NotebookPanel && widget.model) {
      return { path, content: widget.model.toJSON() as Record<string, unknown> };
    }
    try {
      const model = await app.serviceManager.contents.get(path, { content: true, type: 'notebook' });
      return model.content && typeof model.content === 'object' ? { path, content: model.content } : null;
    } catch {
      return null;
    }
  };

  const rerunWithChanges = async (jobId: string): Promise<void> => {
    const nb = await notebookOf(jobId);
    if (!nb) throw new Error(trans.__('the notebook job %1 ran from is not open and cannot be read', jobId));
    const plan = await api.client.rerunPlan(jobId, notebookRequest(nb));
    const runs = plan.tasks.filter((t) => !t.reuse).length;
    const result = await showDialog({
      title: trans.__('Re-run with my changes'),
      body: new RerunPlanBody(plan, nb.path, trans),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: trans._n('Run %1 task', 'Run %1 tasks', runs) })],
    });
    if (!result.button.accept) return;
    const job = await api.client.rerunWithChanges(jobId, notebookRequest(nb));
    jobs.add(job);
    jobs.rememberSource(job.id, nb.path);
    await open(job.id);
  };

  const actions: MonitorActions = {
    notebookOf,
    rerunWithChanges: (jobId) => app.commands.execute(CommandIDs.rerunWithChanges, { jobId }) as Promise<void>,
    cancel: async (jobId) => {
      const job = jobs.state.details[jobId];
      const what = job ? `${job.name} (${jobId})` : jobId;
      const ok = await confirm(
        trans.__('Cancel job?'),
        trans.__('Cancel %1? Its running tasks are stopped and the tasks that have not started will not run.', what),
        trans.__('Cancel job'),
      );
      if (ok) await app.commands.execute(CommandIDs.cancelJob, { jobId });
    },
    cancelTask: async (jobId, task) => {
      const ok = await confirm(
        trans.__('Cancel task?'),
        trans.__(
          'Cancel task %1 of job %2? It is stopped, the tasks that depend on it are skipped, and the rest of the job goes on.',
          task,
          jobId,
        ),
        trans.__('Cancel task %1', task),
      );
      if (ok) await app.commands.execute(CommandIDs.cancelTask, { jobId, task });
    },
    cancelJobs: async (ids) => {
      const ok = await confirm(
        trans.__('Cancel jobs?'),
        trans._n(
          'Cancel %1 job? Its running tasks are stopped.',
          'Cancel %1 jobs? Their running tasks are stopped.',
          ids.length,
        ),
        trans._n('Cancel %1 job', 'Cancel %1 jobs', ids.length),
      );
      if (!ok) return;
      const results = await Promise.allSettled(ids.map((id) => api.client.cancelJob(id)));
      for (const r of results) if (r.status === 'fulfilled') jobs.add(r.value);
      jobsView.list.checkAll(false);
      throwFirst(results);
    },
    deleteJobs: async (ids) => {
      const ok = await confirm(
        trans.__('Delete jobs?'),
        trans._n(
          'Delete %1 finished job with its logs, executed notebooks and outputs? This cannot be undone.',
          'Delete %1 finished jobs with their logs, executed notebooks and outputs? This cannot be undone.',
          ids.length,
        ),
        trans._n('Delete %1 job', 'Delete %1 jobs', ids.length),
      );
      if (!ok) return;
      const results = await Promise.allSettled(ids.map((id) => api.client.deleteJob(id)));
      if (jobsView.selected && ids.includes(jobsView.selected)) jobsView.select(null);
      jobsView.list.checkAll(false);
      await jobsView.list.reload(jobsView.list.items.length);
      throwFirst(results);
    },
    rerun: async (jobId, mode) => {
      await app.commands.execute(mode === 'failed' ? CommandIDs.rerunFailed : CommandIDs.rerunJob, { jobId });
    },
    openAtCell,
    openExecuted,
    downloadArtifact,
  };
  const jobsView = new JobsViewModel(jobs, api, actions, trans);
  tabs.add({ id: JOBS_TAB, label: trans.__('Jobs'), rank: 100, create: () => new JobsView(jobsView, trans) });

  const show = (tabId: string): MonitorPanel => {
    if (!main || main.isDisposed) {
      const content = new MonitorPanel(tabs);
      main = new MainAreaWidget({ content });
      main.id = MONITOR_ID;
      main.title.label = trans.__('Cellpipe Jobs');
      main.title.icon = cellpipeIcon;
      main.title.closable = true;
      void tracker.add(main);
    }
    if (!main.isAttached) app.shell.add(main, 'main');
    app.shell.activateById(main.id);
    main.content.showTab(tabId);
    return main.content;
  };

  const open = async (jobId?: string): Promise<void> => {
    show(JOBS_TAB);
    if (jobId) jobsView.select(jobId);
    else if (!jobsView.selected && jobs.state.jobs[0]) jobsView.select(jobs.state.jobs[0].id);
  };

  const jobIdArg = (args: Record<string, unknown>): string | null => {
    const id = args['jobId'];
    return typeof id === 'string' && id ? id : jobsView.selected;
  };

  const rerun = async (args: Record<string, unknown>, mode: 'all' | 'failed'): Promise<void> => {
    const id = jobIdArg(args);
    if (!id) return;
    const job = await api.client.rerunJob(id, mode);
    jobs.add(job);
    const source = jobs.sourceOf(id);
    if (source) jobs.rememberSource(job.id, source);
    await open(job.id);
  };

  app.commands.addCommand(CommandIDs.openMonitor, {
    label: trans.__('Cellpipe Jobs'),
    caption: trans.__('Open the Cellpipe job monitor'),
    icon: cellpipeIcon,
    execute: async (args) => {
      const tab = typeof args['tab'] === 'string' ? args['tab'] : undefined;
      if (tab && tab !== JOBS_TAB) show(tab);
      else await open(typeof args['jobId'] === 'string' ? args['jobId'] : undefined);
    },
  });
  app.commands.addCommand(CommandIDs.cancelJob, {
    label: trans.__('Cancel Cellpipe Job'),
    execute: async (args) => {
      const id = jobIdArg(args);
      if (!id) return;
      jobs.add(await api.client.cancelJob(id));
    },
  });
  app.commands.addCommand(CommandIDs.cancelTask, {
    label: trans.__('Cancel Task of Cellpipe Job'),
    execute: async (args) => {
      const id = jobIdArg(args);
      const task = args['task'];
      if (!id || typeof task !== 'string' || !task) return;
      jobs.add(await api.client.cancelTask(id, task));
    },
  });
  app.commands.addCommand(CommandIDs.rerunJob, {
    label: trans.__('Re-run Cellpipe Job as Submitted'),
    execute: (args) => rerun(args, 'all'),
  });
  app.commands.addCommand(CommandIDs.rerunFailed, {
    label: trans.__('Re-run Failed Tasks of Cellpipe Job as Submitted'),
    execute: (args) => rerun(args, 'failed'),
  });
  app.commands.addCommand(CommandIDs.rerunWithChanges, {
    label: trans.__('Re-run Cellpipe Job with My Changes…'),
    caption: trans.__('Run the notebook as it is now, reusing the tasks that did not change since the job'),
    execute: (args) => {
      const id = jobIdArg(args);
      return id ? rerunWithChanges(id) : undefined;
    },
  });
  app.commands.addCommand(CommandIDs.openAtCell, {
    label: trans.__('Open Source Notebook at Cell'),
    execute: (args) => {
      const id = jobIdArg(args);
      const cell = Number(args['cell']);
      if (!id || !Number.isInteger(cell) || cell < 1) return;
      return openAtCell(id, cell);
    },
  });
  for (const command of [
    CommandIDs.openMonitor,
    CommandIDs.cancelJob,
    CommandIDs.rerunJob,
    CommandIDs.rerunFailed,
    CommandIDs.rerunWithChanges,
  ]) {
    palette?.addItem({ command, category: 'Cellpipe' });
  }

  if (restorer) {
    void restorer.restore(tracker, { command: CommandIDs.openMonitor, name: () => MONITOR_ID });
  }
  return {
    open,
    openTab: async (tabId) => {
      if (tabId === JOBS_TAB) await open();
      else show(tabId);
    },
    addTab: (tab) => tabs.add(tab),
    addJobSection: (section) => jobsView.sections.add(section),
  };
}

export const monitorPlugin: JupyterFrontEndPlugin<ICellpipeMonitor> = {
  id: `${PLUGIN_PREFIX}:monitor`,
  description: 'Main-area Cellpipe job monitor: tabs for jobs and resources (other plugins add more).',
  autoStart: true,
  requires: [
    ICellpipeAPI,
    ICellpipeJobs,
    IDocumentManager,
    IRenderMimeRegistry,
    IEditorServices,
    NotebookPanel.IContentFactory,
  ],
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  provides: ICellpipeMonitor,
  activate: activateMonitor,
};
