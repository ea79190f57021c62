/**
 * Name analysis of one code cell with a real Python parser (parse.ts). The result is the
 * cell's module-level effects in execution order: reads of free names, bindings (with what a bound
 * function reads when called), deletions, and the free names of functions, lambdas and class
 * methods (reads that happen whenever those are called; the compiler resolves them per task).
 *
 * Scoping follows Python: function locals are decided for the whole body (parameters and every
 * name bound anywhere in it, unless declared `global`/`nonlocal`); comprehension variables live in
 * the comprehension; names bound in a class body are not visible to its methods; default values,
 * annotations and decorators are evaluated where the `def` is.
 */
import type { Comprehension, Expr, FormattedValue, Keyword, Param, Pattern, Stmt, TypeParam } from './ast.js';
import { prepareCell, type Embedded } from './magics.js';
import { parseModule } from './parse.js';

/** What a function (or class, through its methods) reads and writes at module level when called. */
export interface FnInfo {
  /** Free names: module-level names the body reads (nested functions included). */
  free: ReadonlySet<string>;
  /** Module-level names it assigns through `global`. */
  globalWrites: ReadonlySet<string>;
  /** Its name where it was defined, for messages. */
  name: string;
  kind: 'function' | 'class';
}

export type PyEvent =
  | { kind: 'read'; name: string; at: number }
  | { kind: 'bind'; name: string; at: number; fn?: FnInfo }
  /** `x[k] = v`, `x.a = v`, `x += ...` on an attribute/item: x is read and a new version of x is bound. */
  | { kind: 'mutate'; name: string; at: number }
  | { kind: 'del'; name: string; at: number }
  /** Free names of a function/lambda/class defined here: read whenever it is called. */
  | { kind: 'deferred'; fn: FnInfo; at: number };

export interface PyWarning {
  message: string;
  /** 1-based, in the cell's source. */
  line: number;
  column: number;
}

export interface CellAnalysis {
  events: PyEvent[];
  warnings: PyWarning[];
  /** 0-based lines that held IPython syntax (kept for execution, not analysed). */
  magicLines: number[];
  /** Module-level names the cell binds, in order of first binding. */
  binds: string[];
  /** True when the cell has a syntax error (the analysis of the rest is best effort). */
  syntaxError: boolean;
}

interface Sink {
  read(name: string, at: number): void;
  bind(name: string, at: number, fn?: FnInfo): void;
  mutate(name: string, at: number): void;
  del(name: string, at: number): void;
  nested(fn: FnInfo, at: number): void;
  declare(kind: string, name: string): void;
  /** Where `:=` binds: a comprehension passes it to the scope around it (PEP 572). */
  walrus(): Sink;
}

/**
 * Maps positions in the parsed code to offsets in the cell's source: the analysis parses the cell
 * dedented and with IPython syntax replaced, and Python embedded in magics on its own.
 */
class Positions {
  map: ((at: number) => number) | null = null;
  at(at: number): number {
    return this.map ? this.map(at) : at;
  }
}

class ModuleSink implements Sink {
  readonly events: PyEvent[] = [];
  constructor(readonly pos: Positions) {}
  read(name: string, at: number) {
    this.events.push({ kind: 'read', name, at: this.pos.at(at) });
  }
  bind(name: string, at: number, fn?: FnInfo) {
    at = this.pos.at(at);
    this.events.push(fn ? { kind: 'bind', name, at, fn } : { kind: 'bind', name, at });
  }
  mutate(name: string, at: number) {
    this.events.push({ kind: 'mutate', name, at: this.pos.at(at) });
  }
  del(name: string, at: number) {
    this.events.push({ kind: 'del', name, at: this.pos.at(at) });
  }
  nested(fn: FnInfo, at: number) {
    this.events.push({ kind: 'deferred', fn, at: this.pos.at(at) });
  }
  declare() {
    // `global x` at module level changes nothing.
  }
  walrus(): Sink {
    return this;
  }
}

