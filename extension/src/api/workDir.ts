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
