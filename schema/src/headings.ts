/**
 * Split a notebook into tasks at its markdown headings (`cellpipe run nb.ipynb --split-at-headings`):
 * each section becomes a task named after its heading, so a notebook runs as a pipeline with no
 * tags at all. The result is the same notebook with `metadata.cellpipe.task` set on the first code
 * cell of each section; the compiler then treats it like any tagged notebook. Browser-safe.
 *
 * - A markdown cell with a heading of level <= maxLevel (ATX `## x`, setext `x\n---`, or `<h2>`)
 *   starts a section; the task name comes from the cell's first such heading.
 * - Code cells before the first heading form a task too (named `preamble`): as setup they would
 *   run again in every task, which a top-to-bottom run never does.
 * - Cells that already say what they are keep it: a cell with its own task (tag or metadata) starts
 *   that task, and setup, parameters and skipped cells keep their roles (the section's task starts
 *   at its first other code cell).
 */
import { cellSource, type Notebook, type NotebookCell } from './notebook.js';
import { cellSettings } from './tags.js';

export interface SplitAtHeadingsOptions {
  /** Only headings of this level or higher (1 = `#`) start a task; default 6: every heading. */
  maxLevel?: number;
}

const MAX_NAME = 63;

/** The headings of one markdown text, in order, outside fenced code blocks. */
export function markdownHeadings(text: string): { level: number; text: string }[] {
  const found: { level: number; text: string }[] = [];
  const lines = text.split(/\r?\n/);
  let fence: string | undefined;
  let paragraph: string | undefined;
  for (const line of lines) {
    const fenceMark = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (
        fenceMark &&
        fenceMark[0] === fence[0] &&
        fenceMark.length >= fence.length &&
        !/\S/.test(line.trim().slice(fenceMark.length))
      ) {
        fence = undefined;
      }
      continue;
    }
    if (fenceMark) {
      fence = fenceMark;
      paragraph = undefined;
      continue;
    }
    const atx = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) {
      found.push({ level: atx[1]!.length, text: atx[2] ?? '' });
      paragraph = undefined;
      continue;
    }
    const setext = /^ {0,3}(=+|-+)[ \t]*$/.exec(line);
    if (setext && paragraph !== undefined) {
      found.push({ level: setext[1]![0] === '=' ? 1 : 2, text: paragraph });
      paragraph = undefined;
      continue;
    }
    const html = /<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/i.exec(line);
    if (html) {
      found.push({ level: Number(html[1]), text: html[2]! });
      paragraph = undefined;
      continue;
    }
    // A setext underline only counts right below one paragraph line (kept simple: the last line).
    paragraph = line.trim() === '' || /^ {4}|\t/.test(line) ? undefined : line.trim();
  }
  return found;
}

/** Markdown inline syntax and HTML out of a heading, so the name is made of its words. */
function headingWords(text: string): string {
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*_~]/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/gi, ' ');
}

/** A task name from a heading: ASCII letters and digits joined by '-', starting with a letter. */
export function taskNameFromHeading(text: string): string {
  const ascii = headingWords(text)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  let name = ascii.replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '');
  if (name.length > MAX_NAME) {
    const cut = name.slice(0, MAX_NAME);
    const dash = cut.lastIndexOf('-');
    name = dash >= 20 ? cut.slice(0, dash) : cut;
  }
  return name.replace(/-+$/, '');
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) {
    const suffix = `-${n}`;
    name = base.slice(0, MAX_NAME - suffix.length).replace(/-+$/, '') + suffix;
  }
  taken.add(name);
  return name;
}

function withTask(cell: NotebookCell, task: string): NotebookCell {
  const meta = cell.metadata ?? {};
  const own = meta['cellpipe'];
  const cellpipe = typeof own === 'object' && own !== null && !Array.isArray(own) ? own : {};
  return { ...cell, metadata: { ...meta, cellpipe: { ...cellpipe, task } } };
}

/**
 * The notebook with a task started at each section (see the module comment). The input is not
 * changed. Task names already used by the notebook's own tags are never reused for a section.
 */
export function splitAtHeadings(notebook: Notebook, options: SplitAtHeadingsOptions = {}): Notebook {
  const maxLevel = options.maxLevel ?? 6;
  const taken = new Set<string>();
  const settings = notebook.cells.map((c) =>
    c.cell_type === 'code' ? cellSettings((c.metadata ?? {}) as Record<string, unknown>).settings : undefined,
  );
  for (const s of settings) if (s?.task) taken.add(s.task);

  let pending: string | undefined = 'preamble';
  let sections = 0;
  const cells = notebook.cells.map((cell, i) => {
    if (cell.cell_type === 'markdown') {
      const heading = markdownHeadings(cellSource(cell)).find((h) => h.level <= maxLevel);
      if (heading) {
        sections++;
        pending = taskNameFromHeading(heading.text) || `section-${sections}`;
      }
      return cell;
    }
    const s = settings[i];
    if (!s) return cell;
    if (s.task) {
      pending = undefined;
      return cell;
    }
    if (pending === undefined || s.setup || s.parameters || s.skip) return cell;
    const name = uniqueName(pending, taken);
    pending = undefined;
    return withTask(cell, name);
  });
  return { ...notebook, cells };
}