class FunctionSink implements Sink {
  readonly reads = new Set<string>();
  readonly binds = new Set<string>();
  readonly globals = new Set<string>();
  readonly nonlocals = new Set<string>();
  readonly nestedFree = new Set<string>();
  readonly nestedGlobalWrites = new Set<string>();
  constructor(readonly name: string) {}
  read(name: string) {
    this.reads.add(name);
  }
  bind(name: string) {
    this.binds.add(name);
  }
  mutate(name: string) {
    // Mutating an object does not make its name local.
    this.reads.add(name);
  }
  del(name: string) {
    this.binds.add(name);
  }
  nested(fn: FnInfo) {
    for (const n of fn.free) this.nestedFree.add(n);
    for (const n of fn.globalWrites) this.nestedGlobalWrites.add(n);
  }
  declare(kind: string, name: string) {
    (kind === 'global' ? this.globals : this.nonlocals).add(name);
  }
  walrus(): Sink {
    return this;
  }
  finish(): FnInfo {
    const local = (n: string) => (this.binds.has(n) && !this.globals.has(n)) || this.nonlocals.has(n);
    const free = new Set<string>();
    for (const n of this.reads) if (!local(n)) free.add(n);
    for (const n of this.nestedFree) if (!local(n)) free.add(n);
    const globalWrites = new Set<string>();
    for (const n of this.binds) if (this.globals.has(n)) globalWrites.add(n);
    for (const n of this.nestedGlobalWrites) if (!local(n)) globalWrites.add(n);
    return { free, globalWrites, name: this.name, kind: 'function' };
  }
}

/** Class bodies run top to bottom at definition time; their names are invisible to methods. */
class ClassSink implements Sink {
  readonly local = new Set<string>();
  readonly methodFree = new Set<string>();
  readonly methodGlobalWrites = new Set<string>();
  constructor(
    readonly parent: Sink,
    readonly name: string,
  ) {}
  read(name: string, at: number) {
    if (!this.local.has(name)) this.parent.read(name, at);
  }
  bind(name: string) {
    this.local.add(name);
  }
  mutate(name: string, at: number) {
    this.read(name, at);
  }
  del(name: string) {
    this.local.delete(name);
  }
  nested(fn: FnInfo) {
    for (const n of fn.free) this.methodFree.add(n);
    for (const n of fn.globalWrites) this.methodGlobalWrites.add(n);
  }
  declare() {}
  walrus(): Sink {
    return this;
  }
  finish(): FnInfo {
    return { free: this.methodFree, globalWrites: this.methodGlobalWrites, name: this.name, kind: 'class' };
  }
}

class ComprehensionSink implements Sink {
  readonly local = new Set<string>();
  /** Like a function, a comprehension in a class body does not see the class's names. */
  private readonly lookup: Sink;
  constructor(readonly parent: Sink) {
    this.lookup = parent instanceof ClassSink ? parent.parent : parent;
  }
  read(name: string, at: number) {
    if (!this.local.has(name)) this.lookup.read(name, at);
  }
  bind(name: string) {
    this.local.add(name);
  }
  mutate(name: string, at: number) {
    this.read(name, at);
  }
  del() {}
  nested(fn: FnInfo, at: number) {
    // A lambda inside a comprehension may read the comprehension's variables: those are not free.
    const free = new Set([...fn.free].filter((n) => !this.local.has(n)));
    this.parent.nested({ ...fn, free }, at);
  }
  declare() {}
  walrus(): Sink {
    return this.parent.walrus();
  }
}

/**
 * PEP 695 type parameters (`def f[T]`, `class C[T]`, `type A[T]`): visible to annotations, base
 * classes, the alias value and the body, but not outside them.
 */
class TypeParamSink implements Sink {
  constructor(
    readonly parent: Sink,
    readonly names: ReadonlySet<string>,
  ) {}
  read(name: string, at: number) {
    if (!this.names.has(name)) this.parent.read(name, at);
  }
  bind(name: string, at: number, fn?: FnInfo) {
    this.parent.bind(name, at, fn);
  }
  mutate(name: string, at: number) {
    this.read(name, at);
  }
  del(name: string, at: number) {
    this.parent.del(name, at);
  }
  nested(fn: FnInfo, at: number) {
    this.parent.nested(this.own(fn), at);
  }
  declare() {}
  walrus(): Sink {
    return this.parent.walrus();
  }
  /** The function or class without the type parameters among its free names. */
  own(fn: FnInfo): FnInfo {
    return { ...fn, free: new Set([...fn.free].filter((n) => !this.names.has(n))) };
  }
}

