/**
 * Pipeline YAML read/write. Validation errors carry the field path and the line/column of the YAML
 * node the path points at (the key for unknown keys, the nearest existing parent for missing ones).
 */
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { z } from 'zod';
import { PipelineSchema, type Pipeline } from './spec.js';
import { hasErrors, type CompileResult, type Diagnostic } from './diagnostics.js';
import { checkPipeline } from './validate.js';
import { setOwn } from './own.js';

export interface ParseYamlOptions {
  /** Shown in diagnostics. */
  file?: string;
}

export interface YamlLocator {
  /** 1-based line and column of the node at `path`, or of its nearest existing ancestor. */
  locate(path: readonly (string | number | symbol)[], key?: boolean): { line: number; column: number } | undefined;
}

export interface ParsedPipelineYaml extends CompileResult {
  locator: YamlLocator;
  /** The schema-valid pipeline even when later checks failed, so callers can report more problems at once. */
  candidate?: Pipeline;
}

function makeLocator(doc: Document, lc: LineCounter): YamlLocator {
  return {
    locate(path, key = false) {
      let node: unknown = doc.contents;
      let keyNode: unknown;
      for (const seg of path) {
        if (isMap(node)) {
          const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
          if (!pair) break;
          keyNode = pair.key;
          node = pair.value ?? pair.key;
        } else if (isSeq(node) && typeof seg === 'number') {
          const item = node.items[seg];
          if (item === undefined) break;
          keyNode = undefined;
          node = item;
        } else break;
      }
      const target = (key && keyNode ? keyNode : node) as Node | null | undefined;
      const offset = target?.range?.[0];
      if (offset === undefined) return undefined;
      const pos = lc.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}

/** The name of the task a path points into, when the document gives it one. */
function taskAt(value: unknown, path: readonly (string | number)[]): { task: string } | Record<string, never> {
  if (path[0] !== 'spec' || path[1] !== 'tasks' || typeof path[2] !== 'number') return {};
  const spec = value && typeof value === 'object' ? (value as Record<string, unknown>)['spec'] : undefined;
  const tasks = spec && typeof spec === 'object' ? (spec as Record<string, unknown>)['tasks'] : undefined;
  const t = Array.isArray(tasks) ? (tasks[path[2]] as unknown) : undefined;
  const name = t && typeof t === 'object' ? (t as Record<string, unknown>)['name'] : undefined;
  return typeof name === 'string' && name ? { task: name } : {};
}

function issueDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  locator: YamlLocator,
  file: string | undefined,
  value: unknown,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const task = taskAt(value, path);
    if (issue.code === 'unrecognized_keys') {
      // Point at each unknown key itself: that is the line the user has to change.
      for (const k of issue.keys) {
        out.push({
          severity: 'error',
          message: `unknown field '${k}'`,
          path: [...path, k],
          file,
          ...task,
          ...locator.locate([...path, k], true),
        });
      }
      continue;
    }
    out.push({ severity: 'error', message: issue.message, path, file, ...task, ...locator.locate(path) });
  }
  return out;
}

/** Full parse with the locator, for callers (the file loader) that report further problems by position. */
export function parsePipelineYamlDocument(text: string, opts: ParseYamlOptions = {}): ParsedPipelineYaml {
  const file = opts.file;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const locator = makeLocator(doc, lc);
  const diagnostics: Diagnostic[] = [];
  for (const err of [...doc.errors, ...doc.warnings]) {
    const pos = lc.linePos(err.pos[0]);
    diagnostics.push({
      severity: doc.errors.includes(err) ? 'error' : 'warning',
      message: err.message.split('\n')[0] ?? err.message,
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  if (hasErrors(diagnostics)) return { diagnostics, locator };
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) {
    return {
      diagnostics: [...diagnostics, { severity: 'error', message: 'the file is empty', file, line: 1, column: 1 }],
      locator,
    };
  }
  const parsed = PipelineSchema.safeParse(value);
  if (!parsed.success) {
    return { diagnostics: [...diagnostics, ...issueDiagnostics(parsed.error.issues, locator, file, value)], locator };
  }
  for (const issue of checkPipeline(parsed.data)) {
    diagnostics.push({
      severity: 'error',
      message: issue.message,
      path: issue.path,
      file,
      task: issue.task,
      ...locator.locate(issue.path),
    });
  }
  return hasErrors(diagnostics)
    ? { diagnostics, locator, candidate: parsed.data }
    : { pipeline: parsed.data, diagnostics, locator, candidate: parsed.data };
}

export function parsePipelineYaml(text: string, opts: ParseYamlOptions = {}): CompileResult {
  const { pipeline, diagnostics } = parsePipelineYamlDocument(text, opts);
  return pipeline ? { pipeline, diagnostics } : { diagnostics };
}

/** Drops values that equal the schema defaults so the YAML shows only what was chosen. */
function compact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(compact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      // A parameter's default is user data: keep it exactly, empty or not.
      if (k === 'default') {
        setOwn(out, k, v);
        continue;
      }
      const c = compact(v);
      if (Array.isArray(c) && c.length === 0) continue;
      if (c && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 0) continue;
      setOwn(out, k, c);
    }
    return out;
  }
  return value;
}

function dropTaskDefaults(p: Pipeline): unknown {
  return {
    ...p,
    spec: {
      ...p.spec,
      tasks: p.spec.tasks.map((t) => {
        const { source, ...rest } = t;
        return { ...rest, ...(source.kind === 'cells' ? {} : { source }) };
      }),
    },
  };
}

/** YAML text that `parsePipelineYaml` reads back to the same pipeline. Short lists of scalars stay on one line. */
export function pipelineToYaml(p: Pipeline): string {
  const doc = new Document(compact(dropTaskDefaults(p)));
  visit(doc, {
    Seq(_key, node) {
      if (node.items.length <= 12 && node.items.every((it) => isScalar(it))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}
