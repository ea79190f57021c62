/**
 * The Python parser: statement and expression shapes, soft keywords, Python 3.12 syntax that the
 * installed CPython may not know yet, and recovery from syntax errors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Expr, Stmt } from '../src/python/ast.js';
import { parseModule } from '../src/python/parse.js';

const kinds = (src: string) => parseModule(src).map((s) => s.k);
const only = (src: string): Stmt => {
  const body = parseModule(src);
  expect(body).toHaveLength(1);
  return body[0]!;
};
const value = (src: string): Expr => {
  const s = only(src);
  if (s.k !== 'Expr') throw new Error(`not an expression statement: ${s.k}`);
  return s.value;
};

describe('parse', () => {
  it('parses every kind of statement', () => {
    const src = [
      'import a.b as c, d',
      'from ..m import (x as y, z,)',
      'from . import *',
      'x = y = 1',
      'x: int = 2',
      'x += 1',
      'del x, y[0]',
      'global g',
      'assert x, "m"',
      'raise E from err',
      'pass; x',
      'for i, *j in k:\n    break\nelse:\n    continue',
      'while x:\n    pass',
      'if a:\n    pass\nelif b:\n    pass\nelse:\n    pass',
      'with a as b, c:\n    pass',
      'try:\n    pass\nexcept* E as e:\n    pass\nfinally:\n    pass',
      'async def f():\n    async with a: pass\n    async for b in c: pass\n    return await d',
      '@deco\nclass K(B, metaclass=M):\n    def m(self): ...',
      'match p:\n    case _:\n        pass',
      'type T = int',
    ].join('\n');
    expect(kinds(src)).toEqual([
      'Import',
      'ImportFrom',
      'ImportFrom',
      'Assign',
      'AnnAssign',
      'AugAssign',
      'Delete',
      'Global',
      'Assert',
      'Raise',
      'Pass',
      'Expr',
      'For',
      'While',
      'If',
      'With',
      'Try',
      'FunctionDef',
      'ClassDef',
      'Match',
      'TypeAlias',
    ]);
  });

  it('follows operator precedence', () => {
    const e = value('not a or b and -c ** d * e + f < g if h else i');
    expect(e.k).toBe('IfExp');
    if (e.k !== 'IfExp') return;
    expect(e.body.k).toBe('BoolOp');
    if (e.body.k !== 'BoolOp') return;
    expect(e.body.op).toBe('or');
    expect(e.body.values.map((v) => v.k)).toEqual(['UnaryOp', 'BoolOp']);
    const pow = value('-2 ** 3');
    expect(pow.k === 'UnaryOp' && pow.operand.k).toBe('BinOp');
    const cmp = value('a < b is not c not in d');
    expect(cmp.k === 'Compare' && cmp.ops).toEqual(['<', 'is not', 'not in']);
  });

  it('parses displays, comprehensions, calls, slices and unpacking', () => {
    expect(value('[*a, b]').k).toBe('List');
    expect(value('{**a, "k": v}').k).toBe('Dict');
    expect(value('{a, *b}').k).toBe('Set');
    expect(value('{k: v for k, v in x if k async for y in z}').k).toBe('DictComp');
    expect(value('(x for x in y)').k).toBe('GeneratorExp');
    expect(value('()').k).toBe('Tuple');
    expect(value('(a)').k).toBe('Name');
    expect(value('(yield)').k).toBe('Yield');
    const call = value('f(a, *b, k=c, **d, e=(g := 1))');
    expect(call.k === 'Call' && call.args.map((a) => a.k)).toEqual([
      'Name',
      'Starred',
      'keyword',
      'keyword',
      'keyword',
    ]);
    const gen = value('sum(v for v in xs)');
    expect(gen.k === 'Call' && gen.args[0]!.k).toBe('GeneratorExp');
    const sub = value('m[a:b, ::2, i]');
    expect(sub.k === 'Subscript' && sub.slice.k === 'Tuple' && sub.slice.elts.map((e) => e.k)).toEqual([
      'Slice',
      'Slice',
      'Name',
    ]);
  });

  it('parses parameters: positional-only, keyword-only, defaults, annotations, * and **', () => {
    const f = only('def f(a, b: int = 1, /, c=2, *args: str, d, e=3, **kw) -> None: pass');
    expect(f.k === 'FunctionDef' && f.params.map((p) => [p.name, !!p.annotation, !!p.default])).toEqual([
      ['a', false, false],
      ['b', true, true],
      ['c', false, true],
      ['args', true, false],
      ['d', false, false],
      ['e', false, true],
      ['kw', false, false],
    ]);
    const l = value('lambda x, /, y=1, *, z=2, **k: x');
    expect(l.k === 'Lambda' && l.params.map((p) => p.name)).toEqual(['x', 'y', 'z', 'k']);
  });

  it('parses f-string replacement fields as expressions', () => {
    const e = value('f"{a!r:>{w}} {b[\'k\']=} {c + 1:.{p}f}"');
    expect(e.k).toBe('JoinedStr');
    if (e.k !== 'JoinedStr') return;
    expect(e.values.map((v) => [v.value.k, v.spec.map((s) => s.value.k)])).toEqual([
      ['Name', ['Name']],
      ['Subscript', []],
      ['BinOp', ['Name']],
    ]);
  });

  it('parses Python 3.12 syntax: type aliases, type parameters, quotes reused inside f-strings', () => {
    const t = only('type Pair[T: int, *Ts, **P] = tuple[T, T]');
    expect(t.k === 'TypeAlias' && t.typeParams.map((p) => p.name)).toEqual(['T', 'Ts', 'P']);
    const f = only('def first[T](p: list[T]) -> T: return p[0]');
    expect(f.k === 'FunctionDef' && f.typeParams.map((p) => p.name)).toEqual(['T']);
    expect(kinds('class Box[T](Base[T]): pass')).toEqual(['ClassDef']);
    const s = value('f"{d["k"]} {f"{x}"}"');
    expect(s.k === 'JoinedStr' && s.values.map((v) => v.value.k)).toEqual(['Subscript', 'JoinedStr']);
  });

  it('treats soft keywords as names where their statement does not parse', () => {
    expect(kinds('match = 1\nmatch(x)\nmatch[0]\ntype = 2\ntype(x)\nmatch x:\n    case 1:\n        pass')).toEqual([
      'Assign',
      'Expr',
      'Expr',
      'Assign',
      'Expr',
      'Match',
    ]);
  });

  it('parses match patterns', () => {
    const m = only(
      'match p:\n    case [1, *rest] | (2 | 3) as g if g: pass\n    case {"k": v, **kw}: pass\n    case K.V(a, b=c.D): pass\n    case -1 | 1+2j | "s" | None: pass\n    case x, _: pass',
    );
    expect(m.k === 'Match' && m.cases.map((c) => c.pattern.k)).toEqual([
      'MatchAs',
      'MatchMapping',
      'MatchClass',
      'MatchOr',
      'MatchSequence',
    ]);
  });

  it('parses parenthesized with items (Python 3.9+) and parenthesized context expressions', () => {
    const w = only('with (open(a) as f, open(b) as g,):\n    pass');
    expect(w.k === 'With' && w.items.map((i) => i.vars?.k)).toEqual(['Name', 'Name']);
    const v = only('with (a, b) as c:\n    pass');
    expect(v.k === 'With' && v.items.map((i) => [i.context.k, i.vars?.k])).toEqual([['Tuple', 'Name']]);
  });

  it('turns a statement that does not parse into an Error and goes on with the next line', () => {
    expect(kinds('x = = 1\ny = 2')).toEqual(['Error', 'Assign']);
    expect(kinds('f() = 1\ndel f()\nfor 1 in x: pass\n[a, b] += 1\ny = 2')).toEqual([
      'Error',
      'Error',
      'Error',
      'Error',
      'Assign',
    ]);
    expect(kinds('x = f(1,\ndef g():\n    pass\n')).toEqual(['Error', 'FunctionDef']);
    expect(kinds('def f(:)\n    x = 1\ny = 2')).toEqual(['Error', 'Error', 'Assign', 'Assign']);
    const err = parseModule('a = 1; b = c $ d\ne = 2')[0]!;
    expect(err.k === 'Error' && err.names.map((n) => n.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('parses the examples without errors', () => {
    const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
    const sources: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d, { withFileTypes: true })) {
        if (f.isDirectory()) walk(`${d}${f.name}/`);
        else if (f.name.endsWith('.py')) sources.push(readFileSync(d + f.name, 'utf8'));
      }
    };
    walk(dir);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) expect(JSON.stringify(parseModule(src))).not.toContain('"k":"Error"');
  });
});
