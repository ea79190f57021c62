/**
 * Cell settings from JupyterLab tags (`metadata.tags`) and structured cell metadata
 * (`metadata.cellpipe`). Both compile to the same settings; metadata wins field by field, and
 * `after` lists are joined.
 */
import { z } from 'zod';
import {
  CpuQuantitySchema,
  PythonNameSchema,
  DefaultsSchema,
  DurationSchema,
  EnvNameSchema,
  EnvSchema,
  ImageRefSchema,
  MemoryQuantitySchema,
  MigProfileSchema,
  ResourcesSchema,
  RetriesSchema,
  NotifySchema,
  ScheduleSchema,
  TaskNameSchema,
} from './spec.js';
import { MAX_RETRIES } from './defaults.js';
import { setOwn } from './own.js';

export interface CellResources {
  gpu?: number;
  mig?: string;
  cpu?: string;
  memory?: string;
}

export interface CellSettings {
  task?: string;
  setup?: boolean;
  skip?: boolean;
  parameters?: boolean;
  after: string[];
  /** Names the task's code is declared not to change in place (`readonly:x,y`). */
  readonly: string[];
  resources: CellResources;
  image?: string;
  env: Record<string, string>;
  retries?: number;
  timeout?: string;
}

export interface SettingError {
  message: string;
  /** Path inside the cell: ['metadata', 'tags', 2] or ['metadata', 'cellpipe', 'resources', 'gpu']. */
  path: (string | number)[];
}

/** Tags with a value, `key:value`. */
const VALUE_TAGS = [
  'task',
  'after',
  'gpu',
  'mig',
  'cpu',
  'memory',
  'image',
  'retries',
  'timeout',
  'env',
  'readonly',
] as const;
/** Tags that stand alone. */
const FLAG_TAGS = ['setup', 'skip', 'parameters'] as const;

export const TAG_HELP: Record<string, string> = {
  task: 'task:NAME',
  after: 'after:NAME',
  readonly: 'readonly:NAME,NAME (names the task does not change in place)',
  gpu: 'gpu:N (whole GPUs)',
  mig: 'mig:PROFILE (e.g. mig:3g.20gb)',
  cpu: 'cpu:QUANTITY (e.g. cpu:2, cpu:500m)',
  memory: 'memory:QUANTITY (e.g. memory:16Gi)',
  image: 'image:REF',
  retries: 'retries:N',
  timeout: 'timeout:DURATION (e.g. timeout:90m)',
  env: 'env:NAME=VALUE',
  setup: 'setup',
  skip: 'skip',
  parameters: 'parameters',
};

function emptySettings(): CellSettings {
  return { after: [], readonly: [], resources: {}, env: {} };
}

function firstMessage(r: { success: boolean; error?: z.ZodError }): string {
  return r.error?.issues[0]?.message ?? 'invalid value';
}

/** The known keyword a foreign-looking tag most likely meant, if any (`gpus:2` → gpu, `tasks:x` → task). */
function nearKeyword(key: string): string | undefined {
  const all: string[] = [...VALUE_TAGS, ...FLAG_TAGS];
  return all.find((k) => key !== k && (key.startsWith(k) || (k.startsWith(key) && key.length >= 3)));
}

/**
 * Reads one tag into `s`. Tags no keyword claims (`hide-input`, `remove-cell`) belong to other tools
 * and are ignored; tags that start like a keyword but are not one are errors, because a typo there
 * silently changes the pipeline.
 */
