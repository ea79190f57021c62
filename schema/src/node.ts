/** Node-only helpers (file access); the main entry stays browser-safe for the JupyterLab extension. */
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, sep, isAbsolute } from 'node:path';
import { compileNotebook, pipelineNameFromPath } from './compile.js';
import { hasErrors, sortDiagnostics, type CompileResult, type Diagnostic } from './diagnostics.js';
import { API_VERSION, PipelineSchema } from './spec.js';
import { checkRelativePath, normalizeRelativePath } from './validate.js';
import { parsePipelineYamlDocument } from './yaml.js';
import { analyzePython } from './python/analyze.js';
import { NotebookSchema, notebookJson, parseNotebook } from './notebook.js';
import { splitAtHeadings, type SplitAtHeadingsOptions } from './headings.js';

export interface LoadPipelineOptions {
  /** Notebooks only: start a task at each markdown heading (see headings.ts). */
  splitAtHeadings?: SplitAtHeadingsOptions;
}

export interface LoadedPipeline extends CompileResult {
  /** Every source file the pipeline names, by its path relative to the pipeline's directory, as text. */
  files: Record<string, string>;
}

async function readText(path: string): Promise<{ text: string } | { error: string }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { error: `'${path}' is not a file` };
    return { text: await readFile(path, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? `file not found: ${path}` : `cannot read ${path}: ${(e as Error).message}` };
  }
}

/** A single script is a one-task pipeline running the whole file. */
function scriptPipeline(path: string, text: string): CompileResult {
  const file = basename(path);
  const diagnostics: Diagnostic[] = analyzePython(text).warnings.map((w) => ({
    severity: 'warning' as const,
    message: w.message,
    file: path,
    line: w.line,
    column: w.column,
  }));
  const name = pipelineNameFromPath(path);
  const parsed = PipelineSchema.safeParse({
    apiVersion: API_VERSION,
    kind: 'Pipeline',
    metadata: { name },
    spec: { tasks: [{ name, source: { kind: 'script', path: file } }] },
  });
  if (!parsed.success) {
    return { diagnostics: [{ severity: 'error', message: parsed.error.issues[0]?.message ?? 'invalid', file: path }] };
  }
  return { pipeline: parsed.data, diagnostics };
}

/**
 * A notebook compiled, split at its headings when asked (with the split's notes). Only metadata
 * changes, so the submitted file (the user's own text) has the same cells at the same indices.
 */
function compileNotebookText(text: string, path: string, options: LoadPipelineOptions): CompileResult {
  if (options.splitAtHeadings) {
    const json = notebookJson(text);
    const nb = 'error' in json ? undefined : parseNotebook(json.value);
    // A broken notebook goes to the compiler as it is, which reports it.
    if (nb?.success) {
      const { compiled, notes } = splitAtHeadings(nb.data, { ...options.splitAtHeadings, path });
      return { ...compiled, diagnostics: sortDiagnostics([...compiled.diagnostics, ...notes]) };
    }
  }
  return compileNotebook(text, { path });
}

/**
 * Loads a `.ipynb`, `.py`, `.yaml` or `.yml` pipeline. Problems come back as diagnostics, not
 * exceptions. For YAML, every path the pipeline names must stay inside the YAML's directory (also
 * after following symlinks) and exist; their texts come back in `files`.
 */
