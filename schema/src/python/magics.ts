/**
 * A code cell as IPython runs it, turned into plain Python for the analysis.
 *
 * - IPython removes the first line's leading indentation from every line that starts with it
 *   (`leading_indent` in IPython's input transformer), so a cell whose first line is indented runs.
 * - IPython syntax (`%matplotlib inline`, `!pip install x`, `x?`, `files = !ls`, `%%time`) is kept
 *   for execution; the analysis sees it replaced by a blank line, or `pass` inside a block.
 * - Magics that run Python in the notebook's namespace are analysed as that Python: the statement of
 *   `%time stmt` and `%prun stmt` (as if written without the magic), `%timeit stmt` (inside a
 *   function, as IPython times it: it reads names but binds none), the bodies of `%%time`,
 *   `%%capture`, `%%prun`, `%%debug` (and `%%timeit`, again inside a function), the `{expression}`
 *   and `$name` fields IPython expands in shell escapes and other line magics.
 * - `%run`, `%store -r` and `%load` bind names nobody can see: a warning says so.
 *
 * Lines are never added or removed, so line numbers stay right; `toSource` maps offsets in the
 * analysed code back to the cell's own source for messages.
 */

/** Cell magics whose body IPython runs as Python in the notebook's namespace. */
const MODULE_BODY_CELL_MAGICS = new Set(['time', 'capture', 'prun', 'debug', 'memit']);
/** Cell magics that run their body inside a function: it reads names, it binds none. */
const FUNCTION_BODY_CELL_MAGICS = new Set(['timeit']);

/** Line magics whose argument is a Python statement run in the namespace, with their options. */
const CODE_LINE_MAGICS: ReadonlyMap<string, { options: string; scope: 'module' | 'function' }> = new Map([
  ['time', { options: '', scope: 'module' as const }],
  ['prun', { options: 'D:l:rs:T:q', scope: 'module' as const }],
  ['debug', { options: '', scope: 'module' as const }],
  ['timeit', { options: 'n:r:tcp:qo', scope: 'function' as const }],
]);

/** Line magics that bind names the analysis cannot see. */
const OPAQUE_LINE_MAGICS = new Map<string, (args: string) => string | null>([
  [
    'run',
    () =>
      "'%run' runs a file in the notebook's namespace: names it binds or reads are not seen by the dependency analysis",
  ],
  [
    'store',
    (args: string) =>
      /(^|\s)-r\b/.test(args)
        ? "'%store -r' restores variables the dependency analysis cannot see: bind them in the task that uses them"
        : null,
  ],
  ['load', () => "'%load' replaces the cell's code: its names are not seen by the dependency analysis"],
]);

/** Python that IPython runs from inside a magic, at `at` in the cell's source. */
export interface Embedded {
  code: string;
  at: number;
  scope: 'module' | 'function';
}

export interface PreparedCell {
  /** What the analysis parses: the cell dedented, IPython syntax replaced. */
  code: string;
  /** 0-based line numbers that held IPython syntax. */
  magicLines: number[];
  /** Set when a cell magic runs something other than Python (`%%bash`): nothing to analyse. */
  cellMagic?: string;
  /** `%%timeit`: the body (after `setup`) runs inside a function. */
  functionBody?: { setup: Embedded | null };
  /** Python inside magic lines, by the offset in `code` of the `pass` that stands for the line. */
  embedded: ReadonlyMap<number, Embedded[]>;
  /** Offsets in the cell's source. */
  warnings: { message: string; at: number }[];
  /** Offset in the cell's source of an offset in `code`; null when they are the same. */
  toSource: ((at: number) => number) | null;
  /** The indentation removed from the cell's lines (IPython's `leading_indent`), '' when none. */
  indent: string;
  /** IPython lines that change the task's process: package installs, environment variables, the directory. */
  effects: ProcessEffect[];
}

/** `%pip install x`, `%env NAME=value`, `%cd dir`: they change the process a task runs in. */
export interface ProcessEffect {
  kind: 'install' | 'env' | 'cwd';
  /** The line, trimmed. */
  text: string;
  /** Offset in the cell's source. */
  at: number;
}

