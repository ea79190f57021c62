import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { PLUGIN_PREFIX } from '../tokens.js';
import { trackBadges } from '../widgets/badges.js';

function activateBadges(_app: JupyterFrontEnd, tracker: INotebookTracker): void {
  trackBadges(tracker);
}

export const badgesPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:badges`,
  description: 'Badges with the task name and GPU/MIG request on Cellpipe task cells.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: activateBadges,
};
