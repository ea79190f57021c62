/** Notebooks for the tests: copies of the repo's examples, or small ones built here. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { NotebookPanel } from '@jupyterlab/notebook';

export interface NotebookJson {
  cells: CellJson[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

export interface CellJson {
  cell_type: string;
  source: string | string[];
  metadata: { tags?: string[]; [key: string]: unknown };
  [key: string]: unknown;
}

const examplesDir = fileURLToPath(new URL('../../../examples/', import.meta.url));

/** An example notebook from the repo's examples/ folder. */
export function exampleNotebook(name: string): NotebookJson {
  return JSON.parse(readFileSync(`${examplesDir}${name}`, 'utf8')) as NotebookJson;
}

/** Tags the Cellpipe Task form owns (`task:`, `after:`, `gpu:`... and the `setup`/`skip` flags). */
const FORM_TAG = /^(task|after|gpu|mig|cpu|memory|image|retries|timeout):|^(setup|skip)$/;

/** The notebook with every task tag removed (the `parameters` tag and other tools' tags stay). */
export function withoutTaskTags(nb: NotebookJson): NotebookJson {
  return {
    ...nb,
    cells: nb.cells.map((cell) => {
      const tags = (cell.metadata.tags ?? []).filter((t) => !FORM_TAG.test(t));
      const { tags: _dropped, ...rest } = cell.metadata;
      return { ...cell, metadata: tags.length ? { ...rest, tags } : rest };
    }),
  };
}

/** A Python notebook of code cells. */
export function codeNotebook(cells: { source: string; tags?: string[] }[]): NotebookJson {
  return {
    cells: cells.map((c) => ({
      cell_type: 'code',
      execution_count: null,
      metadata: c.tags ? { tags: c.tags } : {},
      outputs: [],
      source: c.source,
    })),
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** Saves a notebook on the Jupyter server and opens it. */
export async function openNotebook(page: IJupyterLabPageFixture, nb: NotebookJson, path: string): Promise<void> {
  if (!(await page.contents.uploadContent(JSON.stringify(nb), 'text', path))) {
    throw new Error(`could not upload ${path}`);
  }
  if (!(await page.notebook.openByPath(path))) throw new Error(`could not open ${path}`);
  await page.notebook.activate(path.split('/').pop() ?? path);
}

/** The tags of a cell of the notebook in the main area, read from the cell model. */
export async function cellTags(page: IJupyterLabPageFixture, index: number): Promise<string[]> {
  return page.evaluate((i) => {
    const panel = window.jupyterapp.shell.currentWidget as NotebookPanel | null;
    const cell = panel?.content?.widgets[i];
    if (!cell) throw new Error(`no cell ${i} in the current notebook`);
    const tags = cell.model.getMetadata('tags');
    return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
  }, index);
}

/**
 * Submits a notebook as a job through the Jupyter server's proxy (as the extension does), without the
 * UI: for tests that need jobs in the server, not the act of submitting them.
 */
export async function submitJob(
  page: IJupyterLabPageFixture,
  nb: NotebookJson,
  options: { path?: string; name?: string; parameters?: Record<string, unknown> } = {},
): Promise<{ id: string; name: string }> {
  const res = await page.request.post('/cellpipe/api/jobs', {
    data: {
      notebook: { path: options.path ?? 'submitted.ipynb', content: nb },
      ...(options.name ? { name: options.name } : {}),
      ...(options.parameters ? { parameters: options.parameters } : {}),
    },
  });
  if (res.status() !== 201) throw new Error(`submit failed: ${res.status()} ${await res.text()}`);
  return (await res.json()) as { id: string; name: string };
}
