/**
 * Task results in the monitor: a "Results" section in each job's view (each task's results, and
 * "Compare runs"), and a "Results" tab comparing the runs of one pipeline (a table and a small line
 * chart per numeric result).
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ITranslator } from '@jupyterlab/translation';
import { CatalogClient } from '../api/catalog.js';
import { ResultsClient } from '../api/results.js';
import { ResultsView } from '../results/CompareTab.js';
import { jobResultsSection } from '../results/JobResults.js';
import { ResultsModel } from '../results/model.js';
import { CommandIDs, ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor, PLUGIN_PREFIX } from '../tokens.js';
import { cellpipeTrans } from '../translation.js';

export const RESULTS_TAB = 'results';

function activateResults(
  app: JupyterFrontEnd,
  api: ICellpipeAPI,
  jobs: ICellpipeJobs,
  monitor: ICellpipeMonitor,
  translator: ITranslator | null,
): void {
  const trans = cellpipeTrans(translator);
  const model = new ResultsModel(new ResultsClient(api.client), new CatalogClient(api.client), jobs);
  monitor.addTab({
    id: RESULTS_TAB,
    label: trans.__('Results'),
    rank: 250,
    create: () => new ResultsView(model, trans, (id) => void monitor.open(id)),
  });
  app.commands.addCommand(CommandIDs.compareResults, {
    label: trans.__('Compare Results Across Runs'),
    caption: trans.__("Show the results of a pipeline's runs side by side"),
    execute: async (args) => {
      await monitor.openTab(RESULTS_TAB);
      const pipeline = typeof args['pipeline'] === 'string' ? args['pipeline'] : null;
      if (pipeline) await model.select(pipeline);
    },
  });
  monitor.addJobSection({
    id: 'results',
    rank: 100,
    component: jobResultsSection((pipeline) => void app.commands.execute(CommandIDs.compareResults, { pipeline })),
  });
}

export const resultsPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:results`,
  description: "Task results in a job's view, and a tab comparing them across a pipeline's runs.",
  autoStart: true,
  requires: [ICellpipeAPI, ICellpipeJobs, ICellpipeMonitor],
  optional: [ITranslator],
  activate: activateResults,
};
