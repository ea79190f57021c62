/** A job's notifications (each target, each delivery attempt) as a section of its view in the monitor. */
import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { NotificationsClient } from '../api/notifications.js';
import { jobDeliveriesSection } from '../notifications/JobDeliveries.js';
import { ICellpipeAPI, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';

export const deliveriesPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:deliveries`,
  description: "A job's notifications and their delivery attempts in the job's view.",
  autoStart: true,
  requires: [ICellpipeAPI, ICellpipeMonitor],
  activate: (_app, api: ICellpipeAPI, monitor: ICellpipeMonitor): void => {
    monitor.addJobSection({
      id: 'notifications',
      rank: 200,
      component: jobDeliveriesSection(new NotificationsClient(api.client)),
    });
  },
};
