import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';
import type { JobSummary } from '@cellpipe/schema';
import { ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:notifications`;
/** Long enough to read and reach "Open"; a failure stays until dismissed. */
const AUTO_CLOSE_MS = 10_000;

function activateNotifications(
  _app: JupyterFrontEnd,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  settingRegistry: ISettingRegistry | null,
  translator: ITranslator | null,
): void {
  const trans = cellpipeTrans(translator);
  let enabled = true;
  if (settingRegistry) {
    void settingRegistry
      .load(PLUGIN_ID)
      .then((settings) => {
        const apply = (): void => void (enabled = settings.get('notifyOnJobEnd').composite !== false);
        apply();
        settings.changed.connect(apply);
      })
      .catch((reason: unknown) => console.error(`${PLUGIN_ID}: cannot load settings`, reason));
  }
  jobs.jobEnded.connect((_, job: JobSummary) => {
    // Only the user's own jobs: an admin's page sees everyone's.
    if (!enabled || (jobs.me && job.owner !== jobs.me.user)) return;
    const options = {
      actions: [
        {
          label: trans.__('Open'),
          caption: trans.__('Show the job in the monitor'),
          callback: () => void monitor.open(job.id),
        },
      ],
    };
    if (job.state === 'succeeded') {
      Notification.success(trans.__('Cellpipe job %1 (%2) succeeded', job.name, job.id), {
        ...options,
        autoClose: AUTO_CLOSE_MS,
      });
    } else if (job.state === 'failed') {
      Notification.error(trans.__('Cellpipe job %1 (%2) failed: %3', job.name, job.id, job.error ?? ''), {
        ...options,
        autoClose: false,
      });
    } else {
      Notification.warning(trans.__('Cellpipe job %1 (%2) was cancelled', job.name, job.id), {
        ...options,
        autoClose: AUTO_CLOSE_MS,
      });
    }
  });
}

export const notificationsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: "A JupyterLab notification when one of the user's Cellpipe jobs ends, with Open.",
  autoStart: true,
  requires: [ICellpipeJobs, ICellpipeMonitor],
  optional: [ISettingRegistry, ITranslator],
  activate: activateNotifications,
};
