/**
 * Python's tokenizer (the lexical rules of the language reference): names, numbers, strings with
 * their prefixes, operators, and the NEWLINE/INDENT/DEDENT tokens that give blocks their shape.
 * Newlines inside brackets and after a backslash join lines, as in Python.
 *
 * An f-string stays one STRING token that lists where its replacement fields' expressions are, so
 * the parser can parse them like any other expression.
 */

export enum T {
  Name,
  Number,
  String,
  Op,
  Newline,
  Indent,
  Dedent,
  End,
  /** Something Python's tokenizer rejects: the parser reports it as a syntax error. */
  Error,
}

/** One `{…}` of an f-string: the expression's source range and the fields nested in its format spec. */
export interface FField {
  from: number;
  to: number;
  spec: FField[] | null;
}

export interface Token {
  type: T;
  /** The identifier or operator text; empty for other tokens. */
  value: string;
  at: number;
  end: number;
  /** Set on f-strings (possibly empty). */
  fields?: FField[];
  /** Set on bytes literals. */
  bytes?: boolean;
}

const OPS3 = new Set(['**=', '//=', '>>=', '<<=', '...']);
const OPS2 = new Set([
  '**',
  '//',
  '>>',
  '<<',
  '<=',
  '>=',
  '==',
  '!=',
  '->',
  ':=',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '@=',
]);
/** Single-character operators and delimiters, by character code. */
const OPS1: readonly boolean[] = Array.from({ length: 128 }, (_, c) =>
  '+-*/%@&|^~<>()[]{},:;.='.includes(String.fromCharCode(c)),
);

const ID_START = /[\p{ID_Start}_]/u;
const ID_CONTINUE = /\p{ID_Continue}/u;
/** An identifier after NFKC normalisation (Python's `str.isidentifier`, PEP 3131). */
const IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

/** The character (a whole code point: two UTF-16 units outside the Basic Multilingual Plane) at `i`. */
function charAt(src: string, i: number): string {
  const c = src.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < src.length ? src.slice(i, i + 2) : src[i]!;
}

function isIdStart(c: number, ch: string): boolean {
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
  return ID_START.test(ch);
}

function isIdContinue(c: number, ch: string): boolean {
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);
  return ID_CONTINUE.test(ch);
}

/**
 * The end of the identifier that starts at `i` (a character isIdStart accepts). Non-ASCII characters
 * are read whole, so `𝜋` (U+1D70B) is one character, not two halves of a surrogate pair.
 */
function identifierEnd(src: string, i: number, to: number): number {
  i += charAt(src, i).length;
  while (i < to) {
    const c = src.charCodeAt(i);
    if (c < 128) {
      if (!isIdContinue(c, '')) break;
      i++;
    } else {
      const ch = charAt(src, i);
      if (!ID_CONTINUE.test(ch)) break;
      i += ch.length;
    }
  }
  return i;
}

/**
 * Python reads identifiers in NFKC normal form (PEP 3131): `𝜋` and `π` are the same name, and so are
 * `ﬁle` and `file`. ASCII names (nearly all) are returned as they are.
 */
export function normalizeName(raw: string): string {
  for (let k = 0; k < raw.length; k++) if (raw.charCodeAt(k) >= 128) return raw.normalize('NFKC');
  return raw;
}

/** Whether `name` is a Python identifier as Python reads it (after NFKC normalisation). */
export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(normalizeName(name));
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** Prefix letters (lower case) that may precede a quote. */
const STRING_PREFIXES = new Set(['r', 'u', 'b', 'f', 'br', 'rb', 'fr', 'rf']);

class Unterminated extends Error {}

/** Scans strings, including the replacement fields of f-strings and strings nested in them. */
class StringScanner {
  constructor(readonly src: string) {}

  /** From the opening quote at `i`; returns the index after the closing quote. */
  string(i: number, prefix: string, fields: FField[] | null): number {
    const src = this.src;
    const raw = prefix.includes('r');
    const q = src[i]!;
    const triple = src.startsWith(q + q + q, i);
    i += triple ? 3 : 1;
    for (;;) {
      if (i >= src.length) throw new Unterminated();
      const c = src[i]!;
      if (c === '\\') {
        // `\N{NAME}` is a character escape, not a replacement field; `\{` is a backslash and a field.
        if (!raw && fields && src[i + 1] === 'N' && src[i + 2] === '{') {
          const close = src.indexOf('}', i);
          if (close < 0) throw new Unterminated();
          i = close + 1;
        } else i += fields && src[i + 1] === '{' ? 1 : 2;
      } else if (c === q && (!triple || src.startsWith(q + q + q, i))) {
        return i + (triple ? 3 : 1);
      } else if (c === '\n' && !triple) {
        throw new Unterminated();
      } else if (fields && c === '{') {
        if (src[i + 1] === '{') i += 2;
        else i = this.field(i + 1, fields);
      } else i++;
    }
  }