/** The scope where a definition's annotations (and a class's bases) are evaluated. */
function annotationScope(sink: Sink, params: readonly TypeParam[]): Sink {
  return params.length ? new TypeParamSink(sink, new Set(params.map((p) => p.name))) : sink;
}

/** Names whose use makes the analysis blind: warned about, never guessed. */
const DYNAMIC_CALLS = new Set(['exec', 'eval', 'globals']);

class Walker {
  readonly warnings: { message: string; at: number }[] = [];
  syntaxError = false;

  constructor(
    readonly pos: Positions,
    /** Python inside magic lines, by the offset of the `pass` that stands for the line. */
    readonly embedded: ReadonlyMap<number, readonly Embedded[]>,
  ) {}

  warn(message: string, at: number) {
    this.warnings.push({ message, at: this.pos.at(at) });
  }

  /** Python that IPython runs from a magic line: walked where the line is, positions in the cell's source. */
  embeddedCode(list: readonly Embedded[], sink: Sink) {
    const saved = this.pos.map;
    for (const e of list) {
      this.pos.map = (at) => e.at + at;
      if (e.scope === 'module') this.statements(parseModule(e.code), sink);
      else this.callNow(this.functionBody(e.code, null, '%timeit'), sink, 0);
    }
    this.pos.map = saved;
  }

  /** The function IPython's `%timeit` builds around a statement (and its setup). */
  functionBody(code: string, setup: Embedded | null, name: string): FnInfo {
    const inner = new FunctionSink(name);
    if (setup) {
      const saved = this.pos.map;
      this.pos.map = (at) => setup.at + at;
      this.statements(parseModule(setup.code), inner);
      this.pos.map = saved;
    }
    this.statements(parseModule(code), inner);
    return inner.finish();
  }

  /** A function called where it is defined: its free names are read now, its globals written now. */
  callNow(fn: FnInfo, sink: Sink, at: number) {
    for (const n of fn.free) sink.read(n, at);
    for (const n of fn.globalWrites) sink.bind(n, at);
  }

  statements(body: readonly Stmt[], sink: Sink) {
    for (const s of body) this.statement(s, sink);
  }

