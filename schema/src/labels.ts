/**
 * Labels on server objects (saved pipelines, schedules): who manages them and how to select them.
 * `cellpipe apply` marks what it creates with MANAGED_BY_LABEL (the directory it came from) and
 * deletes, with `--prune`, only objects carrying the same value (or matching `--selector`).
 */
import { z } from 'zod';

/** `prefix/name` or `name`, as Kubernetes writes label keys. */
export const LabelKeySchema = z
  .string()
  .max(253)
  .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    message: 'label keys look like "team" or "cellpipe.io/source": letters, digits, "-", "_", "." (and one "/")',
  });

export const LabelsSchema = z
  .record(LabelKeySchema, z.string().max(512, { message: 'label values are at most 512 characters' }))
  .refine((l) => Object.keys(l).length <= 64, { message: 'at most 64 labels' });

/** The label `cellpipe apply` marks its objects with: the repository and directory they are declared in. */
export const MANAGED_BY_LABEL = 'cellpipe.io/source';

/** True when `labels` carry every key and value of `selector`. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export type Labels = z.infer<typeof LabelsSchema>;
