/** Node-only helpers (file access); the main entry stays browser-safe for the JupyterLab extension. */
import type { CompileResult } from './diagnostics.js';

export interface LoadedPipeline extends CompileResult {
  /** Every source file the pipeline names, by its path relative to the pipeline's directory, as text. */
  files: Record<string, string>;
}

/** Loads a `.ipynb`, `.py`, `.yaml` or `.yml` pipeline; problems come back as diagnostics, not exceptions. */
export async function loadPipelineFile(path: string): Promise<LoadedPipeline> {
  return { diagnostics: [{ severity: 'error', message: 'loader not implemented yet', file: path }], files: {} };
}
