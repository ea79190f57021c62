/**
 * The Cellpipe pipeline spec (`apiVersion: cellpipe.io/v1`, `kind: Pipeline`).
 * This module is the single source for the API types, the JSON Schema and the docs:
 * every other shape is derived from these zod schemas.
 */
import { z } from 'zod';
import { normalizeName } from './python/tokenize.js';
import { MAX_RETRIES } from './defaults.js';
import { RESERVED_NAME } from './own.js';
import { DURATION_PATTERN, MAX_DURATION_MS, MAX_DURATION_TEXT, durationMs } from './duration.js';

export const API_VERSION = 'cellpipe.io/v1';

/** Task names are user-facing identifiers; executors derive DNS-safe names from them. */
export const TaskNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, {
    message: 'task names start with a letter and hold only letters, digits, "_" and "-" (at most 63)',
  })
  .describe('Task name, unique within the pipeline');

/** Kubernetes CPU quantity: cores or millicores. */
export const CpuQuantitySchema = z
  .string()
  .regex(/^(\d+(\.\d{1,3})?|\d+m)$/, { message: 'CPU must be a Kubernetes quantity such as "2", "0.5" or "500m"' })
  .describe('CPU request, a Kubernetes quantity ("2", "500m")');

/** Kubernetes memory quantity with binary or decimal suffix. */
export const MemoryQuantitySchema = z
  .string()
  .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/, {
    message: 'memory must be a Kubernetes quantity such as "512Mi" or "16Gi"',
  })
  .describe('Memory request, a Kubernetes quantity ("512Mi", "16Gi")');

/** NVIDIA MIG profile as the device plugin names it: `1g.10gb`, `3g.20gb`, `1g.5gb+me`, `7g.80gb`. */
export const MigProfileSchema = z
  .string()
  .regex(/^[1-7]g\.\d{1,3}gb(\+me)?$/, { message: 'MIG profile must look like "1g.10gb" or "3g.20gb"' })
  .describe('One MIG slice of this profile (for example "3g.20gb")');

/** Go-style duration subset: `90s`, `90m`, `2h`, `1h30m`, `1d`. */
export const DurationSchema = z
  .string()
  .regex(DURATION_PATTERN, { message: 'duration must look like "90s", "90m", "2h" or "1h30m"' })
  .refine((text) => (durationMs(text) ?? 0) <= MAX_DURATION_MS, {
    message: `duration must be at most ${MAX_DURATION_TEXT}`,
  })
  .describe(`A duration such as "90m" or "2h" (at most ${MAX_DURATION_TEXT})`);

/** Retries after a failed attempt. */
export const RetriesSchema = z.number().int().min(0).max(MAX_RETRIES);

/** Container image reference; the character set alone keeps it out of any shell or YAML injection. */
export const ImageRefSchema = z
  .string()
  .max(512)
  .regex(/^[a-z0-9][a-z0-9._\-/:]*(@sha256:[a-f0-9]{64})?$/, {
    message: 'image must be a container image reference such as "registry/team/image:tag"',
  })
  .describe('Container image reference');

export const EnvNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'environment variable names are letters, digits and "_"' })
  .refine((n) => n !== RESERVED_NAME, { message: `'${RESERVED_NAME}' is reserved` });

export const EnvSchema = z.record(EnvNameSchema, z.string()).describe('Environment variables for the task');

export const ResourcesSchema = z
  .object({
    gpu: z.number().int().min(0).max(64).optional().describe('Whole GPUs'),
    mig: MigProfileSchema.optional(),
    cpu: CpuQuantitySchema.optional(),
    memory: MemoryQuantitySchema.optional(),
  })
  .strict()
  .refine((r) => !(r.gpu && r.mig), { message: 'ask for whole GPUs or one MIG slice, not both', path: ['mig'] })
  .describe('Compute resources a task holds while it runs');

const ASCII_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PYTHON_NAME = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

