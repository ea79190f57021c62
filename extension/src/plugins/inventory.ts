import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator } from '@jupyterlab/translation';
import { cellpipeIcon } from '../icons.js';
import { InventoryView } from '../monitor/inventoryView.js';
import { CommandIDs, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';

export const RESOURCES_TAB = 'resources';

function activateInventory(
  app: JupyterFrontEnd,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
): void {
  const trans = cellpipeTrans(translator);
  monitor.addTab({
    id: RESOURCES_TAB,
    label: trans.__('Resources'),
    rank: 200,
    create: () => new InventoryView(jobs, (jobId) => void monitor.open(jobId), trans),
  });
  app.commands.addCommand(CommandIDs.openInventory, {
    label: trans.__('Cellpipe GPUs and MIG Slices'),
    caption: trans.__('Who holds each GPU and MIG slice, and which tasks wait for one'),
    icon: cellpipeIcon,
    execute: () => monitor.openTab(RESOURCES_TAB),
  });
  palette?.addItem({ command: CommandIDs.openInventory, category: 'Cellpipe' });
}

export const inventoryPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:inventory`,
  description: 'The "Resources" tab of the job monitor: who holds each GPU/MIG slice and who waits for one, live.',
  autoStart: true,
  requires: [ICellpipeJobs, ICellpipeMonitor],
  optional: [ICommandPalette, ITranslator],
  activate: activateInventory,
};
