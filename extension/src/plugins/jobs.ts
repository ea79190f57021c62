import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { showErrorMessage } from '@jupyterlab/apputils';
import { JobsModel } from '../jobs/model.js';
import { ICellpipeAPI, ICellpipeJobs, PLUGIN_PREFIX } from '../tokens.js';

function activateJobs(_app: JupyterFrontEnd, api: ICellpipeAPI): ICellpipeJobs {
  const model = new JobsModel(api);
  // A missing server extension is a set-up problem, not an outage: say so once, loudly.
  let told = false;
  model.changed.connect(() => {
    const c = model.connection;
    if (told || c.kind !== 'error' || !c.noApi) return;
    told = true;
    void showErrorMessage('Cellpipe server extension not found', c.message);
  });
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
