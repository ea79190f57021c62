/**
 * The task runner's contract: the `task.json` it reads and the `result.json` it writes (one attempt of
 * one task). The server writes task.json (server/src/jobs/freeze.ts → task.base.json, completed per
 * attempt by the orchestrator) and reads result.json (server/src/orchestrator/result.ts); the runner
 * (server/runner/) mirrors these schemas as dataclasses in `cellpipe_runner/contract.py`, checked against
 * the JSON Schema generated from this module (server/test/runner-contract.test.ts). The generated
 * JSON Schema is committed as `schema/runner-contract.schema.json`.
 *
 * Every field added after the first release is optional, so a runner reads older task.json files.
 */
import { z } from 'zod';
import { AttemptUsageSchema } from './api.js';
import { ResultLimitsSchema, TaskResultsSchema } from './results.js';
import { DefinitionSchema, PythonNameSchema, TaskNameSchema } from './spec.js';

const AbsolutePathSchema = z
  .string()
  .regex(/^\//, { message: 'expected an absolute path' })
  .refine((s) => !s.includes('\0'), { message: 'no NUL characters' });

/** The cell tags the runner acts on; task code carries these (and only these) of a cell's tags. */
export const RUNNER_CELL_TAGS: readonly string[] = ['raises-exception'];

export const RunnerCellSchema = z.object({
  /** 0-based index of the cell in the notebook (its position is index + cellOffset). */
  index: z.number().int().min(0),
  source: z.string(),
  /**
   * The cell's tags that the runner honours (RUNNER_CELL_TAGS): `raises-exception`, as nbclient does,
   * records an error of the cell in its outputs and runs the next cells.
   */
  tags: z.array(z.string()).optional(),
});

/**
 * The server's limits on what the runner reports, so result.json stays readable: the error message
 * and the traceback are cut to `errorBytes` each (the exception's class kept, a note saying so) and
 * the whole file fits `resultBytes`.
 */
export const RunnerLimitsSchema = z.object({
  errorBytes: z.number().int().min(1),
  resultBytes: z.number().int().min(1),
});

export const RunnerInputSchema = z.object({
  name: PythonNameSchema,
  /** The upstream task whose output it is: read from <artifactRoot>/<from>/vars/<name>.pkl. */
  from: TaskNameSchema,
  /**
   * The analysis decided this task does not change the input in place (so no later task waits for
   * it). The runner fingerprints such inputs before and after the task's cells and reports an
   * `input-mutated` warning when one changed.
   */
  readOnly: z.boolean().optional(),
});

/** A definition the task runs again from its source: the compiled spec's, copied as it is. */
export const RunnerDefinitionSchema = DefinitionSchema;

/**
 * Where the runner reads its inputs and puts its outputs, result.json, executed notebook and
 * artifacts. `files` (the default): the paths of task.json are the server's own (the local executor,
 * a volume shared with the server). `server`: the paths are the pod's scratch space; inputs are
 * downloaded from, and everything the task produces is uploaded to, the companion server over HTTP
 * with the attempt's token (`<url>/<jobId>/<taskName>/<attempt>/...`).
 */
export const RunnerDataStoreSchema = z
  .object({
    kind: z.enum(['files', 'server']),
    /** `server`: the task-data API root, e.g. `http://cellpipe.cellpipe.svc:8765/api/task-data`. */
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'expected an http(s) URL' })
      .optional(),
    /** `server`: the file holding the attempt's token (a mounted Secret). */
    tokenFile: AbsolutePathSchema.optional(),
    /** `server`: how long a transfer that fails (the server restarting) is retried before the task fails (default 600). */
    retrySeconds: z.number().int().min(0).optional(),
  })
  .refine((s) => s.kind !== 'server' || (s.url !== undefined && s.tokenFile !== undefined), {
    message: 'a server store needs url and tokenFile',
  });

