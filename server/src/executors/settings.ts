/** An executor's own section of the server configuration (`kubernetes:`, `local:`), checked by its schema. */
import type { z } from 'zod';
import { ConfigError } from '../config.js';
import type { ExecutorContext } from './registry.js';

export function executorSettings<S extends z.ZodType>(context: ExecutorContext, name: string, schema: S): z.infer<S> {
  const section: unknown = (context.config as Record<string, unknown>)[name] ?? {};
  const checked = schema.safeParse(section);
  if (!checked.success) {
    const lines = checked.error.issues.map((i) => `  ${[name, ...i.path.map(String)].join('.')}: ${i.message}`);
    throw new ConfigError(`invalid ${name} executor configuration:\n${lines.join('\n')}`);
  }
  return checked.data;
}
