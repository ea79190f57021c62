/**
 * What a top-to-bottom run shares that a pipeline's tasks do not: each task runs in its own process
 * (on Kubernetes, its own pod), so packages it installs, environment variables it sets and the
 * directory it changes to do not reach later tasks. The analysis sees some of these; each one it
 * sees gets a warning naming the task and the cell. (Files are shared: the tasks of a job work in
 * one folder, and the compiler orders the tasks that use one file, see fileDependencies.)
 */
import type { CellAnalysis } from './python/analyze.js';
import type { FlowReport, FlowTask } from './flow.js';

const EFFECTS = {
  install:
    'installs packages in its own environment only: later tasks run without them; install them in a setup cell (setup cells run in every task) or in the image',
  env: 'sets the variable in its own process only: later tasks do not see it; use an env: tag or a setup cell',
  cwd: 'changes its own working directory only: later tasks start in theirs; use paths, or a setup cell',
} as const;

export function processWarnings(
  tasks: readonly FlowTask[],
  analysis: (cell: number) => CellAnalysis,
  report: FlowReport,
): void {
  tasks.forEach((t, i) => {
    if (i === tasks.length - 1) return;
    for (const cell of t.cells)
      for (const e of analysis(cell).effects)
        report(cell, 'warning', `'${e.text}' in task '${t.name}' ${EFFECTS[e.kind]}`, t.name, e.at);
  });
}