const PROCESS_EFFECTS: readonly [RegExp, ProcessEffect['kind']][] = [
  [/^[!%]{1,2}\s*(pip3?|conda|mamba|uv\s+pip)\s+(install|uninstall|remove)\b/, 'install'],
  [/^%(env\s+\S+\s*[= ]\s*\S|set_env\s)/, 'env'],
  [/^%cd\b/, 'cwd'],
];

const HELP = /^\s*(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$/u;
const MAGIC = /^\s*[%!]/;
const TARGET = String.raw`[\p{ID_Start}_][\p{ID_Continue}.]*`;
const MAGIC_ASSIGN = new RegExp(String.raw`^(\s*${TARGET}(\s*,\s*${TARGET})*\s*=\s*)([%!])(.*)$`, 'u');
const LINE_MAGIC = /^%([\w.]+)(.*)$/u;

/** IPython syntax at the start of a logical line. */
const isIPython = (line: string) => MAGIC.test(line) || HELP.test(line) || MAGIC_ASSIGN.test(line);

/**
 * Which lines start a logical line: outside a string literal, outside brackets and not after a
 * backslash continuation. Only those can hold IPython syntax: a `!important` line inside a
 * docstring, or `% args` continuing a bracketed expression, is Python. A small scanner for quotes,
 * comments and brackets is enough; IPython lines themselves are opaque (`!echo (` opens nothing).
 */
function logicalLineStarts(lines: readonly string[]): boolean[] {
  const out: boolean[] = [];
  let quote: string | null = null; // ''' or """ while inside a long string
  let depth = 0;
  let continued = false;
  for (const line of lines) {
    const starts = quote === null && depth === 0 && !continued;
    out.push(starts);
    continued = false;
    if (starts && isIPython(line)) {
      continued = line.trimEnd().endsWith('\\');
      continue;
    }
    let i = 0;
    while (i < line.length) {
      const ch = line[i]!;
      if (quote) {
        if (ch === '\\') i += 2;
        else if (line.startsWith(quote, i)) {
          i += 3;
          quote = null;
        } else i++;
        continue;
      }
      if (ch === '#') break;
      if (ch === '"' || ch === "'") {
        const triple = ch.repeat(3);
        if (line.startsWith(triple, i)) {
          quote = triple;
          i += 3;
          continue;
        }
        i++;
        while (i < line.length && line[i] !== ch) i += line[i] === '\\' ? 2 : 1;
        i++;
        continue;
      }
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if ((ch === ')' || ch === ']' || ch === '}') && depth > 0) depth--;
      else if (ch === '\\' && i === line.length - 1) continued = true;
      i++;
    }
  }
  return out;
}

const NO_EMBEDDED: ReadonlyMap<number, Embedded[]> = new Map();

/** Cheap tests first: most cells hold no IPython syntax and start unindented. */
const MAYBE_IPYTHON = /^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[%!]/m;
const STARTS_INDENTED = /^(?:[ \t]*\r?\n)*[ \t]/;

/**
 * Where the option arguments of a magic end (getopt rules, as IPython's `parse_options`): `-n 10`,
 * `-n10`, `-q`; the first word that is not an option starts the statement.
 */
function skipOptions(args: string, spec: string): number {
  let i = 0;
  for (;;) {
    while (i < args.length && (args[i] === ' ' || args[i] === '\t')) i++;
    if (args[i] !== '-' || i + 1 >= args.length) return i;
    const letter = args[i + 1]!;
    const k = spec.indexOf(letter);
    if (k < 0 || letter === ':') return i;
    i += 2;
    if (spec[k + 1] === ':') {
      if (i >= args.length || args[i] === ' ' || args[i] === '\t') {
        while (i < args.length && (args[i] === ' ' || args[i] === '\t')) i++;
      }
      while (i < args.length && args[i] !== ' ' && args[i] !== '\t') i++;
    } else if (i < args.length && args[i] !== ' ' && args[i] !== '\t') {
      // Flags may be grouped (`-qo`): the rest of the word is more options.
      while (i < args.length && args[i] !== ' ' && args[i] !== '\t') i++;
    }
  }
}

/**
 * The Python IPython evaluates when it expands a shell command or magic argument: `{expression}`
 * fields (`{{` is a brace) and `$name` / `$name.attr` outside single quotes (`$$` is a dollar).
 * `at` is the argument's offset; the results carry offsets relative to it.
 */
function expansions(text: string): { code: string; at: number }[] {
  const out: { code: string; at: number }[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") quoted = !quoted;
    else if (ch === '{') {
      if (text[i + 1] === '{') {
        i++;
        continue;
      }
      let depth = 0;
      let j = i + 1;
      let stop = -1;
      for (; j < text.length; j++) {
        const c = text[j]!;
        if (c === '(' || c === '[' || c === '{') depth++;
        else if ((c === ')' || c === ']') && depth > 0) depth--;
        else if (c === '}') {
          if (depth === 0) break;
          depth--;
        } else if (depth === 0 && stop < 0 && (c === '!' || c === ':') && text[j + 1] !== '=') stop = j;
      }
      if (j >= text.length) return out;
      const code = text.slice(i + 1, stop < 0 ? j : stop);
      if (code.trim()) out.push({ code, at: i + 1 });
      i = j;
    } else if (ch === '$' && !quoted) {
      if (text[i + 1] === '$') {
        i++;
        continue;
      }
      const m = /^[\p{L}\p{N}_][\p{L}\p{N}_.]*/u.exec(text.slice(i + 1));
      if (m && !/^\p{N}/u.test(m[0])) {
        out.push({ code: m[0].replace(/\.+$/, ''), at: i + 1 });
        i += m[0].length;
      }
    }
  }
  return out;
}

/** A line's text with one cut: columns from `col` on were `len` further right in the source. */
interface LineMap {
  /** Characters dedent removed from the start of the line. */
  shift: number;
  cutCol: number;
  cutLen: number;
}

class Builder {
  readonly lines: string[];
  readonly maps: LineMap[];
  readonly magicLines: number[] = [];
  readonly warnings: { message: string; at: number }[] = [];
  /** Embedded code by line, keyed later by the offset of its `pass`. */
  readonly embeddedByLine = new Map<number, Embedded[]>();
  readonly effects: ProcessEffect[] = [];
  changed = false;
  indent = '';

  constructor(
    readonly source: string,
    readonly sourceLines: readonly string[],
  ) {
    this.lines = [...sourceLines];
    this.maps = sourceLines.map(() => ({ shift: 0, cutCol: -1, cutLen: 0 }));
  }

  /** Offset in the source of column `col` of (dedented) line `line`. */
  sourceAt(line: number, col: number): number {
    let at = 0;
    for (let i = 0; i < line; i++) at += this.sourceLines[i]!.length + 1;
    return at + this.maps[line]!.shift + col;
  }

  /** IPython's `leading_indent`: the first non-blank line's indentation, removed wherever it starts a line. */
  dedent() {
    const first = this.lines.find((l) => l.trim() !== '');
    const space = first === undefined ? null : /^[ \t]+/.exec(first)?.[0];
    if (!space) return;
    this.changed = true;
    this.indent = space;
    this.lines.forEach((l, i) => {
      if (l.startsWith(space)) {
        this.lines[i] = l.slice(space.length);
        this.maps[i]!.shift = space.length;
      }
    });
  }

  replace(line: number, text: string) {
    this.lines[line] = text;
    this.changed = true;
  }

  embed(line: number, e: Embedded) {
    const list = this.embeddedByLine.get(line);
    if (list) list.push(e);
    else this.embeddedByLine.set(line, [e]);
  }

  /** `{x}` / `$x` fields of a shell command or magic argument that starts at `col` of `line`. */
  embedExpansions(line: number, col: number, text: string): boolean {
    const found = expansions(text);
    for (const f of found) this.embed(line, { code: f.code, at: this.sourceAt(line, col + f.at), scope: 'module' });
    return found.length > 0;
  }

  finish(extra: Partial<PreparedCell> = {}): PreparedCell {
    const code = this.lines.join('\n');
    const embedded = new Map<number, Embedded[]>();
    let toSource: PreparedCell['toSource'] = null;
    if (this.changed) {
      const codeStarts: number[] = [];
      const sourceStarts: number[] = [];
      let c = 0;
      let s = 0;
      this.lines.forEach((l, i) => {
        codeStarts.push(c);
        sourceStarts.push(s);
        c += l.length + 1;
        s += this.sourceLines[i]!.length + 1;
      });
      for (const [line, list] of this.embeddedByLine) {
        const indent = /^[ \t]*/.exec(this.lines[line]!)![0].length;
        embedded.set(codeStarts[line]! + indent, list);
      }
      const maps = this.maps;
      toSource = (at: number) => {
        let lo = 0;
        let hi = codeStarts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (codeStarts[mid]! <= at) lo = mid;
          else hi = mid - 1;
        }
        const m = maps[lo]!;
        const col = at - codeStarts[lo]!;
        return sourceStarts[lo]! + m.shift + col + (m.cutCol >= 0 && col >= m.cutCol ? m.cutLen : 0);
      };
    }
    return {
      code,
      magicLines: this.magicLines,
      embedded,
      warnings: this.warnings,
      toSource,
      indent: this.indent,
      effects: this.effects,
      ...extra,
    };
  }
}

