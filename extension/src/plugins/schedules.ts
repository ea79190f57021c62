/**
 * Schedules in JupyterLab: "Schedule…" for the current notebook (saves it as a pipeline version and
 * creates a server-side schedule), and the monitor's Schedules and Pipelines tabs.
 */
import { compileNotebook, type Parameter, type TargetList } from '@cellpipe/schema';
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ITranslator, type TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { CatalogClient } from '../api/catalog.js';
import { NotificationsClient } from '../api/notifications.js';
import { cellpipeIcon } from '../icons.js';
import { createRequest, defaultValues, updateRequest, valuesOf, type ScheduleFormValues } from '../schedules/form.js';
import { SchedulesModel } from '../schedules/model.js';
import { PIPELINES_CLASS, PipelinesTab } from '../schedules/PipelinesTab.js';
import { ScheduleBody } from '../schedules/ScheduleDialog.js';
import { SCHEDULES_CLASS, SchedulesTab, type ScheduleActions } from '../schedules/SchedulesTab.js';
import { CatalogView } from '../schedules/view.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';
import { errorDetails } from './pipeline.js';

export const SCHEDULES_TAB = 'schedules';
export const PIPELINES_TAB = 'pipelines';

/**
 * Shows the schedule form until `submit` succeeds or the user cancels; a refused submit shows the
 * server's message (naming the field) and opens the form again with what was typed.
 */
async function scheduleForm(
  title: string,
  trans: TranslationBundle,
  initial: ScheduleFormValues,
  body: (values: ScheduleFormValues) => ScheduleBody,
  submit: (values: ScheduleFormValues) => Promise<void>,
): Promise<boolean> {
  let values = initial;
  for (;;) {
    const result = await showDialog({
      title,
      body: body(values),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: trans.__('Save schedule') })],
    });
    if (!result.button.accept || !result.value) return false;
    values = result.value;
    try {
      await submit(values);
      return true;
    } catch (err) {
      await showErrorMessage(trans.__('The schedule was not saved'), errorDetails(err));
    }
  }
}

function activateSchedules(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
): void {
  const trans = cellpipeTrans(translator);
  const catalog = new CatalogClient(api.client);
  const notifications = new NotificationsClient(api.client);
  const notifyTargets = (): Promise<TargetList> => notifications.targets();
  const model = new SchedulesModel(catalog, jobs);

  const actions: ScheduleActions = {
    async edit(s) {
      // The form shows the schedule's own overrides; all of them are sent back as typed.
      const shown: Record<string, Parameter> = {};
      for (const [k, v] of Object.entries(s.parameters)) shown[k] = { default: v };
      await scheduleForm(
        trans.__('Edit schedule %1', s.name),
        trans,
        valuesOf(s),
        (values) =>
          new ScheduleBody({
            initial: values,
            parameters: shown,
            catalog,
            trans,
            editing: { pipeline: s.pipeline },
            notifyTargets,
          }),
        async (values) => {
          const pinned =
            values.pin && s.version === 'latest'
              ? ((await catalog.versions(s.pipeline)).items[0]?.version ?? 'latest')
              : values.pin
                ? s.version
                : 'latest';
          await catalog.updateSchedule(s.id, updateRequest(values, {}, pinned));
          await model.refresh();
        },
      );
    },
    async remove(s) {
      const result = await showDialog({
        title: trans.__('Delete schedule %1?', s.name),
        body: trans.__('It stops firing and its history goes; the jobs it started stay.'),
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Delete') })],
      });
      if (!result.button.accept) return;
      await model.run(() => catalog.deleteSchedule(s.id));
      if (model.selected === s.id) await model.select(null);
    },
    openJob: (jobId) => monitor.open(jobId),
  };

  monitor.addTab({
    id: SCHEDULES_TAB,
    label: trans.__('Schedules'),
    rank: 300,
    create: () =>
      new CatalogView(model, trans, SCHEDULES_CLASS, () => React.createElement(SchedulesTab, { model, actions })),
  });
  monitor.addTab({
    id: PIPELINES_TAB,
    label: trans.__('Pipelines'),
    rank: 400,
    create: () => new CatalogView(model, trans, PIPELINES_CLASS, () => React.createElement(PipelinesTab, { model })),
  });

  app.commands.addCommand(CommandIDs.scheduleNotebook, {
    label: trans.__('Schedule…'),
    caption: trans.__('Run the current notebook as a pipeline on a schedule, in the Cellpipe server'),
    icon: cellpipeIcon,
    isEnabled: () => tracker.currentWidget !== null,
    execute: async () => {
      const notebook = tracker.currentWidget;
      if (!notebook?.model) return;
      const path = notebook.context.path;
      const content = notebook.model.toJSON() as Record<string, unknown>;
      const compiled = compileNotebook(content, { path });
      if (!compiled.pipeline) {
        await showErrorMessage(
          trans.__('Nothing to schedule'),
          trans.__('%1 has no runnable pipeline yet: see the problems in the Cellpipe Pipeline sidebar.', path),
        );
        return;
      }
      const pipeline = compiled.pipeline;
      const declared = pipeline.spec.parameters;
      let created: string | undefined;
      const saved = await scheduleForm(
        trans.__('Schedule %1', pipeline.metadata.name),
        trans,
        defaultValues(pipeline.metadata.name),
        (values) => new ScheduleBody({ initial: values, parameters: declared, catalog, trans, notifyTargets }),
        async (values) => {
          const version = await catalog.savePipeline({
            notebook: { path, content },
            message: trans.__('saved to schedule %1', values.name),
          });
          const schedule = await catalog.createSchedule(
            createRequest(values, version.version.name, version.version.version, declared),
          );
          created = schedule.id;
        },
      );
      if (!saved) return;
      await monitor.openTab(SCHEDULES_TAB);
      await model.refresh();
      if (created) await model.select(created);
    },
  });
  palette?.addItem({ command: CommandIDs.scheduleNotebook, category: 'Cellpipe' });
}

export const schedulesPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:schedules`,
  description: 'Schedule… for the current notebook, and the monitor tabs for schedules and saved pipelines.',
  autoStart: true,
  requires: [INotebookTracker, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor],
  optional: [ICommandPalette, ITranslator],
  activate: activateSchedules,
};
