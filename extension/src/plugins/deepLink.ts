/**
 * Links into JupyterLab: `<lab>/lab?cellpipe-job=<id>` (what notifications link to; under JupyterHub
 * through the Hub's user-redirect) opens the monitor on that job. The parameter is then taken out of
 * the address, so a reload does not open it again.
 */
import { IRouter, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { JOB_LINK_PARAM, jobOfLink } from '../jobLink.js';
import { CommandIDs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';

function activateDeepLink(app: JupyterFrontEnd, router: IRouter, monitor: ICellpipeMonitor): void {
  app.commands.addCommand(CommandIDs.openJobLink, {
    label: 'Open a Cellpipe job link',
    execute: async (args) => {
      const location = args as unknown as IRouter.ILocation;
      const id = jobOfLink(location.search);
      if (!id) return;
      const url = new URL(location.request, window.location.origin);
      url.searchParams.delete(JOB_LINK_PARAM);
      router.navigate(`${url.pathname}${url.search}${url.hash}`, { skipRouting: true });
      await monitor.open(id);
    },
  });
  router.register({ command: CommandIDs.openJobLink, pattern: new RegExp(`[?&]${JOB_LINK_PARAM}=`), rank: 50 });
}

export const deepLinkPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:deep-link`,
  description: 'Opens the Cellpipe monitor on the job a `?cellpipe-job=<id>` link names.',
  autoStart: true,
  requires: [IRouter, ICellpipeMonitor],
  activate: activateDeepLink,
};