export function prepareCell(source: string): PreparedCell {
  const c0 = source.charCodeAt(0);
  const indented = c0 === 32 || c0 === 9 || ((c0 === 10 || c0 === 13) && STARTS_INDENTED.test(source));
  if (
    !indented &&
    // IPython syntax needs one of these characters; indexOf is much faster than the regular expression.
    ((source.indexOf('%') < 0 && source.indexOf('!') < 0 && source.indexOf('?') < 0) || !MAYBE_IPYTHON.test(source))
  )
    return {
      code: source,
      magicLines: [],
      embedded: NO_EMBEDDED,
      warnings: [],
      toSource: null,
      indent: '',
      effects: [],
    };
  const b = new Builder(source, source.split('\n'));
  if (indented) b.dedent();
  const lines = b.lines;
  const firstCode = lines.findIndex((l) => l.trim() !== '');
  const first = firstCode >= 0 ? lines[firstCode]! : '';
  if (first.startsWith('%%')) {
    const m = /^%%(\S*)[ \t]*(.*)$/.exec(first.trimEnd())!;
    const name = m[1]!;
    const args = m[2]!;
    const argsCol = first.indexOf(args, 2 + name.length);
    if (!MODULE_BODY_CELL_MAGICS.has(name) && !FUNCTION_BODY_CELL_MAGICS.has(name)) {
      // `%%bash`, `%%html`, `%%python3` (a separate process): nothing runs in the namespace.
      lines.forEach((_, i) => b.replace(i, ''));
      b.magicLines.push(...lines.map((_, i) => i));
      return b.finish({ cellMagic: name });
    }
    b.replace(firstCode, '');
    b.magicLines.push(firstCode);
    if (name === 'capture') {
      // `%%capture [--no-stdout] [--no-stderr] [--no-display] [name]` binds name to the captured output.
      const target = args.split(/\s+/).find((w) => w && !w.startsWith('-'));
      if (target && /^[\p{ID_Start}_]\p{ID_Continue}*$/u.test(target)) b.replace(firstCode, `${target} = None`);
    } else if (name === 'prun' && args.trim()) {
      // `%%prun [options] statement`: the statement runs before the body.
      const stmt = skipOptions(args, CODE_LINE_MAGICS.get('prun')!.options);
      if (stmt < args.length) {
        b.replace(firstCode, args.slice(stmt));
        b.maps[firstCode]!.cutCol = 0;
        b.maps[firstCode]!.cutLen = argsCol + stmt;
      }
    }
    blankLines(b, firstCode + 1);
    if (FUNCTION_BODY_CELL_MAGICS.has(name)) {
      // `%%timeit [options] setup`: setup and body run inside a function, as `%timeit` does.
      const at = skipOptions(args, CODE_LINE_MAGICS.get('timeit')!.options);
      const setup = args.slice(at).trim()
        ? { code: args.slice(at), at: b.sourceAt(firstCode, argsCol + at), scope: 'function' as const }
        : null;
      return b.finish({ functionBody: { setup } });
    }
    return b.finish();
  }
  blankLines(b, 0);
  return b.finish();
}

