import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { NotificationsClient } from '../api/notifications.js';
import { workDirFields } from '../api/workDir.js';
import { cellpipeIcon } from '../icons.js';
import { migProfiles as availableMigProfiles } from '../inventoryCheck.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { initialRunTaskForm, singleTaskPipeline } from '../runTask.js';
import { RunTaskBody } from '../widgets/runTaskDialog.js';
import type { ResourceDefaults } from './settings.js';
import { errorDetails } from './pipeline.js';
import { readResourceDefaults } from './settings.js';

function runnable(path: string): boolean {
  return path.endsWith('.ipynb') || path.endsWith('.py');
}

function activateFileBrowser(
  app: JupyterFrontEnd,
  browser: IDefaultFileBrowser,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  settingRegistry: ISettingRegistry | null,
): void {
  let defaults: ResourceDefaults = {};
  const notifications = new NotificationsClient(api.client);
  if (settingRegistry) void readResourceDefaults(settingRegistry, (d) => (defaults = d));

  const selectedPath = (): string | null => {
    const item = browser.selectedItems().next();
    return item && !item.done && runnable(item.value.path) ? item.value.path : null;
  };

  app.commands.addCommand(CommandIDs.runFileAsTask, {
    label: 'Run as Cellpipe Task',
    caption: 'Run this notebook or script as a one-task Cellpipe job',
    icon: cellpipeIcon,
    isVisible: () => selectedPath() !== null,
    execute: async (args) => {
      const path = typeof args['path'] === 'string' ? args['path'] : selectedPath();
      if (!path) return;
      let migProfiles: string[] = [];
      try {
        migProfiles = availableMigProfiles(await api.client.inventory());
      } catch {
        // Offline: the profile can still be typed.
      }
      const body = new RunTaskBody(path, initialRunTaskForm(path, defaults), migProfiles, () =>
        notifications.targets(),
      );
      const result = await showDialog({
        title: 'Run as Cellpipe Task',
        body,
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
      });
      if (!result.button.accept || !result.value) return;
      const built = singleTaskPipeline(path, result.value);
      if ('errors' in built) {
        await showErrorMessage('Run as Cellpipe Task', built.errors.join('\n'));
        return;
      }
      try {
        const model = await app.serviceManager.contents.get(path, { content: true });
        const text = typeof model.content === 'string' ? model.content : JSON.stringify(model.content);
        const job = await api.client.submitJob({
          pipeline: built.pipeline,
          files: { [built.file]: text },
          ...workDirFields(path),
          ...(body.notify.length ? { notify: body.notify } : {}),
        });
        jobs.add(job);
        jobs.rememberSource(job.id, path);
        await monitor.open(job.id);
      } catch (err) {
        await showErrorMessage('Run as Cellpipe Task failed', errorDetails(err));
      }
    },
  });
}

export const fileBrowserPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:file-browser`,
  description: 'File browser context menu "Run as Cellpipe Task" for notebooks and Python scripts.',
  autoStart: true,
  requires: [IDefaultFileBrowser, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor],
  optional: [ISettingRegistry],
  activate: activateFileBrowser,
};