export const TaskJsonSchema = z
  .object({
    jobId: z.string().min(1),
    taskId: z.string().min(1),
    taskName: TaskNameSchema,
    /** Upstream outputs are read from <artifactRoot>/<task>/vars/<name>.pkl. */
    artifactRoot: AbsolutePathSchema,
    /** This task's outputs: <outputDir>/vars/<name>.pkl and files under <outputDir>/files. */
    outputDir: AbsolutePathSchema,
    resultPath: AbsolutePathSchema,
    /** The executed notebook (nbformat 4.5). */
    notebookPath: AbsolutePathSchema,
    attempt: z.number().int().optional(),
    /** Added to a cell's 0-based index to give its 1-based notebook position (default 1). */
    cellOffset: z.number().int().optional(),
    kind: z.enum(['cells', 'notebook', 'script']).optional(),
    setup: z.array(RunnerCellSchema).optional(),
    /** Required unless a notebook or script task names its sourcePath (the runner reads the file then). */
    cells: z.array(RunnerCellSchema).optional(),
    inputs: z.array(RunnerInputSchema).optional(),
    outputs: z.array(PythonNameSchema).optional(),
    parameters: z.record(PythonNameSchema, z.unknown()).optional(),
    /** 0-based index of the parameters cell; overrides are injected right after it. */
    parametersCell: z.number().int().min(0).nullable().optional(),
    sourcePath: z.string().optional(),
    /** Absent: the CELLPIPE_RUNNER_ENGINE environment variable, else `auto` (ipython where IPython 8+ imports, else stdlib). */
    engine: z.enum(['stdlib', 'ipython', 'kernel', 'auto']).optional(),
    definitions: z.array(RunnerDefinitionSchema).optional(),
    /** Output name → 0-based cell where the task last binds it (named when it cannot be passed on). */
    outputOrigins: z.record(PythonNameSchema, z.number().int().min(0)).optional(),
    /** Absent: `files`. */
    dataStore: RunnerDataStoreSchema.optional(),
    /**
     * The job's working folder, shared by its tasks (the notebook's folder, or a folder of the job's
     * own): the runner changes into it before anything of the task runs. Absent: the folder the
     * runner was started in, which no other task sees.
     */
    workDir: AbsolutePathSchema.optional(),
    /**
     * Every task this one depends on, directly or not: a file of the working folder that this task
     * and another one use, unless one of them is upstream of the other, is reported (`file-order`).
     */
    upstream: z.array(TaskNameSchema).optional(),
    /**
     * What the task may publish as results (`cellpipe.report`, metrics.json); a result past these
     * fails the report with a message naming it. Absent: the runner only checks names and types.
     */
    resultLimits: ResultLimitsSchema.optional(),
    /** Absent: the server's default limits. */
    limits: RunnerLimitsSchema.optional(),
    /**
     * What the runner may measure of the task's resource use (result.json `usage`). `container`: the
     * runner's cgroup and the GPUs it sees are the attempt's alone (an executor that runs each attempt
     * in a container of its own says so): it reads the cgroup's peak memory and CPU time when the task
     * ends and samples the GPUs with nvidia-smi while it runs. `process` (absent): only getrusage of
     * the runner and the children it waited for (its cgroup may be the server's, its GPUs the machine's).
     */
    usage: z.enum(['container', 'process']).optional(),
  })
  .refine((t) => t.cells !== undefined || ((t.kind === 'notebook' || t.kind === 'script') && t.sourcePath), {
    message: 'is required',
    path: ['cells'],
  });

export const RunnerCellTimingSchema = z.object({
  index: z.number().int(),
  /** 1-based notebook position. */
  position: z.number().int(),
  role: z.enum(['setup', 'task']),
  durationMs: z.number().int(),
});

export const RunnerOutputDetailSchema = z.object({
  name: z.string(),
  /** Qualified type name (`__main__.Model`, `pandas.core.frame.DataFrame`). */
  type: z.string(),
  bytes: z.number().int(),
});

export const RunnerNoteSchema = z.object({
  /** 1-based notebook position; null for the injected parameters. */
  cell: z.number().int().nullable(),
  message: z.string(),
});