export async function loadPipelineFile(path: string, options: LoadPipelineOptions = {}): Promise<LoadedPipeline> {
  const ext = extname(path).toLowerCase();
  const read = await readText(path);
  if ('error' in read) return { diagnostics: [{ severity: 'error', message: read.error, file: path }], files: {} };
  const key = basename(path);
  if (ext === '.ipynb') {
    const { pipeline, diagnostics } = compileNotebookText(read.text, path, options);
    return pipeline ? { pipeline, diagnostics, files: { [key]: read.text } } : { diagnostics, files: {} };
  }
  if (ext === '.py') {
    const { pipeline, diagnostics } = scriptPipeline(path, read.text);
    return pipeline ? { pipeline, diagnostics, files: { [key]: read.text } } : { diagnostics, files: {} };
  }
  if (ext !== '.yaml' && ext !== '.yml') {
    return {
      diagnostics: [
        {
          severity: 'error',
          message: `unsupported pipeline file '${key}': use .ipynb, .py, .yaml or .yml`,
          file: path,
        },
      ],
      files: {},
    };
  }
  const parsed = parsePipelineYamlDocument(read.text, { file: path });
  const diagnostics = [...parsed.diagnostics];
  if (!parsed.candidate) return { diagnostics, files: {} };
  const pipeline = parsed.candidate;
  // Path problems were reported by the YAML checks already; look for the files behind the others.
  const reported = new Set(diagnostics.map((d) => JSON.stringify(d.path ?? [])));
  const dir = dirname(path);
  const root = await realpath(dir);
  const files: Record<string, string> = {};
  const texts = new Map<string, string>();

  const refs: { rel: string; at: (string | number)[]; task?: string; notebook: boolean }[] = [];
  if (pipeline.spec.source)
    refs.push({ rel: pipeline.spec.source.notebook, at: ['spec', 'source', 'notebook'], notebook: true });
  pipeline.spec.tasks.forEach((t, i) => {
    if (t.source.kind !== 'cells') {
      refs.push({
        rel: t.source.path,
        at: ['spec', 'tasks', i, 'source', 'path'],
        task: t.name,
        notebook: t.source.kind === 'notebook',
      });
    }
  });
  for (const ref of refs) {
    const where = {
      file: path,
      path: ref.at,
      ...(ref.task ? { task: ref.task } : {}),
      ...parsed.locator.locate(ref.at),
    };
    const bad = checkRelativePath(ref.rel);
    if (bad) {
      if (!reported.has(JSON.stringify(ref.at))) diagnostics.push({ severity: 'error', message: bad, ...where });
      continue;
    }
    const rel = normalizeRelativePath(ref.rel);
    const cached = texts.get(rel);
    if (cached !== undefined) {
      files[ref.rel] = cached;
      continue;
    }
    const abs = join(dir, rel);
    const text = await readText(abs);
    if ('error' in text) {
      diagnostics.push({ severity: 'error', message: `${ref.rel}: file not found next to the pipeline`, ...where });
      continue;
    }
    // A symlink inside the directory may still point outside it.
    const inside = relative(root, await realpath(abs));
    if (inside === '..' || inside.startsWith('..' + sep) || isAbsolute(inside)) {
      diagnostics.push({ severity: 'error', message: `${ref.rel} leads outside the pipeline's directory`, ...where });
      continue;
    }
    if (ref.notebook) {
      const json = notebookJson(text.text);
      const nb = 'error' in json ? undefined : NotebookSchema.safeParse(json.value);
      const bad = 'error' in json ? json.error : nb?.error?.issues[0];
      if (bad) {
        const why = typeof bad === 'string' ? bad : `not an nbformat notebook: ${bad.path.join('.')}: ${bad.message}`;
        diagnostics.push({ severity: 'error', message: `${ref.rel}: ${why}`, ...where });
        continue;
      }
      if (ref.at[1] === 'source' && nb?.success) {
        // Cell tasks name cells of this notebook by 0-based index: each must be a code cell.
        const cells = nb.data.cells;
        pipeline.spec.tasks.forEach((t, i) => {
          if (t.source.kind !== 'cells') return;
          t.cells.forEach((c, j) => {
            if (cells[c]?.cell_type === 'code') return;
            const at = ['spec', 'tasks', i, 'cells', j];
            const why = cells[c]
              ? `is a ${cells[c]!.cell_type} cell`
              : `does not exist (the notebook has ${cells.length} cells)`;
            diagnostics.push({
              severity: 'error',
              message: `cell index ${c} (cell ${c + 1}) of ${ref.rel} ${why}`,
              file: path,
              path: at,
              task: t.name,
              ...parsed.locator.locate(at),
            });
          });
        });
      }
    }
    texts.set(rel, text.text);
    // Keys are the paths exactly as the spec writes them, so the server finds them by lookup.
    files[ref.rel] = text.text;
  }
  const sortedDiags = sortDiagnostics(diagnostics);
  return hasErrors(sortedDiags)
    ? { diagnostics: sortedDiags, files: {} }
    : { pipeline, diagnostics: sortedDiags, files };
}