  /** A replacement field from just after its `{`; returns the index after its `}`. */
  field(i: number, fields: FField[]): number {
    const src = this.src;
    const from = i;
    let to = -1;
    let depth = 0;
    for (;;) {
      if (i >= src.length) throw new Unterminated();
      const c = src[i]!;
      const next = src[i + 1];
      if (c === '(' || c === '[' || c === '{') {
        depth++;
        i++;
      } else if (c === ')' || c === ']' || (c === '}' && depth > 0)) {
        depth--;
        i++;
      } else if (c === '}') {
        fields.push({ from, to: to < 0 ? i : to, spec: null });
        return i + 1;
      } else if (c === '"' || c === "'") {
        i = this.string(i, '', null);
      } else if (isIdStart(c.charCodeAt(0), c)) {
        const start = i;
        while (i < src.length && isIdContinue(src.charCodeAt(i), src[i]!)) i++;
        const word = src.slice(start, i).toLowerCase();
        if ((src[i] === '"' || src[i] === "'") && STRING_PREFIXES.has(word))
          i = this.string(i, word, word.includes('f') ? [] : null);
      } else if (depth === 0 && (c === '!' || c === '=' || c === '<' || c === '>') && next === '=') {
        i += 2;
      } else if (depth === 0 && c === '=') {
        // `{x=}`: the expression's text is printed too.
        if (to < 0) to = i;
        i++;
      } else if (depth === 0 && c === '!') {
        if (to < 0) to = i;
        i++;
        while (i < src.length && src[i] !== ':' && src[i] !== '}') i++;
      } else if (depth === 0 && c === ':') {
        if (to < 0) to = i;
        const spec: FField[] = [];
        i++;
        for (;;) {
          if (i >= src.length) throw new Unterminated();
          const s = src[i]!;
          if (s === '}') break;
          if (s === '{') i = this.field(i + 1, spec);
          else if (s === '\n' || s === '"' || s === "'") throw new Unterminated();
          else i++;
        }
        fields.push({ from, to, spec });
        return i + 1;
      } else i++;
    }
  }
}

export interface TokenizeOptions {
  /** Start inside brackets (an f-string field): newlines join and no NEWLINE/INDENT is produced. */
  nested?: boolean;
}

