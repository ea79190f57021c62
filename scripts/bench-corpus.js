// The notebook corpus as a benchmark: how many notebooks that run top to bottom also run as
// pipelines (split at their headings), how many code cells give the same outputs, and the time a
// pipeline takes against the top-to-bottom run of the same notebook (the baseline, same run).
//
//   node scripts/bench-corpus.js          prints the JSON on its own (scripts/corpus.js has the details)
import { fileURLToPath } from 'node:url';
import { runCorpus } from './corpus.js';

const round = (x, n = 3) => (x === null || x === undefined ? x : Math.round(x * 10 ** n) / 10 ** n);

export async function benchCorpus() {
  // Fresh top-to-bottom runs: the time ratio needs its baseline measured in this run.
  const report = await runCorpus({ fresh: true });
  const timed = report.results.filter((r) => r.pipeline && r.topToBottomSeconds);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  return {
    seconds: report.seconds,
    jobs: report.jobs,
    environment: { python: report.python, numpy: report.numpy, pandas: report.pandas },
    notebooks: report.notebooks,
    runTopToBottom: report.runTopToBottom,
    ranAsPipeline: report.ranAsPipeline,
    pipelineRate: round(report.pipelineRate),
    sameResults: report.sameResults,
    cells: report.cells,
    cellMatchRate: round(report.cellMatchRate),
    // Wall time of all pipelines over all top-to-bottom runs of the same notebooks.
    pipelineTimeRatio: timed.length
      ? round(sum(timed.map((r) => r.pipelineSeconds)) / sum(timed.map((r) => r.topToBottomSeconds)), 2)
      : null,
    perNotebook: report.results.map((r) => ({
      id: r.id,
      topToBottom: r.topToBottom,
      pipeline: r.pipeline ?? null,
      tasks: r.tasks ?? null,
      cells: r.cells ?? null,
      first: r.firstDifference ?? r.topToBottomError ?? null,
    })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchCorpus(), null, 2));
}