/** Replaces the IPython lines from `from` on (see the module comment). */
function blankLines(b: Builder, from: number) {
  const lines = b.lines;
  const starts = logicalLineStarts(lines);
  let continuing = false;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    const indent = /^\s*/.exec(line)![0];
    const insideBlock = /^\s+\S/.test(line);
    if (continuing) {
      b.magicLines.push(i);
      continuing = line.trimEnd().endsWith('\\');
      b.replace(i, '');
      continue;
    }
    if (!starts[i] || !isIPython(line)) continue;
    b.magicLines.push(i);
    const effect = PROCESS_EFFECTS.find(([re]) => re.test(line.trim()));
    if (effect) b.effects.push({ kind: effect[1], text: line.trim(), at: b.sourceAt(i, indent.length) });
    const endsContinued = line.trimEnd().endsWith('\\');
    const assign = MAGIC_ASSIGN.exec(line);
    if (assign && !/[=!<>]$/.test(assign[1]!.trimEnd().slice(0, -1))) {
      // `files = !ls`, `t = %timeit -o f(x)`: the name is still bound.
      const prefix = assign[1]!;
      const rest = line.slice(prefix.length + 1);
      const magic = assign[3] === '%' ? magicLine(b, i, prefix.length, line.slice(prefix.length)) : null;
      if (magic === 'module') {
        // `r = %time f(x)`: r is the statement's value.
        continuing = false;
        continue;
      }
      const embeds = magic === 'function' || b.embedExpansions(i, prefix.length + 1, rest);
      b.replace(i, embeds ? `${indent}pass; ${prefix.trimStart()}None` : `${prefix}None`);
      continuing = endsContinued && magic !== 'function';
      continue;
    }
    if (HELP.test(line) && !MAGIC.test(line)) {
      b.replace(i, insideBlock ? `${indent}pass` : '');
      continuing = endsContinued;
      continue;
    }
    const body = line.slice(indent.length);
    let magic: 'module' | 'function' | null = null;
    let embeds = false;
    if (body.startsWith('%')) {
      magic = magicLine(b, i, indent.length, body);
      if (magic === 'module') {
        continuing = false;
        continue;
      }
      if (magic === null) {
        const m = LINE_MAGIC.exec(body);
        if (m) embeds = b.embedExpansions(i, indent.length + 1 + m[1]!.length, m[2]!);
      }
    } else if (body.startsWith('!')) embeds = b.embedExpansions(i, indent.length + 1, body.slice(1));
    b.replace(i, insideBlock || magic || embeds ? `${indent}pass` : '');
    continuing = endsContinued && magic !== 'function';
  }
}

