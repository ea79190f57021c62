/**
 * IPython syntax in code cells: line magics (`%matplotlib inline`), shell escapes (`!pip install x`),
 * help (`x?`, `?x`), magic assignments (`files = !ls`) and cell magics (`%%time`). The cell keeps
 * them for execution; the analysis sees them replaced by blank lines (or `pass` inside a block) so
 * line numbers and the columns of every other line stay right.
 */

/** Cell magics whose body is ordinary Python in the notebook's namespace. */
const PYTHON_BODY_CELL_MAGICS = new Set([
  'time',
  'timeit',
  'capture',
  'prun',
  'memit',
  'debug',
  'pypy',
  'python',
  'python3',
]);

export interface Blanked {
  code: string;
  /** 0-based line numbers that held IPython syntax. */
  magicLines: number[];
  /** Set when a cell magic runs something other than Python (`%%bash`): nothing to analyse. */
  cellMagic?: string;
}

const HELP = /^\s*(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$/;
const MAGIC = /^\s*[%!]/;
const MAGIC_ASSIGN = /^(\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*)[%!](.*)$/;

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

function replacement(line: string, insideBlock: boolean): string {
  const indent = /^\s*/.exec(line)![0];
  return insideBlock ? `${indent}pass` : '';
}

/** Cheap test first: most cells hold no IPython syntax at all. */
const MAYBE_IPYTHON = /^[ \t]*[%!?]|\?[ \t]*$|=[ \t]*[%!]/m;

export function blankMagics(source: string): Blanked {
  if (!MAYBE_IPYTHON.test(source)) return { code: source, magicLines: [] };
  const lines = source.split('\n');
  const firstCode = lines.findIndex((l) => l.trim() !== '');
  const first = firstCode >= 0 ? lines[firstCode]!.trim() : '';
  if (first.startsWith('%%')) {
    const name = /^%%(\S*)/.exec(first)![1]!;
    if (!PYTHON_BODY_CELL_MAGICS.has(name)) {
      return { code: lines.map(() => '').join('\n'), magicLines: lines.map((_, i) => i), cellMagic: name };
    }
    lines[firstCode] = '';
    const body = blankLines(lines);
    return { code: body.code, magicLines: [firstCode, ...body.magicLines].sort((a, b) => a - b) };
  }
  return blankLines(lines);
}

function blankLines(lines: string[]): Blanked {
  const starts = logicalLineStarts(lines);
  const magicLines: number[] = [];
  let continuing = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const insideBlock = /^\s+\S/.test(line);
    if (continuing) {
      magicLines.push(i);
      continuing = line.trimEnd().endsWith('\\');
      lines[i] = '';
      continue;
    }
    if (!starts[i]) continue;
    const assign = MAGIC_ASSIGN.exec(line);
    if (assign && !/[=!<>]$/.test(assign[1]!.trimEnd().slice(0, -1))) {
      // `files = !ls`: the name is still bound; its value is IPython's business.
      lines[i] = `${assign[1]}None`;
      magicLines.push(i);
      continuing = line.trimEnd().endsWith('\\');
      continue;
    }
    if (MAGIC.test(line) || HELP.test(line)) {
      lines[i] = replacement(line, insideBlock);
      magicLines.push(i);
      continuing = line.trimEnd().endsWith('\\');
    }
  }
  return { code: lines.join('\n'), magicLines };
}
