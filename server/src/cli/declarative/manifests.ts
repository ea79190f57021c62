/**
 * Reads a directory of manifests (schema/src/manifests.ts): every `.yaml`/`.yml` file below it (hidden
 * files and folders left out), one object each. Problems come back as diagnostics naming the file and
 * field; nothing is sent anywhere.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import {
  checkRelativePath,
  NotebookPipelineManifestSchema,
  normalizeRelativePath,
  ScheduleManifestSchema,
  type CreateScheduleRequest,
  type Diagnostic,
  type Pipeline,
} from '@cellpipe/schema';
import { loadPipelineFile } from '@cellpipe/schema/node';
import { parseDocument } from 'yaml';
import type { z } from 'zod';

export interface DeclaredPipeline {
  name: string;
  /** The manifest it comes from, relative to the directory. */
  file: string;
  pipeline: Pipeline;
  files: Record<string, string>;
  labels: Record<string, string>;
}

export interface DeclaredSchedule {
  name: string;
  file: string;
  /** The schedule's spec, defaults filled in (without its name and labels). */
  spec: Omit<CreateScheduleRequest, 'name' | 'labels' | 'paused'>;
  paused: boolean;
  labels: Record<string, string>;
}

export interface Declared {
  pipelines: DeclaredPipeline[];
  schedules: DeclaredSchedule[];
  diagnostics: Diagnostic[];
}

async function yamlFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await yamlFiles(root, path)));
    else if (e.isFile() && /\.ya?ml$/i.test(e.name)) out.push(path);
  }
  return out;
}

function zodDiagnostics(error: z.ZodError, file: string): Diagnostic[] {
  return error.issues.map((i) => {
    const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
    return { severity: 'error', message: `${path.join('.') || '(top level)'}: ${i.message}`, path, file };
  });
}

/** A notebook the manifest names: inside the manifest's directory, also after following links. */
async function notebookNextTo(manifest: string, rel: string): Promise<{ path: string } | { error: string }> {
  const bad = checkRelativePath(rel);
  if (bad) return { error: bad.replace("the pipeline's directory", "the manifest's directory") };
  const dir = dirname(manifest);
  const path = join(dir, normalizeRelativePath(rel));
  try {
    const inside = relative(await realpath(dir), await realpath(path));
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      return { error: `${rel} leads outside the manifest's directory` };
    }
  } catch {
    return { error: `${rel}: file not found next to the manifest` };
  }
  return { path };
}

async function notebookPipeline(
  file: string,
  raw: unknown,
  diagnostics: Diagnostic[],
): Promise<Omit<DeclaredPipeline, 'file'> | undefined> {
  const parsed = NotebookPipelineManifestSchema.safeParse(raw);
  if (!parsed.success) {
    diagnostics.push(...zodDiagnostics(parsed.error, file));
    return undefined;
  }
  const m = parsed.data;
  const found = await notebookNextTo(file, m.notebook);
  if ('error' in found) {
    diagnostics.push({ severity: 'error', message: found.error, path: ['notebook'], file });
    return undefined;
  }
  const loaded = await loadPipelineFile(found.path);
  diagnostics.push(...loaded.diagnostics);
  if (!loaded.pipeline) return undefined;
  const pipeline: Pipeline = {
    ...loaded.pipeline,
    metadata: { ...loaded.pipeline.metadata, ...(m.metadata.name ? { name: m.metadata.name } : {}) },
    spec: { ...loaded.pipeline.spec, ...m.spec },
  };
  return { name: pipeline.metadata.name, pipeline, files: loaded.files, labels: m.metadata.labels ?? {} };
}

/** Everything the directory declares; `diagnostics` holds every problem found (errors stop a plan). */
export async function loadDirectory(dir: string): Promise<Declared> {
  const declared: Declared = { pipelines: [], schedules: [], diagnostics: [] };
  const seen = new Map<string, string>();
  const claim = (kind: string, name: string, file: string): boolean => {
    const other = seen.get(`${kind}/${name}`);
    if (other) {
      declared.diagnostics.push({ severity: 'error', message: `${kind} '${name}' is declared in ${other} too`, file });
      return false;
    }
    seen.set(`${kind}/${name}`, file);
    return true;
  };
  let files: string[];
  try {
    files = await yamlFiles(dir);
  } catch (e) {
    declared.diagnostics.push({ severity: 'error', message: `cannot read ${dir}: ${(e as Error).message}`, file: dir });
    return declared;
  }
  if (!files.length) {
    declared.diagnostics.push({ severity: 'error', message: `no .yaml or .yml files in ${dir}`, file: dir });
  }
  for (const path of files) {
    const file = relative(dir, path) || basename(path);
    const doc = parseDocument(await readFile(path, 'utf8'));
    if (doc.errors.length) {
      declared.diagnostics.push({ severity: 'error', message: doc.errors[0]!.message.split('\n')[0]!, file: path });
      continue;
    }
    const raw: unknown = doc.toJS();
    const kind = raw && typeof raw === 'object' ? (raw as { kind?: unknown }).kind : undefined;
    if (kind === 'Schedule') {
      const parsed = ScheduleManifestSchema.safeParse(raw);
      if (!parsed.success) {
        declared.diagnostics.push(...zodDiagnostics(parsed.error, path));
        continue;
      }
      const { paused, ...spec } = parsed.data.spec;
      const name = parsed.data.metadata.name;
      if (claim('schedule', name, file)) {
        declared.schedules.push({ name, file, spec, paused, labels: parsed.data.metadata.labels ?? {} });
      }
    } else if (kind === 'Pipeline') {
      const got =
        raw && typeof raw === 'object' && 'notebook' in raw
          ? await notebookPipeline(path, raw, declared.diagnostics)
          : await pipelineFile(path, declared.diagnostics);
      if (got && claim('pipeline', got.name, file)) declared.pipelines.push({ ...got, file });
    } else {
      declared.diagnostics.push({
        severity: 'error',
        message: `kind must be Pipeline or Schedule, not ${kind === undefined ? 'missing' : JSON.stringify(kind)}`,
        path: ['kind'],
        file: path,
      });
    }
  }
  return declared;
}

/** A whole pipeline spec, read as `cellpipe run` reads one (its files next to it). */
async function pipelineFile(
  path: string,
  diagnostics: Diagnostic[],
): Promise<Omit<DeclaredPipeline, 'file'> | undefined> {
  const loaded = await loadPipelineFile(path);
  diagnostics.push(...loaded.diagnostics);
  if (!loaded.pipeline) return undefined;
  const p = loaded.pipeline;
  return { name: p.metadata.name, pipeline: p, files: loaded.files, labels: p.metadata.labels ?? {} };
}
