/**
 * Diagnostics: what the compiler, the YAML loader and the file loader report. Every diagnostic a user
 * can act on names where the problem is: the file, the 1-based cell position and task for notebooks,
 * the line and column for YAML, and the field path for schema errors.
 */
import type { Pipeline } from './spec.js';

/** `info`: something the user should know that needs no action (sections the split joined). */
export type Severity = 'error' | 'warning' | 'info';

/** A value that cannot pass between tasks and would: the compiler's finding, for tools that act on it. */
export interface UnpassableFlow {
  /** The variable. */
  name: string;
  /** What it is, as a phrase: "a generator (made by calling countdown())". */
  what: string;
  /** The task that makes it. */
  from: string;
  /** The later task that reads it. */
  to: string;
}

export interface Diagnostic {
  severity: Severity;
  message: string;
  /** Field path inside the document (nbformat JSON or pipeline YAML). */
  path?: (string | number)[];
  file?: string;
  /** 1-based line; inside the cell's source when `cell` is set, else inside the file. */
  line?: number;
  /** 1-based column. */
  column?: number;
  /** 1-based cell position in the notebook. */
  cell?: number;
  task?: string;
  /** Set on the error for a value that cannot pass between tasks (the automatic split joins those tasks). */
  unpassable?: UnpassableFlow;
}

export interface CompileResult {
  /** Absent when any diagnostic is an error. */
  pipeline?: Pipeline;
  diagnostics: Diagnostic[];
}

/** `spec.tasks[0].resources.gpu` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * One line a person can read:
 *   `examples/x.ipynb: cell 7, task 'train': unknown after: target 'prep'`
 *   `pipeline.yaml:12:9: spec.tasks[0].resources.gpu: expected an integer`
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where: string[] = [];
  let head = d.file ?? '';
  if (d.cell !== undefined) {
    let cell = `cell ${d.cell}`;
    if (d.line !== undefined) cell += `, line ${d.line}` + (d.column !== undefined ? `, column ${d.column}` : '');
    where.push(cell);
  } else if (d.line !== undefined) {
    head += `:${d.line}` + (d.column !== undefined ? `:${d.column}` : '');
  }
  if (d.task !== undefined) where.push(`task '${d.task}'`);
  const parts: string[] = [];
  if (head) parts.push(head);
  if (where.length) parts.push(where.join(', '));
  if (d.path && d.path.length && d.cell === undefined) parts.push(formatPath(d.path));
  parts.push((d.severity === 'warning' ? 'warning: ' : d.severity === 'info' ? 'note: ' : '') + d.message);
  return parts.join(': ');
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Errors first, then warnings, then notes, each by cell / line, so a listing reads top to bottom. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  const rank = (d: Diagnostic) => (d.severity === 'error' ? 0 : d.severity === 'warning' ? 1 : 2);
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort(
      (a, b) =>
        rank(a.d) - rank(b.d) || (a.d.cell ?? 0) - (b.d.cell ?? 0) || (a.d.line ?? 0) - (b.d.line ?? 0) || a.i - b.i,
    )
    .map((x) => x.d);
}

// The wire schema in api.ts must describe exactly this interface; this fails to compile if they drift.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const diagnosticWireMatches: Same<Diagnostic, import('./api.js').DiagnosticWire> = true;
void diagnosticWireMatches;
