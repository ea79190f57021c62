/**
 * The code one task executes: the setup cells (setup-tagged cells, cells before the first task and
 * the parameters cell, in notebook order) and the task's own cells. The runner executes exactly this.
 */
import type { Pipeline, Task } from './spec.js';
import { cellSource, notebookJson, parseNotebook, type NotebookCell } from './notebook.js';
import { RUNNER_CELL_TAGS } from './runner-contract.js';

export interface CellCode {
  /** 0-based cell index in the notebook the code comes from. */
  index: number;
  source: string;
  /** The cell's tags the runner honours (RUNNER_CELL_TAGS), when it has any. */
  tags?: string[];
}

/** A code cell's code as the runner gets it: `raises-exception` kept, as nbclient honours it. */
function cellCode(cell: NotebookCell, index: number): CellCode {
  const tags = cell.metadata['tags'];
  const kept = Array.isArray(tags) ? RUNNER_CELL_TAGS.filter((t) => tags.includes(t)) : [];
  return kept.length ? { index, source: cellSource(cell), tags: kept } : { index, source: cellSource(cell) };
}

export interface TaskCode {
  setup: CellCode[];
  cells: CellCode[];
  /** 0-based index of the parameters cell, after which per-run overrides are injected. */
  parametersCell?: number;
}

/**
 * Reads the code of the tasks of one pipeline. Each notebook is parsed once and tasks are found by
 * name in a map, so freezing a pipeline of thousands of cell tasks stays linear in its size.
 */
export class TaskCodeReader {
  private readonly tasks = new Map<string, Task>();
  /** Parsed cells by notebook content (the same string or object for every cell task). */
  private readonly notebooks = new Map<unknown, NotebookCell[]>();

  constructor(private readonly pipeline: Pipeline) {
    for (const t of pipeline.spec.tasks) if (!this.tasks.has(t.name)) this.tasks.set(t.name, t);
  }

  /**
   * `notebookContent` is the pipeline notebook for cell tasks, the task's own notebook for
   * `source.kind: notebook` tasks, and the script text for `source.kind: script` tasks.
   * Throws when the task does not exist or the content does not fit it: the caller passes
   * data it has already compiled, so a mismatch is a programming error, not user input.
   */
  code(notebookContent: unknown, taskName: string): TaskCode {
    const task = this.tasks.get(taskName);
    if (!task) throw new Error(`pipeline '${this.pipeline.metadata.name}' has no task '${taskName}'`);
    if (task.source.kind === 'script') {
      if (typeof notebookContent !== 'string') throw new Error(`task '${taskName}' is a script: pass its text`);
      return { setup: [], cells: [{ index: 0, source: notebookContent }] };
    }
    const cells = this.cells(notebookContent);
    const code = (index: number): CellCode => {
      const cell = cells[index];
      if (!cell || cell.cell_type !== 'code') throw new Error(`cell ${index + 1} is not a code cell of the notebook`);
      return cellCode(cell, index);
    };
    if (task.source.kind === 'notebook') {
      // A whole notebook runs top to bottom; `skip` is honoured as it is for cell tasks.
      // Its own parameters cell must run before the overrides, or it would overwrite them.
      const all: CellCode[] = [];
      let parametersCell: number | undefined;
      cells.forEach((cell, index) => {
        const tags = cell.metadata['tags'];
        const tagged = (tag: string) => Array.isArray(tags) && tags.includes(tag);
        if (cell.cell_type !== 'code' || tagged('skip')) return;
        all.push(cellCode(cell, index));
        if (parametersCell === undefined && (tagged('parameters') || isParametersByMetadata(cell.metadata))) {
          parametersCell = index;
        }
      });
      return parametersCell === undefined ? { setup: [], cells: all } : { setup: [], cells: all, parametersCell };
    }
    return { setup: this.pipeline.spec.setupCells.map(code), cells: task.cells.map(code) };
  }

  private cells(content: unknown): NotebookCell[] {
    let cells = this.notebooks.get(content);
    if (!cells) {
      const json = notebookJson(content);
      if ('error' in json) throw new Error(json.error);
      const parsed = parseNotebook(json.value);
      if (!parsed.success) throw new Error(`not an nbformat notebook: ${parsed.error.issues[0]?.message ?? ''}`);
      cells = parsed.data.cells;
      this.notebooks.set(content, cells);
    }
    return cells;
  }
}

/** The code of one task (see TaskCodeReader.code); for many tasks of one pipeline, use a TaskCodeReader. */
export function taskCode(notebookContent: unknown, pipeline: Pipeline, taskName: string): TaskCode {
  return new TaskCodeReader(pipeline).code(notebookContent, taskName);
}

function isParametersByMetadata(metadata: Record<string, unknown>): boolean {
  const cellpipe = metadata['cellpipe'];
  return (
    typeof cellpipe === 'object' && cellpipe !== null && (cellpipe as Record<string, unknown>)['parameters'] === true
  );
}
