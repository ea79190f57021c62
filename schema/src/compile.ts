/**
 * Notebook → Pipeline compiler: tags and `metadata.cellpipe` give the tasks, variable flow gives
 * the dependencies. Browser-safe (the JupyterLab extension runs it live to draw the DAG).
 */
import type { CompileResult } from './diagnostics.js';

export interface CompileOptions {
  /** The notebook's path as the user knows it: used in messages and as `spec.source.notebook` (basename). */
  path: string;
}

export function compileNotebook(content: unknown, opts: CompileOptions): CompileResult {
  void content;
  return { diagnostics: [{ severity: 'error', message: 'compiler not implemented yet', file: opts.path }] };
}
