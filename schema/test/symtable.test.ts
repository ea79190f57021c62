/**
 * The analysis agrees with CPython's own `symtable` about which module-level names a cell reads
 * (including free globals of its functions, lambdas, classes and comprehensions) and binds. Names
 * where the two differ on purpose are left out of the comparison: augmented-assignment targets (a
 * read at run time, which symtable does not mark), bare annotations (`x: int` binds nothing at run
 * time) and walrus targets inside comprehensions (symtable files them under the comprehension).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analyzePython } from '../src/index.js';

const PY = `
import ast, json, sys, symtable
out = []
for src in json.load(sys.stdin):
    top = symtable.symtable(src, "<cell>", "exec")
    reads, binds, gwrites = set(), set(), set()
    for s in top.get_symbols():
        if s.is_referenced(): reads.add(s.get_name())
        if s.is_assigned() or s.is_imported() or s.is_namespace(): binds.add(s.get_name())
    def walk(t):
        for s in t.get_symbols():
            if (s.is_global() or s.is_declared_global()) and s.is_referenced(): reads.add(s.get_name())
            if s.is_declared_global() and s.is_assigned(): gwrites.add(s.get_name())
        for c in t.get_children(): walk(c)
    for c in top.get_children(): walk(c)
    skip = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name): skip.add(node.target.id)
        if isinstance(node, ast.AnnAssign) and node.value is None and isinstance(node.target, ast.Name): skip.add(node.target.id)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.NamedExpr): skip.add(sub.target.id)
    out.append({"reads": sorted(reads - skip), "binds": sorted(binds - skip), "globalWrites": sorted(gwrites - skip), "skip": sorted(skip)})
print(json.dumps(out))
`;

const snippets = [
  'import os.path, json as j\nfrom math import pi as PI, e\nprint(os, j, PI, e)',
  'x = [v * k for v in xs if v > w]\ny = {a: b for a, b in pairs}\nz = (q for q in qs)\nw2 = {s for s in ss}',
  'def f(a, *b, c=d, **e):\n    import os as o\n    for i in range(a):\n        with open(i) as fh:\n            yield [x for x in fh if x not in g]\n',
  'class A(B):\n    x = 1\n    y = x + 1\n    def m(self, q=x):\n        return self.y + h(q)\n    @staticmethod\n    def s():\n        return [A for _ in k]\n',
  'try:\n    import numpy as np\nexcept ImportError as exc:\n    np = None\nelse:\n    v = np.zeros(3)\nfinally:\n    done = True\n',
  'def outer(n):\n    total = 0\n    def inner(k):\n        nonlocal total\n        total += k * factor\n        return total\n    return inner\n',
  'def bump():\n    global counter, other\n    counter = counter + 1\n    return other\n',
  'r = sorted(items, key=lambda kv: (kv[1], weight[kv[0]]))\nfirst, *rest = r\n',
  'match point:\n    case Point(x=0, y=yy) if yy > limit:\n        where = "y"\n    case [a, b, *others]:\n        where = a\n    case {"k": vv, **kw}:\n        where = vv\n    case Color.RED | Color.GREEN:\n        where = None\n    case _:\n        pass\n',
  'async def main():\n    async with session() as s:\n        async for row in s.rows(q):\n            await sink.put(row)\n',
  'data = {k: [v2 for v2 in vs if v2 > thr] for k, vs in groups.items()}\ngen = (a * b for a in xs for b in ys if a != b)\n',
  'if (m := pattern.match(line)) is not None:\n    key = m.group(1)\nwhile (chunk := f.read(10)):\n    buf += chunk\n',
  'x: int = 3\ny: "T" = x\nz: int\ndel y\nprint(f"{x!r:>{width}} {y2=}")\n',
  '@decorate(arg=opt)\nclass D:\n    @property\n    def p(self):\n        return helper(self)\n',
  'total = 0\nfor i, (j, *k) in enumerate(rows):\n    total += i\nelse:\n    done = True\n',
  'def gen():\n    x = yield from source()\n    return [y async for y in x] if x else lam(lambda: z)\n',
  'def deco(fn):\n    def wrapper(*a, **kw):\n        log.append(fn.__name__)\n        return fn(*a, **kw)\n    return wrapper\n',
  'class Meta(type):\n    def __new__(mcs, name, bases, ns, **kw):\n        return super().__new__(mcs, name, bases, ns)\nclass K(metaclass=Meta, flag=F):\n    pass\n',
  'cfg["a"] = cfg.get("a", 0) + 1\nobj.attr.sub = value\nseq[i:j] = other\n',
  'with ctx() as ab, other as c:\n    print(ab, c)\n',
  'def f():\n    def g():\n        global gx\n        gx = 1\n    return g\n',
  'import importlib\nmod = importlib.import_module(name)\nassert mod, "missing"\nraise SystemExit(code) from err\n',
  "print(f\"{a!r:>{w}} {b['k']:{fmt}} {f'{c}'} {d=} {e + 1:.{p}f} {'x' if q else 'y'} {(lambda t: t * m)(2)}\")\n",
  'match cmd:\n    case {"x": [1, *_]} | (2 | 3) as g if g > lim:\n        r = g\n    case K.V(a, b=B.c) if (cnt := a):\n        pass\n    case -1 | 1+2j | "s" | None:\n        pass\n    case (first, *mid, last):\n        pass\n',
  'print([y := f(x), y ** 2])\nif any((z := v) > lim for v in vs):\n    print(z)\nwhile (line := read()) != stop:\n    seen.add(line)\n',
  '@functools.lru_cache(maxsize=size)\n@register[kind]\ndef cached(x, /, y=dflt, *, z: Z = zz, **kw) -> R:\n    return x + y + z + glob\n',
  'fs = [lambda a, b=i, *c, d=j, **e: a + b + k for i in range(3)]\ng = lambda *, key=kd: key or other\n',
  'class C:\n    xs = [1, 2]\n    n = 3\n    ys = [x * n for x in xs]\n    zs = {k: xs for k in ks}\n    gen = (xs for _ in range(n))\n',
  'def a():\n    global G1\n    x = 0\n    def b():\n        nonlocal x\n        global G2\n        x += G1\n        G2 = x\n    return b\n',
  "args.extend('%s=%r' % (k, v) for k, v in kw.items())\nlabels = dict((name, i) for i, name in enumerate(names))\n",
  'with (open(src) as f, open(dst, "w") as g):\n    g.write(f.read())\n',
  'try:\n    run()\nexcept* (ValueError, TypeError) as eg:\n    log(eg)\nexcept* OSError:\n    pass\n',
  'async def main(urls):\n    pages = [await fetch(u) async for u in aiter_(urls) if u]\n    return {p async for p in stream}\n',
  'd = {**base, "k": v, **{kk: vv for kk, vv in items}}\nprint(*args, sep=s, **opts)\nparts = seq[a:b:c], seq[::2], m[i, j:k]\nok = lo < val <= hi is not None and key not in seen\n',
  '𝜋 = 3.14\nΠ = [𝜋 * k for k in ks]\ndef area(r):\n    return π * r ** 2 * ﬁx\n',
  'def outer():\n    def inner(q=outer_default):\n        return q\n    class Local(Base):\n        attr = inner\n    return Local\nx = outer()\ndel x\n',
];

describe('agreement with CPython symtable', () => {
  const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
  const exampleCells = [
    'quickstart.ipynb',
    'gpu-mig.ipynb',
    'multi-file/ingest.ipynb',
    'multi-file/summarize.ipynb',
  ].flatMap((f) =>
    (JSON.parse(readFileSync(examples + f, 'utf8')) as { cells: { cell_type: string; source: string[] }[] }).cells
      .filter((c) => c.cell_type === 'code')
      .map((c) => c.source.join('')),
  );
  const all = [...snippets, ...exampleCells, readFileSync(examples + 'multi-file/clean.py', 'utf8')];
  const out = spawnSync('python3', ['-c', PY], { input: JSON.stringify(all), encoding: 'utf8' });
  const expected = JSON.parse(out.stdout || '[]') as {
    reads: string[];
    binds: string[];
    globalWrites: string[];
    skip: string[];
  }[];

  it('python3 answered for every snippet', () => {
    expect(out.stderr).toBe('');
    expect(expected).toHaveLength(all.length);
  });

  it.each(all.map((src, i) => [src.split('\n')[0]!.slice(0, 60), i] as [string, number]))('%s', (_title, i) => {
    const e = expected[i]!;
    const skip = new Set(e.skip);
    const reads = new Set<string>();
    const binds = new Set<string>();
    const globalWrites = new Set<string>();
    for (const ev of analyzePython(all[i]!).events) {
      if (ev.kind === 'read' || ev.kind === 'mutate') reads.add(ev.name);
      else if (ev.kind === 'del') binds.add(ev.name);
      // A function, class or lambda: what its body reads and assigns at module level (a named one's
      // with its binding, an anonymous one's where it is made).
      const fn = ev.kind === 'bind' || ev.kind === 'lambda' ? ev.fn : undefined;
      if (ev.kind === 'bind') binds.add(ev.name);
      fn?.free.forEach((n) => reads.add(n));
      fn?.globalWrites.forEach((n) => globalWrites.add(n));
    }
    const norm = (s: Set<string>) => [...s].filter((n) => !skip.has(n)).sort();
    expect({ reads: norm(reads), binds: norm(binds), globalWrites: norm(globalWrites) }).toEqual({
      reads: e.reads,
      binds: e.binds,
      globalWrites: e.globalWrites,
    });
  });
});
