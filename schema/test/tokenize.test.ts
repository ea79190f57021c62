/** The Python tokenizer: tokens and their kinds, line structure, strings and f-string fields. */
import { T, tokenize, type FField } from '../src/python/tokenize.js';

const kinds = (src: string) =>
  tokenize(src).map((t) => {
    switch (t.type) {
      case T.Name:
      case T.Op:
        return t.value;
      case T.Number:
        return `num:${src.slice(t.at, t.end)}`;
      case T.String:
        return `str:${src.slice(t.at, t.end)}`;
      case T.Newline:
        return 'NL';
      case T.Indent:
        return 'IN';
      case T.Dedent:
        return 'DE';
      case T.End:
        return 'END';
      case T.Error:
        return `ERR:${t.value}`;
    }
  });

describe('tokenize', () => {
  it('gives blocks their NEWLINE, INDENT and DEDENT tokens; blank and comment lines do not count', () => {
    expect(kinds('if x:\n    y = 1\n\n      # note\n    z\nw\n')).toEqual([
      'if',
      'x',
      ':',
      'NL',
      'IN',
      'y',
      '=',
      'num:1',
      'NL',
      'z',
      'NL',
      'DE',
      'w',
      'NL',
      'END',
    ]);
  });

  it('closes open blocks and the last line at the end of the source', () => {
    expect(kinds('def f():\n\tif a:\n\t\treturn')).toEqual([
      'def',
      'f',
      '(',
      ')',
      ':',
      'NL',
      'IN',
      'if',
      'a',
      ':',
      'NL',
      'IN',
      'return',
      'NL',
      'DE',
      'DE',
      'END',
    ]);
  });

  it('joins lines inside brackets and after a backslash', () => {
    expect(kinds('x = (1,\n  2) + \\\n  3\n')).toEqual([
      'x',
      '=',
      '(',
      'num:1',
      ',',
      'num:2',
      ')',
      '+',
      'num:3',
      'NL',
      'END',
    ]);
  });

  it('reads the longest operator', () => {
    expect(kinds('a **= b //= c @= d; (e := f) -> ... != g <<= h >>= i ** j // k')).toEqual([
      'a',
      '**=',
      'b',
      '//=',
      'c',
      '@=',
      'd',
      ';',
      '(',
      'e',
      ':=',
      'f',
      ')',
      '->',
      '...',
      '!=',
      'g',
      '<<=',
      'h',
      '>>=',
      'i',
      '**',
      'j',
      '//',
      'k',
      'NL',
      'END',
    ]);
  });

  it('reads numbers with bases, separators, exponents and imaginary suffixes', () => {
    expect(kinds('0x_FF 1_000.5e-3j .5 1e10 0o17 0b1 7.')).toEqual([
      'num:0x_FF',
      'num:1_000.5e-3j',
      'num:.5',
      'num:1e10',
      'num:0o17',
      'num:0b1',
      'num:7.',
      'NL',
      'END',
    ]);
  });

  it('reads strings with prefixes, triple quotes and escaped quotes as one token each', () => {
    const src = `rb'a\\'' Fr"{x}" '''multi\nline ' '' ''' u"q" b"\\"" R'\\d'`;
    expect(kinds(src)).toEqual([
      `str:rb'a\\''`,
      'str:Fr"{x}"',
      "str:'''multi\nline ' '' '''",
      'str:u"q"',
      'str:b"\\""',
      "str:R'\\d'",
      'NL',
      'END',
    ]);
    // A raw string cannot end in an odd backslash either.
    expect(kinds("r'\\'")).toContain('ERR:unterminated string literal');
  });

  it('reads non-ASCII identifiers', () => {
    expect(kinds('größe = π')).toEqual(['größe', '=', 'π', 'NL', 'END']);
  });

  it('lists the expressions of f-string replacement fields, with nested quotes, conversions, specs and `=`', () => {
    const src = `f"{a!r:>{w}} {b['k']} {c=} {{lit}} {d:{e}.{g}} {h != i} {'}'} {x:%H:%M} {f'{y}'}"`;
    const [tok] = tokenize(src);
    const text = (fs: FField[]): unknown[] =>
      fs.map((f) => (f.spec ? [src.slice(f.from, f.to), text(f.spec)] : src.slice(f.from, f.to)));
    expect(text(tok!.fields!)).toEqual([
      ['a', ['w']],
      "b['k']",
      'c',
      ['d', ['e', 'g']],
      'h != i',
      "'}'",
      ['x', []],
      "f'{y}'",
    ]);
  });

  it('keeps `\\N{NAME}` escapes out of replacement fields, not a field after a backslash', () => {
    const fields = (src: string) => tokenize(src)[0]!.fields!.map((f) => src.slice(f.from, f.to));
    expect(fields(String.raw`f"\N{BULLET} {x}"`)).toEqual(['x']);
    expect(fields(String.raw`rf"\{x}\d{y}"`)).toEqual(['x', 'y']);
  });

  it('reports unterminated strings and inconsistent dedents as errors', () => {
    expect(kinds('x = """never closed\nprint(y)')).toEqual(['x', '=', 'ERR:unterminated string literal', 'NL', 'END']);
    expect(kinds("s = 'open\n")).toContain('ERR:unterminated string literal');
    expect(kinds('if a:\n    b\n  c\n')).toContain('ERR:unindent does not match any outer indentation level');
    expect(kinds('a $ b')).toEqual(['a', "ERR:invalid character '$'", 'b', 'NL', 'END']);
  });

  it('reads Unicode identifiers whole and in the NFKC form Python uses', () => {
    expect(kinds('Π = δx + 𝜋\n')).toEqual(['Π', '=', 'δx', '+', 'π', 'NL', 'END']);
    expect(kinds('ﬁle_𝟙 = 1')).toEqual(['file_1', '=', 'num:1', 'NL', 'END']);
    expect(kinds('a € b')).toEqual(['a', "ERR:invalid character '€' (U+20AC)", 'b', 'NL', 'END']);
    expect(kinds('a 😀 b')).toEqual(['a', "ERR:invalid character '😀' (U+1F600)", 'b', 'NL', 'END']);
  });

  it('ends an unclosed bracket at a line that can only start a statement', () => {
    expect(kinds('x = f(1,\ndef g(): pass\n')).toEqual([
      'x',
      '=',
      'f',
      '(',
      'num:1',
      ',',
      'NL',
      'def',
      'g',
      '(',
      ')',
      ':',
      'pass',
      'NL',
      'END',
    ]);
  });
});
