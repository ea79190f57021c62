/** Cellpipe for JupyterLab: one plugin per concern. */
import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { apiPlugin } from './plugins/api.js';
import { badgesPlugin } from './plugins/badges.js';
import { fileBrowserPlugin } from './plugins/fileBrowser.js';
import { inventoryPlugin } from './plugins/inventory.js';
import { jobsPlugin } from './plugins/jobs.js';
import { monitorPlugin } from './plugins/monitor.js';
import { notificationsPlugin } from './plugins/notifications.js';
import { pipelinePlugin } from './plugins/pipeline.js';
import { schedulesPlugin } from './plugins/schedules.js';
import { statusBarPlugin } from './plugins/statusBar.js';
import { taskEditorPlugin } from './plugins/taskEditor.js';

export * from './tokens.js';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  apiPlugin,
  jobsPlugin,
  monitorPlugin,
  inventoryPlugin,
  notificationsPlugin,
  pipelinePlugin,
  schedulesPlugin,
  taskEditorPlugin,
  badgesPlugin,
  statusBarPlugin,
  fileBrowserPlugin,
];

export default plugins;