/** Tokens of `src[from, to)`, always ending with an End token. */
export function tokenize(src: string, from = 0, to = src.length, options: TokenizeOptions = {}): Token[] {
  const tokens: Token[] = [];
  const indents = [0];
  const nested = options.nested ?? false;
  let depth = 0;
  let i = from;
  let lineStart = !nested;
  /** Whether the current logical line has a token (a NEWLINE ends it). */
  let inLine = false;
  const scanner = new StringScanner(src);
  const push = (type: T, value: string, at: number, end: number) => {
    tokens.push({ type, value, at, end });
    inLine = true;
  };

  while (i < to) {
    if (lineStart) {
      lineStart = false;
      let col = 0;
      let j = i;
      for (; j < to; j++) {
        const c = src[j];
        if (c === ' ') col++;
        else if (c === '\t') col = (col & ~7) + 8;
        else if (c === '\f') col = 0;
        else break;
      }
      i = j;
      const c = src[j];
      // Blank and comment-only lines do not count for indentation.
      if (j >= to || c === '\n' || c === '\r' || c === '#' || (c === '\\' && src[j + 1] === '\n')) continue;
      const top = indents[indents.length - 1]!;
      if (col > top) {
        indents.push(col);
        tokens.push({ type: T.Indent, value: '', at: j, end: j });
      } else if (col < top) {
        while (col < indents[indents.length - 1]!) {
          indents.pop();
          tokens.push({ type: T.Dedent, value: '', at: j, end: j });
        }
        if (col !== indents[indents.length - 1])
          tokens.push({ type: T.Error, value: 'unindent does not match any outer indentation level', at: j, end: j });
      }
      continue;
    }
    const code = src.charCodeAt(i);
    const ch = src[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\f' || ch === '\r') {
      i++;
    } else if (ch === '\n') {
      // An unclosed bracket would swallow the rest of the cell: a line that can only start a
      // statement ends it instead (the parser reports the bracket), so the rest is still analysed.
      if (depth > 0 && !nested && startsStatement(src, i + 1, to)) depth = 0;
      if (depth === 0 && !nested) {
        if (inLine) tokens.push({ type: T.Newline, value: '', at: i, end: i + 1 });
        inLine = false;
        lineStart = true;
      }
      i++;
    } else if (ch === '#') {
      while (i < to && src[i] !== '\n') i++;
    } else if (ch === '\\' && (src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n'))) {
      i += src[i + 1] === '\n' ? 2 : 3;
    } else if (isIdStart(code, code < 128 ? ch : charAt(src, i))) {
      const start = i;
      i = identifierEnd(src, i, to);
      const q = src[i];
      if ((q === '"' || q === "'") && i - start <= 2) {
        const prefix = src.slice(start, i).toLowerCase();
        if (STRING_PREFIXES.has(prefix)) {
          i = stringToken(prefix, start, i);
          continue;
        }
      }
      const raw = src.slice(start, i);
      const name = normalizeName(raw);
      if (name !== raw && !IDENTIFIER.test(name)) push(T.Error, `invalid identifier '${raw}'`, start, i);
      else push(T.Name, name, start, i);
    } else if (isDigit(code) || (ch === '.' && isDigit(src.charCodeAt(i + 1)))) {
      const start = i;
      i = number(src, i, to);
      push(T.Number, '', start, i);
    } else if (ch === '"' || ch === "'") {
      i = stringToken('', i, i);
    } else {
      // Every operator of two or three characters has one of these second characters.
      const c1 = src[i + 1];
      const longer = c1 === '=' || c1 === '*' || c1 === '/' || c1 === '>' || c1 === '<' || c1 === '.';
      let op: string;
      if (longer && OPS3.has(src.slice(i, i + 3))) op = src.slice(i, i + 3);
      else if (longer && OPS2.has(src.slice(i, i + 2))) op = src.slice(i, i + 2);
      else if (code < 128 && OPS1[code]) op = ch;
      else {
        const whole = charAt(src, i);
        const hex = whole.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        push(
          T.Error,
          code < 128 ? `invalid character '${ch}'` : `invalid character '${whole}' (U+${hex})`,
          i,
          i + whole.length,
        );
        i += whole.length;
        continue;
      }
      if (op === '(' || op === '[' || op === '{') depth++;
      else if ((op === ')' || op === ']' || op === '}') && depth > 0) depth--;
      push(T.Op, op, i, i + op.length);
      i += op.length;
    }
  }
  if (inLine && !nested) tokens.push({ type: T.Newline, value: '', at: to, end: to });
  for (let k = indents.length - 1; k > 0; k--) tokens.push({ type: T.Dedent, value: '', at: to, end: to });
  tokens.push({ type: T.End, value: '', at: to, end: to });
  return tokens;

  function stringToken(prefix: string, start: number, quoteAt: number): number {
    const fields = prefix.includes('f') ? [] : null;
    let end: number;
    try {
      end = scanner.string(quoteAt, prefix, fields);
    } catch (e) {
      if (!(e instanceof Unterminated)) throw e;
      push(T.Error, 'unterminated string literal', start, to);
      return to;
    }
    if (end > to) {
      push(T.Error, 'unterminated string literal', start, to);
      return to;
    }
    push(T.String, '', start, end);
    const tok = tokens[tokens.length - 1]!;
    if (fields) tok.fields = fields;
    if (prefix.includes('b')) tok.bytes = true;
    return end;
  }
}

/** Keywords that never start a line inside brackets in valid code. */
const STATEMENT_KEYWORDS = new Set([
  'def',
  'class',
  'return',
  'import',
  'pass',
  'raise',
  'del',
  'global',
  'nonlocal',
  'assert',
  'break',
  'continue',
  'try',
  'except',
  'finally',
  'while',
  'elif',
  'with',
]);

function startsStatement(src: string, i: number, to: number): boolean {
  while (i < to && (src[i] === ' ' || src[i] === '\t')) i++;
  const start = i;
  while (i < to && isIdContinue(src.charCodeAt(i), src[i]!)) i++;
  return i > start && STATEMENT_KEYWORDS.has(src.slice(start, i)) && !isIdContinue(src.charCodeAt(i), src[i] ?? ' ');
}

/** Decimal, hex, octal and binary integers, floats, exponents, imaginary suffixes, `_` separators. */
function number(src: string, i: number, to: number): number {
  const c1 = src[i + 1];
  if (src[i] === '0' && c1 && 'xXoObB'.includes(c1)) {
    i += 2;
    while (i < to && /[0-9a-fA-F_]/.test(src[i]!)) i++;
    return i;
  }
  const digits = () => {
    while (i < to && (isDigit(src.charCodeAt(i)) || src[i] === '_')) i++;
  };
  digits();
  if (src[i] === '.') {
    i++;
    digits();
  }
  if (
    (src[i] === 'e' || src[i] === 'E') &&
    (isDigit(src.charCodeAt(i + 1)) || ((src[i + 1] === '+' || src[i + 1] === '-') && isDigit(src.charCodeAt(i + 2))))
  ) {
    i += 2;
    digits();
  }
  if (src[i] === 'j' || src[i] === 'J') i++;
  return i;
}
