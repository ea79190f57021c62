import type { SubmitJobRequest } from '@cellpipe/schema';
import { PageConfig, PathExt } from '@jupyterlab/coreutils';

/**
 * The folder a notebook is in, as this JupyterLab's server sees it (its root directory and the
 * notebook's path): Jupyter runs a notebook's cells there, so a job asks to work there too. The
 * companion server uses it only when it sees that folder itself (both on one machine; the request
 * says `workDirUnseen: 'own'`); undefined when the root is not an absolute POSIX path.
 */
export function notebookFolder(path: string, serverRoot = PageConfig.getOption('serverRoot')): string | undefined {
  if (!serverRoot.startsWith('/')) return undefined;
  const root = serverRoot.length > 1 ? serverRoot.replace(/\/+$/, '') : serverRoot;
  const folder = PathExt.dirname(path);
  return folder ? `${root === '/' ? '' : root}/${folder}` : root;
}

/** The working-folder fields of a job submitted for the notebook or script at `path`. */
export function workDirFields(path: string): { workDir?: string; workDirUnseen?: 'own' } {
  const workDir = notebookFolder(path);
  return workDir ? { workDir, workDirUnseen: 'own' } : {};
}

/**
 * A request for the notebook at `nb.path` as it is now, working in its folder as a submission does: a
 * re-run with changes, and its plan, which compares it with the earlier job's tasks (the folder is
 * frozen with them, so leaving it out would make every task look changed).
 */
export function notebookRequest(nb: { path: string; content: Record<string, unknown> }): SubmitJobRequest {
  return { notebook: nb, ...workDirFields(nb.path) };
}