/**
 * Python identifier: parameter, input and output names are bound in the task's namespace. Python
 * allows Unicode letters (PEP 3131) and reads every name in NFKC normal form (`𝜋` is `π`), so a
 * name is accepted in that form only: two spellings of one variable would be two names here.
 */
export const PythonNameSchema = z
  .string()
  // One check for both rules (names are checked often: every compile validates all inputs and outputs).
  .refine((s) => ASCII_NAME.test(s) || (PYTHON_NAME.test(s) && normalizeName(s) === s), {
    error: (issue) => {
      const s = String(issue.input);
      return PYTHON_NAME.test(s)
        ? `Python reads this name as '${s.normalize('NFKC')}': write it that way`
        : 'not a Python identifier';
    },
  })
  .refine((s) => s !== RESERVED_NAME, { message: `'${RESERVED_NAME}' is reserved` })
  .meta({ pattern: PYTHON_NAME.source });

const JsonValueSchema: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(JsonValueSchema),
    z.record(z.string(), JsonValueSchema),
  ]),
);

export const ParameterSchema = z
  .object({
    default: JsonValueSchema.describe('Value used when a run does not override it'),
    type: z.enum(['string', 'integer', 'number', 'boolean', 'list', 'dict', 'null']).optional(),
    description: z.string().optional(),
  })
  .strict();

/** IANA time zone names are checked by Intl so a typo is caught at submit time, not at the first fire. */
export const TimeZoneSchema = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'unknown IANA time zone' },
);

export const ScheduleSchema = z
  .object({
    cron: z.string().regex(/^\S+\s+\S+\s+\S+\s+\S+\s+\S+$/, {
      message: 'cron must have exactly 5 fields: minute hour day month weekday',
    }),
    timezone: TimeZoneSchema.default('UTC'),
    paused: z.boolean().default(false),
  })
  .strict();

/** A notification target's name: its owner's own target by that name, else the site-wide one. */
export const NotificationTargetNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/, {
    message: 'target names start with a letter and hold only letters, digits, "_", "." and "-" (at most 63)',
  })
  .describe('Notification target name');

/** When a job's end is sent to the targets: it succeeded, it failed, or either (cancelled too). */
export const NotifyOnSchema = z.enum(['success', 'failure', 'always']);

/** Send the job's end to these targets when it ends this way. */
export const NotifyRuleSchema = z
  .object({
    on: NotifyOnSchema.default('always'),
    targets: z
      .array(NotificationTargetNameSchema)
      .min(1, { message: 'name at least one target' })
      .max(20, { message: 'at most 20 targets per rule' }),
  })
  .strict();

export const NotifySchema = z
  .array(NotifyRuleSchema)
  .max(20, { message: 'at most 20 notification rules' })
  .describe('Where the end of each run is sent (targets are defined on the server)');

/** Where a task's code comes from. */
export const TaskSourceSchema = z.discriminatedUnion('kind', [
  z
    .object({ kind: z.literal('cells') })
    .strict()
    .describe('cells of the pipeline notebook (see task.cells)'),
  z
    .object({ kind: z.literal('notebook'), path: z.string().min(1) })
    .strict()
    .describe('a whole notebook file'),
  z
    .object({ kind: z.literal('script'), path: z.string().min(1) })
    .strict()
    .describe('a whole Python script'),
]);

/**
 * An import, function or class bound in another task that this task needs: it crosses the task
 * boundary by source, not by pickle; or (`state`) a statement of an earlier task that sets module
 * state (`pd.set_option(...)`, `sys.path.append(p)`, `os.environ["K"] = v`), which every later task
 * runs again. Run in notebook order after the setup cells and the parameters, before the task's
 * cells, compiled as `<cell N>` (N = cell + cellOffset) with its lines at `line`.
 */
export const DefinitionSchema = z
  .object({
    kind: z.enum(['import', 'function', 'class', 'state']),
    /** The top-level names the statement binds (none for `state`). */
    names: z.array(PythonNameSchema),
    /** 0-based notebook cell index it comes from. */
    cell: z.number().int().min(0),
    /** 1-based line in that (dedented) cell where the statement starts. */
    line: z.number().int().min(1),
    /** The statement's exact source, decorators included, at column 0. */
    source: z.string(),
  })
  .strict();

