import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';
import { CommandIDs, ICellpipeJobs, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';
import { CellpipeStatusItem } from '../widgets/statusBar.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:status-bar`;

function activateStatusBar(
  app: JupyterFrontEnd,
  statusBar: IStatusBar,
  jobs: ICellpipeJobs,
  translator: ITranslator | null,
): void {
  const item = new CellpipeStatusItem(
    jobs,
    () => void app.commands.execute(CommandIDs.openMonitor),
    cellpipeTrans(translator),
  );
  statusBar.registerStatusItem(PLUGIN_ID, { item, align: 'left', rank: 50 });
}

export const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "Status bar item with the user's running and waiting Cellpipe tasks.",
  autoStart: true,
  requires: [IStatusBar, ICellpipeJobs],
  optional: [ITranslator],
  activate: activateStatusBar,
};