/** A non-fatal finding of the run. `input-mutated`: an input marked readOnly was changed in place. */
export const RunnerWarningSchema = z.object({
  kind: z.string(),
  message: z.string(),
  variable: z.string().optional(),
  task: z.string().optional(),
  /** 0-based notebook cell index where it was noticed. */
  cell: z.number().int().min(0).optional(),
  /** The same cell's 1-based notebook position. */
  position: z.number().int().min(1).optional(),
});

export const RunnerErrorSchema = z.object({
  message: z.string(),
  /** exception, syntax, oom, exit, input, missing-output, serialization, io, kernel, runner, cancelled, bad-task. */
  reason: z.string(),
  ename: z.string().optional(),
  /** User frames only (the runner's own are left out), except for reason `runner`. */
  traceback: z.string().optional(),
  /** 1-based notebook position of the cell concerned. */
  cell: z.number().int().optional(),
});

/** How the runner measured memory and CPU time: its cgroup (v2 or v1 files), or getrusage. */
export const RunnerUsageSourceSchema = z.enum(['cgroup-v2', 'cgroup-v1', 'rusage']);

/**
 * What the task used, as the runner measured it (the attempt's `usage` fields). The server keeps
 * what its executor measured from outside and takes from here only the fields it did not measure.
 */
export const RunnerUsageSchema = AttemptUsageSchema.extend({
  /** Processes of the task the kernel's OOM killer ended (the runner survived them). */
  oomKills: z.number().int().min(0).optional(),
  /** Where each number came from; `gpu`: nvidia-smi samples while the task ran. */
  sources: z
    .object({
      memory: RunnerUsageSourceSchema.optional(),
      cpu: RunnerUsageSourceSchema.optional(),
      gpu: z.enum(['nvidia-smi']).optional(),
    })
    .optional(),
});

export const RunnerResultSchema = z.object({
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  /** ISO 8601 UTC with milliseconds. */
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().int(),
  /** The cells that ran. */
  cells: z.array(RunnerCellTimingSchema),
  /** Names saved. */
  outputs: z.array(z.string()),
  outputDetails: z.array(RunnerOutputDetailSchema),
  /** Files under CELLPIPE_OUTPUT_DIR, relative, sorted. */
  artifacts: z.array(z.string()),
  notes: z.array(RunnerNoteSchema),
  warnings: z.array(RunnerWarningSchema),
  runner: z.object({ version: z.string(), engine: z.enum(['stdlib', 'ipython', 'kernel']), python: z.string() }),
  /** Present when the status is not succeeded. */
  error: RunnerErrorSchema.optional(),
  /** What the task published with `cellpipe.report(...)` and in `<outputDir>/files/metrics.json`. */
  results: TaskResultsSchema.optional(),
  /** What the task used, where the runner could measure it (task.json `usage`). */
  usage: RunnerUsageSchema.optional(),
});

export type RunnerCell = z.infer<typeof RunnerCellSchema>;
export type RunnerLimits = z.infer<typeof RunnerLimitsSchema>;
export type RunnerInput = z.infer<typeof RunnerInputSchema>;
export type RunnerDefinition = z.infer<typeof RunnerDefinitionSchema>;
export type TaskJson = z.infer<typeof TaskJsonSchema>;
export type RunnerDataStore = z.infer<typeof RunnerDataStoreSchema>;
export type RunnerWarning = z.infer<typeof RunnerWarningSchema>;
export type RunnerResult = z.infer<typeof RunnerResultSchema>;
export type RunnerUsage = z.infer<typeof RunnerUsageSchema>;

export const RUNNER_CONTRACT_SCHEMA_ID = 'https://cellpipe.io/schemas/runner-contract.v1.json';

/** JSON Schema of task.json and result.json (`$defs`: TaskJson, RunnerResult), generated from the zod schemas. */
export function runnerContractJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(z.object({ taskJson: TaskJsonSchema, result: RunnerResultSchema }), {
    unrepresentable: 'any',
  }) as { properties: Record<string, unknown> };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: RUNNER_CONTRACT_SCHEMA_ID,
    title: 'Cellpipe task runner contract: task.json (TaskJson) and result.json (RunnerResult)',
    $defs: { TaskJson: schema.properties.taskJson, RunnerResult: schema.properties.result },
  };
}