export const TaskSchema = z
  .object({
    name: TaskNameSchema,
    source: TaskSourceSchema.default({ kind: 'cells' }),
    cells: z.array(z.number().int().min(0)).default([]).describe('0-based cell indices, setup cells excluded'),
    dependsOn: z.array(TaskNameSchema).default([]),
    inputs: z.array(PythonNameSchema).default([]).describe('names read from upstream tasks'),
    inputsFrom: z
      .record(PythonNameSchema, TaskNameSchema)
      .default({})
      .describe(
        'the upstream task each input is read from (the most recent binder); an input missing here comes from the nearest upstream task that outputs it',
      ),
    readOnlyInputs: z
      .array(PythonNameSchema)
      .default([])
      .describe(
        'inputs the task does not change in place (the analysis found only reads, or a readonly: declaration says so): no later task waits for it to read them; the runner checks them and warns when one changed',
      ),
    outputs: z.array(PythonNameSchema).default([]).describe('names later tasks read'),
    definitions: z
      .array(DefinitionSchema)
      .default([])
      .describe(
        'imports, functions and classes bound by other tasks, and statements of earlier tasks that set module state, that this task runs again from their source, in notebook order, before its cells',
      ),
    outputOrigins: z
      .record(PythonNameSchema, z.number().int().min(0))
      .default({})
      .describe('the 0-based cell where the task last binds or changes each output'),
    resources: ResourcesSchema.default({}),
    image: ImageRefSchema.optional(),
    env: EnvSchema.default({}),
    retries: RetriesSchema.optional().describe('retries after a failure; unset: the default, else 0'),
    timeout: DurationSchema.optional(),
  })
  .strict();

export const DefaultsSchema = z
  .object({
    resources: ResourcesSchema.optional(),
    image: ImageRefSchema.optional(),
    env: EnvSchema.optional(),
    retries: RetriesSchema.optional(),
    timeout: DurationSchema.optional(),
  })
  .strict();

export const PipelineSpecSchema = z
  .object({
    source: z
      .object({ notebook: z.string().min(1) })
      .strict()
      .optional()
      .describe('the notebook the cell tasks come from'),
    setupCells: z.array(z.number().int().min(0)).default([]).describe('0-based indices of cells run before every task'),
    parameters: z.record(PythonNameSchema, ParameterSchema).default({}),
    parametersCell: z.number().int().min(0).optional(),
    defaults: DefaultsSchema.default({}),
    failurePolicy: z.enum(['continue', 'fail-fast']).default('continue'),
    maxParallel: z.number().int().min(1).max(10000).optional(),
    timeout: DurationSchema.optional(),
    schedule: ScheduleSchema.optional(),
    notify: NotifySchema.optional(),
    tasks: z.array(TaskSchema).min(1, { message: 'a pipeline needs at least one task' }),
  })
  .strict();

export const PipelineSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Pipeline'),
    metadata: z
      .object({
        name: TaskNameSchema.describe('Pipeline name'),
        description: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
    spec: PipelineSpecSchema,
  })
  .strict();

export type Resources = z.infer<typeof ResourcesSchema>;
export type Task = z.infer<typeof TaskSchema>;
export type Definition = z.infer<typeof DefinitionSchema>;
export type TaskInput = z.input<typeof TaskSchema>;
export type Parameter = z.infer<typeof ParameterSchema>;
export type Schedule = z.infer<typeof ScheduleSchema>;
export type NotifyOn = z.infer<typeof NotifyOnSchema>;
export type NotifyRule = z.infer<typeof NotifyRuleSchema>;
export type NotifyRuleInput = z.input<typeof NotifyRuleSchema>;
export type PipelineSpec = z.infer<typeof PipelineSpecSchema>;
export type Pipeline = z.infer<typeof PipelineSchema>;
export type PipelineInput = z.input<typeof PipelineSchema>;
