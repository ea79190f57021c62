import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { CommandIDs, ICellpipeJobs, PLUGIN_PREFIX } from '../tokens.js';
import { CellpipeStatusItem } from '../widgets/statusBar.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:status-bar`;

function activateStatusBar(app: JupyterFrontEnd, statusBar: IStatusBar, jobs: ICellpipeJobs): void {
  const item = new CellpipeStatusItem(jobs, () => void app.commands.execute(CommandIDs.openMonitor));
  statusBar.registerStatusItem(PLUGIN_ID, { item, align: 'left', rank: 50 });
}

export const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Status bar item with the number of running and queued Cellpipe jobs.',
  autoStart: true,
  requires: [IStatusBar, ICellpipeJobs],
  activate: activateStatusBar,
};