function applyTag(tag: string, s: CellSettings): string | undefined {
  const colon = tag.indexOf(':');
  const key = (colon < 0 ? tag : tag.slice(0, colon)).trim().toLowerCase();
  const value = colon < 0 ? undefined : tag.slice(colon + 1).trim();
  if ((FLAG_TAGS as readonly string[]).includes(key)) {
    if (value !== undefined) return `tag '${tag}' takes no value: write '${key}'`;
    s[key as (typeof FLAG_TAGS)[number]] = true;
    return undefined;
  }
  if (!(VALUE_TAGS as readonly string[]).includes(key)) {
    const near = nearKeyword(key);
    // Bare words that merely start like a flag (`skip-execution`) are other tools' tags.
    const truncatedFlag = near !== undefined && near.startsWith(key);
    if (near && (colon >= 0 || (VALUE_TAGS as readonly string[]).includes(near) || truncatedFlag)) {
      return `unknown tag '${tag}' (did you mean ${TAG_HELP[near]}?)`;
    }
    return undefined;
  }
  if (value === undefined || value === '') return `tag '${tag}' needs a value: ${TAG_HELP[key]}`;
  switch (key) {
    case 'task':
    case 'after': {
      const r = TaskNameSchema.safeParse(value);
      if (!r.success) return `invalid task name in '${tag}': ${firstMessage(r)}`;
      if (key === 'task') s.task = value;
      else if (!s.after.includes(value)) s.after.push(value);
      return undefined;
    }
    case 'gpu':
    case 'retries': {
      const max = key === 'gpu' ? 64 : MAX_RETRIES;
      if (!/^\d+$/.test(value) || Number(value) > max) {
        return key === 'gpu'
          ? `invalid GPU count in '${tag}': use a whole number from 0 to ${max} (for a GPU slice use mig:PROFILE)`
          : `invalid retry count in '${tag}': use a whole number from 0 to ${max}`;
      }
      if (key === 'gpu') s.resources.gpu = Number(value);
      else s.retries = Number(value);
      return undefined;
    }
    case 'mig':
    case 'cpu':
    case 'memory': {
      const schema = key === 'mig' ? MigProfileSchema : key === 'cpu' ? CpuQuantitySchema : MemoryQuantitySchema;
      const r = schema.safeParse(value);
      if (!r.success) return `invalid '${tag}': ${firstMessage(r)}`;
      s.resources[key] = value;
      return undefined;
    }
    case 'image': {
      const r = ImageRefSchema.safeParse(value);
      if (!r.success) return `invalid '${tag}': ${firstMessage(r)}`;
      s.image = value;
      return undefined;
    }
    case 'timeout': {
      const r = DurationSchema.safeParse(value);
      if (!r.success) return `invalid '${tag}': ${firstMessage(r)}`;
      s.timeout = value;
      return undefined;
    }
    case 'readonly': {
      for (const name of value.split(',').map((n) => n.trim())) {
        const r = PythonNameSchema.safeParse(name);
        if (!r.success) return `invalid name '${name}' in '${tag}': ${firstMessage(r)}`;
        if (!s.readonly.includes(name)) s.readonly.push(name);
      }
      return undefined;
    }
    case 'env': {
      const eq = value.indexOf('=');
      const name = eq < 0 ? value : value.slice(0, eq);
      if (eq < 0 || !EnvNameSchema.safeParse(name).success) return `invalid '${tag}': write env:NAME=VALUE`;
      setOwn(s.env, name, value.slice(eq + 1));
      return undefined;
    }
  }
  return undefined;
}

/** `metadata.cellpipe` on a code cell. */
export const CellMetadataSchema = z
  .object({
    task: TaskNameSchema.optional(),
    after: z.union([TaskNameSchema, z.array(TaskNameSchema)]).optional(),
    readonly: z.union([PythonNameSchema, z.array(PythonNameSchema)]).optional(),
    resources: ResourcesSchema.optional(),
    image: ImageRefSchema.optional(),
    env: EnvSchema.optional(),
    retries: RetriesSchema.optional(),
    timeout: DurationSchema.optional(),
    setup: z.boolean().optional(),
    skip: z.boolean().optional(),
    parameters: z.boolean().optional(),
  })
  .strict();

export type CellMetadata = z.infer<typeof CellMetadataSchema>;

function issueErrors(error: z.ZodError, prefix: (string | number)[]): SettingError[] {
  const out: SettingError[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) out.push({ message: `unknown field '${k}'`, path: [...path, k] });
    } else out.push({ message: issue.message, path });
  }
  return out;
}