/**
 * A `%magic args` that starts at column `col` of line `i`: a code magic is rewritten (module scope:
 * the statement takes the magic's place, its continuation lines stay Python) or embedded (function
 * scope); an opaque one is warned about. Returns the scope of a code magic, else null.
 */
function magicLine(b: Builder, i: number, col: number, text: string): 'module' | 'function' | null {
  const m = LINE_MAGIC.exec(text);
  if (!m) return null;
  const name = m[1]!;
  const args = m[2]!;
  const argsCol = col + 1 + name.length;
  const opaque = OPAQUE_LINE_MAGICS.get(name)?.(args);
  if (opaque) b.warnings.push({ message: opaque, at: b.sourceAt(i, col) });
  const spec = CODE_LINE_MAGICS.get(name);
  if (!spec || !/^\s/.test(args)) return null;
  const stmt = skipOptions(args, spec.options);
  if (stmt >= args.trimEnd().length) return null;
  if (spec.scope === 'function') {
    // Backslash-continued lines belong to the statement (the caller blanks them).
    let code = args.slice(stmt);
    for (let j = i + 1; code.trimEnd().endsWith('\\') && j < b.lines.length; j++) code += '\n' + b.lines[j];
    b.embed(i, { code, at: b.sourceAt(i, argsCol + stmt), scope: 'function' });
    return 'function';
  }
  const line = b.lines[i]!;
  b.replace(i, line.slice(0, col) + args.slice(stmt));
  b.maps[i]!.cutCol = col;
  b.maps[i]!.cutLen = argsCol + stmt - col;
  return 'module';
}
