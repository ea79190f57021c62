/** `--notify` of run, pipelines run and schedule create/update. */
import { NotifyOnSchema, type NotifyRule } from '@cellpipe/schema';
import { CliError } from './errors.js';

/**
 * `--notify [success|failure|always:]target[,target...]` (repeatable; `always` when the outcome is
 * left out): where the run's end is sent.
 */
export function parseNotify(items: readonly string[]): NotifyRule[] {
  return items.map((item) => {
    const colon = item.indexOf(':');
    const on = colon >= 0 ? item.slice(0, colon) : 'always';
    const parsed = NotifyOnSchema.safeParse(on);
    if (!parsed.success) {
      throw new CliError(`--notify "${item}": the outcome is success, failure or always, not "${on}"`, 2);
    }
    const targets = item
      .slice(colon + 1)
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    if (!targets.length) throw new CliError(`--notify "${item}": name at least one target`, 2);
    return { on: parsed.data, targets };
  });
}
