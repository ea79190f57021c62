/** `cellpipe compile` and `cellpipe validate`: no server involved. */
import { formatDiagnostic, hasErrors, pipelineToYaml, sortDiagnostics } from '@cellpipe/schema';
import { loadPipelineFile, type LoadPipelineOptions } from '@cellpipe/schema/node';
import { err, out } from './output.js';
import { CliError } from './errors.js';

export interface CompileFlags {
  /** --split-at-headings: true without a level. */
  splitAtHeadings?: number | boolean;
}

/** How the CLI flags ask for a file to be loaded. */
export function loadOptions(flags: CompileFlags): LoadPipelineOptions {
  const split = flags.splitAtHeadings;
  if (split === undefined || split === false) return {};
  return { splitAtHeadings: typeof split === 'number' ? { maxLevel: split } : {} };
}

export async function compileCommand(file: string, opts: CompileFlags & { output: string }): Promise<number> {
  if (opts.output !== 'yaml' && opts.output !== 'json')
    throw new CliError(`--output must be yaml or json, not "${opts.output}"`, 2);
  const loaded = await loadPipelineFile(file, loadOptions(opts));
  const diagnostics = sortDiagnostics([...loaded.diagnostics]);
  for (const d of diagnostics) err(formatDiagnostic(d));
  if (hasErrors(diagnostics) || !loaded.pipeline) return 2;
  process.stdout.write(
    opts.output === 'json' ? `${JSON.stringify(loaded.pipeline, null, 2)}\n` : pipelineToYaml(loaded.pipeline),
  );
  return 0;
}

export async function validateCommand(file: string, opts: CompileFlags = {}): Promise<number> {
  const loaded = await loadPipelineFile(file, loadOptions(opts));
  const diagnostics = sortDiagnostics([...loaded.diagnostics]);
  for (const d of diagnostics) {
    if (d.severity === 'error') out(formatDiagnostic(d));
    else err(formatDiagnostic(d));
  }
  if (hasErrors(diagnostics)) return 2;
  out('ok');
  return 0;
}
