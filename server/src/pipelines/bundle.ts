/**
 * The frozen bundle of a pipeline: its compiled spec and the text of every file it runs, by the
 * path the spec names it. Notebooks are kept without outputs and execution counts, which never change
 * what a task runs, so re-saving a notebook that was only executed again is not a new version. The
 * hash is sha256 over the bundle's canonical JSON (keys sorted).
 */
import { createHash } from 'node:crypto';
import type { Bundle, Pipeline, SubmitJobRequest } from '@cellpipe/schema';

/** JSON with object keys sorted at every level: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

/** A notebook's text without outputs and execution counts; any other file (or unparsable text) as is. */
export function normalizeFile(path: string, text: string): string {
  if (!path.toLowerCase().endsWith('.ipynb')) return text;
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch {
    return text;
  }
  if (!nb || typeof nb !== 'object' || !Array.isArray((nb as { cells?: unknown }).cells)) return text;
  const cells = (nb as { cells: unknown[] }).cells.map((c) => {
    if (!c || typeof c !== 'object' || (c as { cell_type?: unknown }).cell_type !== 'code') return c;
    return { ...(c as object), outputs: [], execution_count: null };
  });
  return JSON.stringify({ ...(nb as object), cells }, null, 1) + '\n';
}

export function bundleHash(bundle: Bundle): string {
  return createHash('sha256').update(canonicalJson(bundle)).digest('hex');
}

/** Normalized copy: only the files the spec names, notebooks without outputs. */
export function normalizeBundle(pipeline: Pipeline, files: Record<string, string>): Bundle {
  const named = new Set<string>();
  if (pipeline.spec.source) named.add(pipeline.spec.source.notebook);
  for (const t of pipeline.spec.tasks) if (t.source.kind !== 'cells') named.add(t.source.path);
  const out: Record<string, string> = {};
  for (const path of [...named].sort()) {
    const text = files[path];
    if (text !== undefined) out[path] = normalizeFile(path, text);
  }
  return { pipeline, files: out };
}

/**
 * The bundle a submit or save request runs, given the pipeline it compiled to: a notebook request
 * contributes the notebook under the name the spec gives it.
 */
export function bundleOfRequest(pipeline: Pipeline, request: Pick<SubmitJobRequest, 'notebook' | 'files'>): Bundle {
  if (request.notebook) {
    const key = pipeline.spec.source?.notebook ?? request.notebook.path;
    return normalizeBundle(pipeline, { [key]: JSON.stringify(request.notebook.content) });
  }
  return normalizeBundle(pipeline, request.files ?? {});
}
