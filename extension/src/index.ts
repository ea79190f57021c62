/** Cellpipe for JupyterLab: one plugin per concern. */
import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { apiPlugin } from './plugins/api.js';
import { badgesPlugin } from './plugins/badges.js';
import { deepLinkPlugin } from './plugins/deepLink.js';
import { deliveriesPlugin } from './plugins/deliveries.js';
import { fileBrowserPlugin } from './plugins/fileBrowser.js';
import { inventoryPlugin } from './plugins/inventory.js';
import { jobsPlugin } from './plugins/jobs.js';
import { monitorPlugin } from './plugins/monitor.js';
import { notificationsPlugin } from './plugins/notifications.js';
import { pipelinePlugin } from './plugins/pipeline.js';
import { resultsPlugin } from './plugins/results.js';
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
  resultsPlugin,
  deliveriesPlugin,
  deepLinkPlugin,
  taskEditorPlugin,
  badgesPlugin,
  statusBarPlugin,
  fileBrowserPlugin,
];

export default plugins;