/** Settings of one code cell: tags first, then `metadata.cellpipe` over them. */
export function cellSettings(metadata: Record<string, unknown>): { settings: CellSettings; errors: SettingError[] } {
  const s = emptySettings();
  const errors: SettingError[] = [];
  const tags = metadata['tags'];
  if (tags !== undefined) {
    if (!Array.isArray(tags))
      errors.push({ message: 'metadata.tags must be a list of strings', path: ['metadata', 'tags'] });
    else {
      tags.forEach((tag, i) => {
        if (typeof tag !== 'string') {
          errors.push({ message: 'metadata.tags must be a list of strings', path: ['metadata', 'tags', i] });
          return;
        }
        const err = applyTag(tag, s);
        if (err) errors.push({ message: err, path: ['metadata', 'tags', i] });
      });
    }
  }
  const raw = metadata['cellpipe'];
  if (raw !== undefined) {
    const r = CellMetadataSchema.safeParse(raw);
    if (!r.success) errors.push(...issueErrors(r.error, ['metadata', 'cellpipe']));
    else {
      const m = r.data;
      if (m.task !== undefined) s.task = m.task;
      for (const a of typeof m.after === 'string' ? [m.after] : (m.after ?? []))
        if (!s.after.includes(a)) s.after.push(a);
      for (const n of typeof m.readonly === 'string' ? [m.readonly] : (m.readonly ?? []))
        if (!s.readonly.includes(n)) s.readonly.push(n);
      if (m.resources) s.resources = { ...s.resources, ...m.resources };
      if (m.image !== undefined) s.image = m.image;
      if (m.env) s.env = { ...s.env, ...m.env };
      if (m.retries !== undefined) s.retries = m.retries;
      if (m.timeout !== undefined) s.timeout = m.timeout;
      if (m.setup !== undefined) s.setup = m.setup;
      if (m.skip !== undefined) s.skip = m.skip;
      if (m.parameters !== undefined) s.parameters = m.parameters;
    }
  }
  // Whole GPUs and a MIG slice from different sources (tag + metadata) still conflict.
  if (s.resources.gpu && s.resources.mig) {
    errors.push({
      message: 'ask for whole GPUs (gpu:N) or one MIG slice (mig:PROFILE), not both',
      path: ['metadata', 'tags'],
    });
  }
  return { settings: s, errors };
}

/** True when the cell carries task-level settings (resources, image, env, retries, timeout). */
export function hasTaskSettings(s: CellSettings): boolean {
  return (
    Object.keys(s.resources).length > 0 ||
    s.image !== undefined ||
    Object.keys(s.env).length > 0 ||
    s.retries !== undefined ||
    s.timeout !== undefined
  );
}

/** `metadata.cellpipe` on the notebook: pipeline name and defaults. */
export const NotebookMetadataSchema = z
  .object({
    name: TaskNameSchema.optional(),
    description: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    defaults: DefaultsSchema.optional(),
    failurePolicy: z.enum(['continue', 'fail-fast']).optional(),
    maxParallel: z.number().int().min(1).max(10000).optional(),
    timeout: DurationSchema.optional(),
    schedule: ScheduleSchema.optional(),
    readonly: z.array(PythonNameSchema).optional(),
    notify: NotifySchema.optional(),
  })
  .strict();

export type NotebookMetadata = z.infer<typeof NotebookMetadataSchema>;

export function notebookSettings(metadata: Record<string, unknown>): {
  settings: NotebookMetadata;
  errors: SettingError[];
} {
  const raw = metadata['cellpipe'];
  if (raw === undefined) return { settings: {}, errors: [] };
  const r = NotebookMetadataSchema.safeParse(raw);
  if (!r.success) return { settings: {}, errors: issueErrors(r.error, ['metadata', 'cellpipe']) };
  return { settings: r.data, errors: [] };
}
