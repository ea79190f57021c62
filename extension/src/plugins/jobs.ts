import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { JobsModel } from '../jobs/model.js';
import { ICellpipeAPI, ICellpipeJobs, PLUGIN_PREFIX } from '../tokens.js';

function activateJobs(_app: JupyterFrontEnd, api: ICellpipeAPI): ICellpipeJobs {
  const model = new JobsModel(api);
  model.start();
  return model;
}

export const jobsPlugin: JupyterFrontEndPlugin<ICellpipeJobs> = {
  id: `${PLUGIN_PREFIX}:jobs`,
  description: 'Live Cellpipe job list, kept current from the server-sent event stream.',
  autoStart: true,
  requires: [ICellpipeAPI],
  provides: ICellpipeJobs,
  activate: activateJobs,
};