  statement(s: Stmt, sink: Sink): void {
    switch (s.k) {
      case 'Error':
        if (!this.syntaxError)
          this.warn(`syntax error (${s.message}): dependencies of this cell may be incomplete`, s.at);
        this.syntaxError = true;
        for (const n of s.names) sink.read(n.id, n.at);
        return;
      case 'Assign':
        return this.assign(s.targets, s.value, sink);
      case 'AnnAssign':
        this.expr(s.annotation, sink);
        // A bare annotation binds nothing.
        if (s.value) this.assign([s.target], s.value, sink);
        return;
      case 'AugAssign':
        // `x += 1` reads x and binds it again; `a[i] += 1` reads a and mutates it.
        this.expr(s.value, sink);
        if (s.target.k === 'Name') {
          sink.read(s.target.id, s.target.at);
          sink.bind(s.target.id, s.target.at);
        } else this.target(s.target, sink);
        return;
      case 'Delete':
        for (const t of s.targets) this.delTarget(t, sink);
        return;
      case 'Import':
        for (const a of s.names) {
          const dot = a.name.indexOf('.');
          sink.bind(a.asname ?? (dot < 0 ? a.name : a.name.slice(0, dot)), a.asAt);
        }
        return;
      case 'ImportFrom':
        if (s.module === '__future__' && !s.level) return;
        if (s.star)
          this.warn(
            `'from ${'.'.repeat(s.level)}${s.module} import *' binds names the dependency analysis cannot see; import them by name`,
            s.at,
          );
        for (const a of s.names) sink.bind(a.asname ?? a.name, a.asAt);
        return;
      case 'Global':
      case 'Nonlocal':
        for (const n of s.names) sink.declare(s.k === 'Global' ? 'global' : 'nonlocal', n);
        return;
      case 'For':
        this.expr(s.iter, sink);
        this.target(s.target, sink);
        this.statements(s.body, sink);
        this.statements(s.orelse, sink);
        return;
      case 'While':
      case 'If':
        this.expr(s.test, sink);
        this.statements(s.body, sink);
        this.statements(s.orelse, sink);
        return;
      case 'With':
        for (const item of s.items) {
          this.expr(item.context, sink);
          if (item.vars) this.target(item.vars, sink);
        }
        this.statements(s.body, sink);
        return;
      case 'Try':
        this.statements(s.body, sink);
        for (const h of s.handlers) {
          if (h.type) this.expr(h.type, sink);
          if (h.name !== null) sink.bind(h.name, h.nameAt);
          this.statements(h.body, sink);
          // Python deletes the `except ... as e` name when the handler ends.
          if (h.name !== null) sink.del(h.name, h.nameAt);
        }
        this.statements(s.orelse, sink);
        this.statements(s.finalbody, sink);
        return;
      case 'FunctionDef':
        return this.funcDef(s, sink);
      case 'ClassDef':
        return this.classDef(s, sink);
      case 'Match':
        this.expr(s.subject, sink);
        for (const c of s.cases) {
          this.pattern(c.pattern, sink);
          if (c.guard) this.expr(c.guard, sink);
          this.statements(c.body, sink);
        }
        return;
      case 'TypeAlias':
        this.expr(s.value, annotationScope(sink, s.typeParams));
        sink.bind(s.name.id, s.name.at);
        return;
      case 'Return':
        if (s.value) this.expr(s.value, sink);
        return;
      case 'Raise':
        if (s.exc) this.expr(s.exc, sink);
        if (s.cause) this.expr(s.cause, sink);
        return;
      case 'Assert':
        this.expr(s.test, sink);
        if (s.msg) this.expr(s.msg, sink);
        return;
      case 'Expr':
        return this.expr(s.value, sink);
      case 'Pass': {
        const list = this.embedded.size ? this.embedded.get(s.at) : undefined;
        if (list) this.embeddedCode(list, sink);
        return;
      }
      case 'Break':
      case 'Continue':
        return;
    }
  }

  /** `a = b = value`; `f = lambda: ...` names the lambda. */
  assign(targets: readonly Expr[], value: Expr, sink: Sink) {
    const t0 = targets[0]!;
    let fn: FnInfo | undefined;
    if (value.k === 'Lambda' && targets.length === 1 && t0.k === 'Name') fn = this.lambda(value, sink, t0.id);
    else this.expr(value, sink);
    for (const t of targets) this.target(t, sink, fn);
  }

  target(node: Expr, sink: Sink, fn?: FnInfo): void {
    switch (node.k) {
      case 'Name':
        return sink.bind(node.id, node.at, fn);
      case 'Tuple':
      case 'List':
        for (const e of node.elts) this.target(e, sink);
        return;
      case 'Starred':
        return this.target(node.value, sink);
      case 'Attribute':
      case 'Subscript': {
        this.expr(node, sink);
        let base: Expr = node;
        while (base.k === 'Attribute' || base.k === 'Subscript') base = base.value;
        if (base.k === 'Name') sink.mutate(base.id, base.at);
        return;
      }
      default:
        this.expr(node, sink);
    }
  }

  delTarget(node: Expr, sink: Sink): void {
    switch (node.k) {
      case 'Name':
        return sink.del(node.id, node.at);
      case 'Tuple':
      case 'List':
        for (const e of node.elts) this.delTarget(e, sink);
        return;
      default:
        this.target(node, sink);
    }
  }

  /** Parameters bind in the function; defaults and annotations are read where the def is. */
  params(params: readonly Param[], outer: Sink, inner: FunctionSink, annotations = outer) {
    for (const p of params) {
      inner.bind(p.name);
      if (p.annotation) this.expr(p.annotation, annotations);
      if (p.default) this.expr(p.default, outer);
    }
  }

