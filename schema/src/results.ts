/**
 * Task results: small named values a task publishes (`cellpipe.report(accuracy=0.93)` in its code, or
 * a `metrics.json` in its output folder), stored with the attempt and compared across runs of one
 * saved pipeline. The runner checks them as it receives them (with the limits task.json carries); the
 * server checks them again when it reads result.json, since that file is written by user code.
 */
import { z } from 'zod';

/** Longest result name, in characters. */
export const RESULT_NAME_MAX = 128;
/** Longest string value, in characters ("short strings": a label, a checkpoint name, a git hash). */
export const RESULT_STRING_MAX = 256;
/**
 * A result name: a letter or `_`, then letters, digits and `_ . / -` (`val/loss`, `train.accuracy`,
 * the dotted names a nested metrics.json flattens to). The runner applies the same rule
 * (cellpipe_runner/reporting.py); server/test/results.test.ts checks that both agree.
 */
export const RESULT_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;

export const ResultNameSchema = z
  .string()
  .max(RESULT_NAME_MAX, { message: `result names are at most ${RESULT_NAME_MAX} characters` })
  .regex(RESULT_NAME_PATTERN, {
    message: 'result names start with a letter or "_" and hold only letters, digits, "_", ".", "/" and "-"',
  });

export const ResultValueSchema = z.union([
  // zod's number is finite: NaN and infinities are refused.
  z.number(),
  z.string().max(RESULT_STRING_MAX, { message: `strings are at most ${RESULT_STRING_MAX} characters` }),
  z.boolean(),
]);

/** One task's results by name. */
export const TaskResultsSchema = z.record(ResultNameSchema, ResultValueSchema);

/** What the runner is told to allow (task.json `resultLimits`, from the server's limits). */
export const ResultLimitsSchema = z.object({
  /** Most results one attempt may publish. */
  count: z.number().int().min(0),
  /** Most bytes of all of them together, as compact JSON. */
  bytes: z.number().int().min(0),
  nameChars: z.number().int().min(1),
  stringChars: z.number().int().min(0),
});

export type ResultValue = z.infer<typeof ResultValueSchema>;
export type TaskResults = z.infer<typeof TaskResultsSchema>;
export type ResultLimits = z.infer<typeof ResultLimitsSchema>;

/** Where a value's kind differs between runs, the column says so. */
export function resultType(value: ResultValue): 'number' | 'string' | 'boolean' {
  return typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
}
