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
 * - A value that cannot pass between tasks (a generator, an open file, a thread pool: the compiler
 *   says which, see `unpassable` in flow.ts) made in one section and read in a later one joins those
 *   sections, and every section between them (so no cycle can appear), into one task named after
 *   the first; a note says which sections and why. The compiler is asked once per round of joins.
 *   Tasks the notebook's own tags make are never joined: their boundaries are the user's, and the
 *   compiler's error stays.
 */
import { compileNotebook, type NotebookCompileResult } from './compile.js';
import type { Diagnostic, UnpassableFlow } from './diagnostics.js';
import { cellSource, type Notebook, type NotebookCell } from './notebook.js';
import { cellSettings } from './tags.js';

export interface SplitAtHeadingsOptions {
  /** Only headings of this level or higher (1 = `#`) start a task; default 6: every heading. */
  maxLevel?: number;
  /** The notebook's path as the user knows it, for the compiler (see CompileOptions.path) and the notes. */
  path?: string;
}

export interface SplitAtHeadingsResult {
  /** The notebook with its tasks started (the input is not changed). */
  notebook: Notebook;
  /** The compiler's result for `notebook` (the split's last check: callers need not compile it again). */
  compiled: NotebookCompileResult;
  /** One `info` diagnostic per task made of several sections: which ones, and the values that joined them. */
  notes: Diagnostic[];
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

/** Where a task starts: a section's first code cell (made by the split) or a cell the notebook tags. */
interface Start {
  cell: number;
  task: string;
  /** The notebook's own task: never joined. */
  tagged: boolean;
  /** The section's heading text; undefined for the preamble and the notebook's own tasks. */
  heading: string | undefined;
}

/** The task starts: the sections' (named, never reusing a name the notebook's tags use) and the notebook's own. */
function taskStarts(notebook: Notebook, maxLevel: number): Start[] {
  const settings = notebook.cells.map((c) =>
    c.cell_type === 'code' ? cellSettings((c.metadata ?? {}) as Record<string, unknown>).settings : undefined,
  );
  const taken = new Set<string>();
  for (const s of settings) if (s?.task) taken.add(s.task);
  const starts: Start[] = [];
  let pending: { name: string; heading: string | undefined } | undefined = { name: 'preamble', heading: undefined };
  let sections = 0;
  notebook.cells.forEach((cell, i) => {
    if (cell.cell_type === 'markdown') {
      const heading = markdownHeadings(cellSource(cell)).find((h) => h.level <= maxLevel);
      if (heading) {
        sections++;
        pending = { name: taskNameFromHeading(heading.text) || `section-${sections}`, heading: heading.text };
      }
      return;
    }
    const s = settings[i];
    if (!s) return;
    if (s.task) {
      pending = undefined;
      if (!s.setup && !s.parameters && !starts.some((x) => x.task === s.task))
        starts.push({ cell: i, task: s.task, tagged: true, heading: undefined });
      return;
    }
    if (pending === undefined || s.setup || s.parameters || s.skip) return;
    starts.push({ cell: i, task: uniqueName(pending.name, taken), tagged: false, heading: pending.heading });
    pending = undefined;
  });
  return starts;
}

/** The notebook with a task started at each start but the joined ones (their cells join the task before). */
function withStarts(notebook: Notebook, starts: readonly Start[], joined: ReadonlySet<number>): Notebook {
  const at = new Map<number, string>();
  starts.forEach((s, i) => {
    if (!s.tagged && !joined.has(i)) at.set(s.cell, s.task);
  });
  return { ...notebook, cells: notebook.cells.map((cell, i) => (at.has(i) ? withTask(cell, at.get(i)!) : cell)) };
}

/** Why sections were joined, in the words of the compiler's findings (each variable once). */
function whyJoined(flows: readonly UnpassableFlow[]): string {
  const byName = new Map(flows.map((f) => [f.name, f]));
  const parts = [...byName.values()].map((f) => `'${f.name}' is ${f.what}`);
  return parts.length === 1
    ? `${parts[0]} and cannot pass between tasks`
    : `these cannot pass between tasks: ${parts.join('; ')}`;
}

/**
 * The notebook with a task started at each section, sections joined where a value that cannot
 * pass between tasks would have to (see the module comment). The input is not changed.
 */
export function splitAtHeadings(notebook: Notebook, options: SplitAtHeadingsOptions = {}): SplitAtHeadingsResult {
  const path = options.path ?? 'notebook.ipynb';
  const starts = taskStarts(notebook, options.maxLevel ?? 6);
  const index = new Map(starts.map((s, i) => [s.task, i]));
  /** Starts whose section runs in the task before it. */
  const joined = new Set<number>();
  /** The findings that joined sections, by the start of the value's task. */
  const reasons: { from: number; flow: UnpassableFlow }[] = [];
  for (;;) {
    const split = withStarts(notebook, starts, joined);
    const compiled = compileNotebook(split, { path });
    let more = false;
    for (const d of compiled.diagnostics) {
      const flow = d.unpassable;
      const from = flow && index.get(flow.from);
      const to = flow && index.get(flow.to);
      if (!flow || from === undefined || to === undefined || from >= to) continue;
      // Every task from the maker to the reader is one of the split's (a tagged one stays the user's).
      if (starts.slice(from, to + 1).some((s) => s.tagged)) continue;
      reasons.push({ from, flow });
      for (let i = from + 1; i <= to; i++) {
        if (joined.has(i)) continue;
        joined.add(i);
        more = true;
      }
    }
    if (more) continue;
    return { notebook: split, compiled, notes: joinNotes(starts, joined, reasons, path) };
  }
}

/** One note per task that runs several sections. */
function joinNotes(
  starts: readonly Start[],
  joined: ReadonlySet<number>,
  reasons: readonly { from: number; flow: UnpassableFlow }[],
  path: string,
): Diagnostic[] {
  const notes: Diagnostic[] = [];
  for (let head = 0; head < starts.length; head++) {
    if (joined.has(head) || !joined.has(head + 1)) continue;
    let end = head + 1;
    while (joined.has(end + 1)) end++;
    const group = starts.slice(head, end + 1);
    const quoted = group
      .filter((s) => s.heading !== undefined)
      .map((s) => `'${headingWords(s.heading!).replace(/\s+/g, ' ').trim() || s.task}'`);
    const sections =
      (group[0]!.heading === undefined ? 'the cells before the first heading and ' : '') +
      (quoted.length === 1 ? `section ${quoted[0]}` : `sections ${quoted.join(', ')}`);
    const why = whyJoined(reasons.filter((r) => r.from >= head && r.from <= end).map((r) => r.flow));
    notes.push({
      severity: 'info',
      message: `${sections} run as one task ('${starts[head]!.task}'), because ${why}`,
      file: path,
      cell: starts[head]!.cell + 1,
      task: starts[head]!.task,
    });
  }
  return notes;
}