  funcDef(node: Stmt & { k: 'FunctionDef' }, sink: Sink) {
    for (const d of node.decorators) this.expr(d, sink);
    const name = node.name;
    const inner = new FunctionSink(name);
    const scope = annotationScope(sink, node.typeParams);
    this.params(node.params, sink, inner, scope);
    if (node.returns) this.expr(node.returns, scope);
    for (const p of node.typeParams) inner.bind(p.name);
    this.statements(node.body, inner);
    const fn = inner.finish();
    for (const g of fn.globalWrites) {
      if (inner.globals.has(g)) {
        this.warn(
          `function '${name}' assigns the global '${g}': a task that uses '${name}' is treated as reading and writing '${g}'`,
          node.at,
        );
      }
    }
    sink.nested(fn, node.at);
    sink.bind(name, node.nameAt, fn);
  }

  lambda(node: Expr & { k: 'Lambda' }, sink: Sink, name = '<lambda>'): FnInfo {
    const inner = new FunctionSink(name);
    this.params(node.params, sink, inner);
    this.expr(node.body, inner);
    const fn = inner.finish();
    sink.nested(fn, node.at);
    return fn;
  }

  classDef(node: Stmt & { k: 'ClassDef' }, sink: Sink) {
    for (const d of node.decorators) this.expr(d, sink);
    const scope = annotationScope(sink, node.typeParams);
    this.args(node.args, scope);
    const inner = new ClassSink(scope, node.name);
    this.statements(node.body, inner);
    const fn = scope instanceof TypeParamSink ? scope.own(inner.finish()) : inner.finish();
    sink.nested(fn, node.at);
    sink.bind(node.name, node.nameAt, fn);
  }

  pattern(node: Pattern, sink: Sink): void {
    switch (node.k) {
      case 'MatchAs':
        if (node.pattern) this.pattern(node.pattern, sink);
        if (node.name !== null) sink.bind(node.name, node.nameAt);
        return;
      case 'MatchStar':
        if (node.name !== null) sink.bind(node.name, node.at);
        return;
      case 'MatchValue':
        return this.expr(node.value, sink);
      case 'MatchSingleton':
        return;
      case 'MatchSequence':
      case 'MatchOr':
        for (const p of node.patterns) this.pattern(p, sink);
        return;
      case 'MatchMapping':
        node.keys.forEach((k, i) => {
          this.expr(k, sink);
          this.pattern(node.patterns[i]!, sink);
        });
        if (node.rest !== null) sink.bind(node.rest, node.restAt);
        return;
      case 'MatchClass':
        this.expr(node.cls, sink);
        for (const p of node.patterns) this.pattern(p, sink);
        for (const p of node.kwdPatterns) this.pattern(p, sink);
    }
  }

  /** Call arguments: `name=` is a keyword, not a read. */
  args(args: readonly (Expr | Keyword)[], sink: Sink) {
    for (const a of args) this.expr(a.k === 'keyword' ? a.value : a, sink);
  }

  /**
   * `element for t in it if cond for u in it2`: the first iterable is read outside, everything
   * else inside the comprehension's own scope.
   */
  comprehension(generators: readonly Comprehension[], elements: readonly Expr[], sink: Sink) {
    const inner = new ComprehensionSink(sink);
    generators.forEach((g, i) => {
      this.expr(g.iter, i === 0 ? sink : inner);
      this.target(g.target, inner);
      for (const c of g.ifs) this.expr(c, inner);
    });
    for (const e of elements) this.expr(e, inner);
  }

  formatted(values: readonly FormattedValue[], sink: Sink) {
    for (const v of values) {
      this.expr(v.value, sink);
      this.formatted(v.spec, sink);
    }
  }

