/** A translation bundle as JupyterLab's English one behaves: %1, %2... replaced, plural by count. */
import type { TranslationBundle } from '@jupyterlab/translation';

const fill = (text: string, args: unknown[]): string => text.replace(/%(\d+)/g, (_, i) => String(args[Number(i) - 1]));

export const trans = {
  __: (text: string, ...args: unknown[]) => fill(text, args),
  _n: (one: string, many: string, n: number, ...args: unknown[]) => fill(n === 1 ? one : many, [n, ...args]),
} as unknown as TranslationBundle;
