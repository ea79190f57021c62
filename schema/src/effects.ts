/**
 * What a top-to-bottom run shares that a pipeline's tasks do not: each task runs in its own process
 * (on Kubernetes, its own pod), so files one task writes, packages it installs, environment
 * variables it sets and the directory it changes to do not reach later tasks. The analysis sees
 * some of these; each one it sees gets a warning naming the task and the cell.
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
  const written = new Map<string, { task: string; cell: number }>();
  tasks.forEach((t, i) => {
    const later = i < tasks.length - 1;
    const warned = new Set<string>();
    for (const cell of t.cells) {
      const a = analysis(cell);
      if (later)
        for (const e of a.effects)
          report(cell, 'warning', `'${e.text}' in task '${t.name}' ${EFFECTS[e.kind]}`, t.name, e.at);
      for (const p of a.paths) {
        const w = written.get(p.path);
        if (!w || w.task === t.name || warned.has(p.path)) continue;
        warned.add(p.path);
        report(
          cell,
          'warning',
          `task '${t.name}' uses '${p.path}', which task '${w.task}' writes (cell ${w.cell + 1}): files do not pass between tasks, each runs in its own process and directory; in '${w.task}' write it under $CELLPIPE_OUTPUT_DIR, and read it in '${t.name}' from $CELLPIPE_INPUT_DIR/${w.task}/files with after:${w.task}, or pass the data as a variable`,
          t.name,
          p.at,
        );
      }
    }
    for (const cell of t.cells)
      for (const p of analysis(cell).paths)
        if (p.written && !written.has(p.path)) written.set(p.path, { task: t.name, cell });
  });
}
