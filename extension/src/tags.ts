/**
 * The task editor's form ↔ a cell's `metadata.tags`, following the tag grammar of `@cellpipe/schema`
 * (`task:NAME`, `after:NAME`, `gpu:N`, `mig:PROFILE`, `cpu:Q`, `memory:Q`, `image:REF`, `retries:N`,
 * `timeout:D`, `setup`, `skip`). Pure: no JupyterLab imports, so it is unit-tested on its own.
 *
 * Tags the form does not edit (other tools' tags, `parameters`, `env:` tags) are kept in place; the
 * form's own keys are replaced as a whole on apply.
 */

/** What the form shows: raw strings, so a half-typed value is never lost; validation is separate. */
export interface TaskForm {
  task: string;
  /** Comma- or space-separated task names. */
  dependsOn: string;
  gpus: string;
  mig: string;
  cpu: string;
  memory: string;
  image: string;
  retries: string;
  timeout: string;
  setup: boolean;
  skip: boolean;
}

export const EMPTY_FORM: TaskForm = {
  task: '',
  dependsOn: '',
  gpus: '',
  mig: '',
  cpu: '',
  memory: '',
  image: '',
  retries: '',
  timeout: '',
  setup: false,
  skip: false,
};

/** Value tags the form owns, keyed by tag keyword. */
const VALUE_FIELDS = {
  task: 'task',
  gpu: 'gpus',
  mig: 'mig',
  cpu: 'cpu',
  memory: 'memory',
  image: 'image',
  retries: 'retries',
  timeout: 'timeout',
} as const satisfies Record<string, keyof TaskForm>;

type ValueKey = keyof typeof VALUE_FIELDS;
const FLAG_FIELDS = { setup: 'setup', skip: 'skip' } as const satisfies Record<string, keyof TaskForm>;
type FlagKey = keyof typeof FLAG_FIELDS;

function splitTag(tag: string): { key: string; value: string | undefined } {
  const colon = tag.indexOf(':');
  const key = (colon < 0 ? tag : tag.slice(0, colon)).trim().toLowerCase();
  return { key, value: colon < 0 ? undefined : tag.slice(colon + 1).trim() };
}

/** True for a tag the form owns (and so replaces on apply). */
export function isFormTag(tag: string): boolean {
  const { key, value } = splitTag(tag);
  if (key === 'after') return true;
  if (key in VALUE_FIELDS) return value !== undefined;
  if (key in FLAG_FIELDS) return value === undefined;
  return false;
}

/** Task names from the "Depends on" field: commas and/or spaces separate them; duplicates drop. */
export function parseDependsOn(text: string): string[] {
  const out: string[] = [];
  for (const name of text.split(/[\s,]+/)) {
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

/** The form for a cell's tags (anything that is not a list of strings reads as no tags). */
export function formFromTags(tags: unknown): TaskForm {
  const form: TaskForm = { ...EMPTY_FORM };
  if (!Array.isArray(tags)) return form;
  const after: string[] = [];
  for (const tag of tags) {
    if (typeof tag !== 'string') continue;
    const { key, value } = splitTag(tag);
    if (key === 'after' && value) {
      if (!after.includes(value)) after.push(value);
    } else if (key in VALUE_FIELDS && value !== undefined) {
      form[VALUE_FIELDS[key as ValueKey]] = value;
    } else if (key in FLAG_FIELDS && value === undefined) {
      form[FLAG_FIELDS[key as FlagKey]] = true;
    }
  }
  form.dependsOn = after.join(', ');
  return form;
}

/** The form's own tags, in a fixed order. Empty fields give no tag. */
export function tagsFromForm(form: TaskForm): string[] {
  const tags: string[] = [];
  const push = (key: string, value: string): void => {
    const v = value.trim();
    if (v) tags.push(`${key}:${v}`);
  };
  if (form.setup) tags.push('setup');
  push('task', form.task);
  for (const name of parseDependsOn(form.dependsOn)) tags.push(`after:${name}`);
  push('gpu', form.gpus);
  push('mig', form.mig);
  push('cpu', form.cpu);
  push('memory', form.memory);
  push('image', form.image);
  push('retries', form.retries);
  push('timeout', form.timeout);
  if (form.skip) tags.push('skip');
  return tags;
}

/**
 * The cell's new tags: every tag the form does not own stays where it was, the form's tags follow.
 * Returns the same array content (not the same array) when nothing changes.
 */
export function applyFormToTags(tags: unknown, form: TaskForm): string[] {
  const kept = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string' && !isFormTag(t)) : [];
  return [...kept, ...tagsFromForm(form)];
}

/**
 * Tags the form does not own but that `isInvalid` rejects (typos of Cellpipe keywords such as
 * `gpus:2`): the editor lists them and Apply drops them, since the form now says what was meant.
 */
export function strayTags(tags: unknown, isInvalid: (tag: string) => boolean): string[] {
  if (!Array.isArray(tags)) return [];
  return tags.filter((t): t is string => typeof t === 'string' && !isFormTag(t) && isInvalid(t));
}

/** The cell's tags with every tag the form owns removed ("Clear"). */
export function clearFormTags(tags: unknown): string[] {
  return applyFormToTags(tags, EMPTY_FORM);
}

/** Short text for a cell badge: task name, then GPUs or the MIG slice when asked for. */
export function badgeText(form: TaskForm): string | null {
  if (!form.task) return null;
  const extra = form.mig ? `MIG ${form.mig}` : form.gpus && form.gpus !== '0' ? `${form.gpus} GPU` : '';
  return extra ? `${form.task} · ${extra}` : form.task;
}

/** Equal tag lists (order matters: the user sees them in the cell's tag editor). */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