  expr(node: Expr, sink: Sink): void {
    switch (node.k) {
      case 'Name':
        return sink.read(node.id, node.at);
      case 'Constant':
        return;
      case 'JoinedStr':
        return this.formatted(node.values, sink);
      case 'NamedExpr':
        this.expr(node.value, sink);
        sink.walrus().bind(node.target.id, node.target.at);
        return;
      case 'Lambda':
        this.lambda(node, sink);
        return;
      case 'Call':
        if (node.func.k === 'Name' && DYNAMIC_CALLS.has(node.func.id)) {
          this.warn(
            `'${node.func.id}()' can read and bind any name: dependencies through it are not inferred`,
            node.func.at,
          );
        }
        this.expr(node.func, sink);
        return this.args(node.args, sink);
      case 'ListComp':
      case 'SetComp':
      case 'GeneratorExp':
        return this.comprehension(node.generators, [node.elt], sink);
      case 'DictComp':
        return this.comprehension(node.generators, [node.key, node.value], sink);
      case 'BinOp': {
        // Long chains (`a + b + ... `) nest to the left: walk the spine without recursion.
        const rights: Expr[] = [];
        let left: Expr = node;
        while (left.k === 'BinOp') {
          rights.push(left.right);
          left = left.left;
        }
        this.expr(left, sink);
        for (let i = rights.length - 1; i >= 0; i--) this.expr(rights[i]!, sink);
        return;
      }
      case 'BoolOp':
      case 'Set':
      case 'List':
      case 'Tuple':
        for (const v of node.k === 'BoolOp' ? node.values : node.elts) this.expr(v, sink);
        return;
      case 'UnaryOp':
        return this.expr(node.operand, sink);
      case 'Compare':
        this.expr(node.left, sink);
        for (const c of node.comparators) this.expr(c, sink);
        return;
      case 'IfExp':
        this.expr(node.test, sink);
        this.expr(node.body, sink);
        return this.expr(node.orelse, sink);
      case 'Dict':
        node.values.forEach((v, i) => {
          const key = node.keys[i];
          if (key) this.expr(key, sink);
          this.expr(v, sink);
        });
        return;
      case 'Await':
      case 'YieldFrom':
      case 'Starred':
      case 'Attribute':
        return this.expr(node.value, sink);
      case 'Yield':
        if (node.value) this.expr(node.value, sink);
        return;
      case 'Subscript':
        this.expr(node.value, sink);
        return this.expr(node.slice, sink);
      case 'Slice':
        if (node.lower) this.expr(node.lower, sink);
        if (node.upper) this.expr(node.upper, sink);
        if (node.step) this.expr(node.step, sink);
        return;
    }
  }
}

function lineCol(src: string, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = src.indexOf('\n'); i !== -1 && i < at; i = src.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: at - lineStart + 1 };
}

export function analyzePython(source: string): CellAnalysis {
  const cell = prepareCell(source);
  const pos = new Positions();
  pos.map = cell.toSource;
  const sink = new ModuleSink(pos);
  const walker = new Walker(pos, cell.embedded);
  for (const w of cell.warnings) walker.warnings.push(w);
  if (cell.cellMagic === undefined) {
    try {
      if (cell.functionBody) {
        const fn = walker.functionBody(cell.code, cell.functionBody.setup, '%%timeit');
        walker.callNow(fn, sink, 0);
      } else walker.statements(parseModule(cell.code), sink);
    } catch (e) {
      // Pathological input (nesting deeper than the stack allows): say so instead of failing the compile.
      pos.map = null;
      walker.warn(
        `this cell could not be analysed (${e instanceof RangeError ? 'nested too deeply' : String(e)}): its dependencies are unknown`,
        0,
      );
      walker.syntaxError = true;
    }
  }
  const binds: string[] = [];
  const seen = new Set<string>();
  for (const e of sink.events) {
    if (e.kind === 'bind' && !seen.has(e.name)) {
      seen.add(e.name);
      binds.push(e.name);
    }
  }
  return {
    events: sink.events,
    warnings: walker.warnings.map((w) => ({ message: w.message, ...lineCol(source, w.at) })),
    magicLines: cell.magicLines,
    binds,
    syntaxError: walker.syntaxError,
  };
}

/**
 * Analyses by cell source. The editor recompiles on every keystroke; unchanged cells (nearly all
 * of them) are then looked up instead of parsed again. Results are never mutated by callers.
 */
const cache = new Map<string, CellAnalysis>();
const CACHE_LIMIT = 8192;
const MAX_CACHED_SOURCE = 64 * 1024;

export function analyzePythonCached(source: string): CellAnalysis {
  const hit = cache.get(source);
  if (hit) {
    // Refresh its place in the least-recently-used order.
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  const result = analyzePython(source);
  // Huge generated cells are rare and would crowd out everything else.
  if (source.length > MAX_CACHED_SOURCE) return result;
  cache.set(source, result);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return result;
}

export function clearAnalysisCache(): void {
  cache.clear();
}
