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
import { PURE_BUILTINS, PYTHON_BUILTINS, READ_ONLY_METHODS } from './builtins.js';
import { prepareCell, type Embedded, type PreparedCell, type ProcessEffect } from './magics.js';
import {
  blockKind,
  definitionKind,
  definitionOf,
  nestedAliases,
  stateStatement,
  type Definition,
  type StateStatement,
} from './definitions.js';
import { parseModule } from './parse.js';
import { newContainer, rootsOf } from './values.js';
import {
  ClassSink,
  ComprehensionSink,
  FunctionSink,
  ModuleSink,
  Positions,
  TypeParamSink,
  type Change,
  type FnInfo,
  type PyEvent,
  type Sink,
} from './scopes.js';

export type { Arg, BindInfo, BoundValue, Change, ChangeHow, FnChange, FnInfo, FnParam, PyEvent } from './scopes.js';
export { DEFINITE_CHANGES, containerOnly } from './scopes.js';

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
  /**
   * Top-level imports, functions and classes: they cross task boundaries by source; and
   * statements that may only set module state (`state`), which the compiler may carry so too.
   */
  definitions: Definition[];
  /** Top-level compound statements (`if`, `for`, `with`, `try`, ...) by the events they made, [from, to). */
  blocks: Block[];
  /** String literals given to calls that look like file paths, and whether the call writes the file. */
  paths: PathUse[];
  /** IPython lines that change the task's process (`%pip install`, `%env`, `%cd`). */
  effects: ProcessEffect[];
}

export interface Block {
  what: string;
  from: number;
  to: number;
}

export interface PathUse {
  path: string;
  written: boolean;
  /** Offset in the cell's source. */
  at: number;
}

/** Calls that write the file whose path they are given (NumPy, pandas, matplotlib, PyTorch, pathlib, json/pickle). */
const FILE_WRITERS: ReadonlySet<string> = new Set(
  (
    'to_csv to_json to_parquet to_pickle to_excel to_feather to_hdf to_html to_latex to_markdown to_stata ' +
    'savefig save savez savez_compressed savetxt dump imwrite imsave write_text write_bytes save_pretrained ' +
    'to_file export_graphviz'
  ).split(' '),
);

/** The text of a plain string literal (no prefix but r/u, no escapes), or undefined. */
function literalText(e: Expr, code: string): string | undefined {
  if (e.k !== 'Constant' || e.kind !== 'string' || e.parts.length !== 1) return undefined;
  const tok = e.parts[0]!;
  const m = /^[rRuU]?(['"])([^'"\\\n]*)\1$/.exec(code.slice(tok.at, tok.end));
  return m ? m[2] : undefined;
}

/** A string literal that looks like a file path: `data.csv`, `out/model.pt`. */
function pathLiteral(e: Expr, code: string): string | undefined {
  const s = literalText(e, code);
  return s !== undefined && s.length >= 3 && /^[\w.\-/~]+$/.test(s) && /[./]/.test(s) && !/^\.+$/.test(s)
    ? s
    : undefined;
}

/** Environment variables through which executors give each task its GPUs (the local executor sets CUDA_VISIBLE_DEVICES). */
const DEVICE_VARIABLES: ReadonlySet<string> = new Set([
  'CUDA_VISIBLE_DEVICES',
  'NVIDIA_VISIBLE_DEVICES',
  'HIP_VISIBLE_DEVICES',
  'ROCR_VISIBLE_DEVICES',
]);

/**
 * The GPU-visibility variable a statement names as a literal key or argument (`x["CUDA_VISIBLE_DEVICES"]
 * = v`, `x.update(CUDA_VISIBLE_DEVICES=v)`, `x.setdefault("CUDA_VISIBLE_DEVICES", v)`), if any.
 */
function deviceVariable(s: Stmt, code: string): string | undefined {
  const named: (string | null | undefined)[] = [];
  const targets = s.k === 'Assign' || s.k === 'Delete' ? s.targets : s.k === 'AugAssign' ? [s.target] : [];
  for (const t of targets) if (t.k === 'Subscript') named.push(literalText(t.slice, code));
  if (s.k === 'Expr' && s.value.k === 'Call')
    for (const a of s.value.args) named.push(a.k === 'keyword' ? a.arg : literalText(a, code));
  return named.find((n): n is string => typeof n === 'string' && DEVICE_VARIABLES.has(n));
}

/** `open(p, "w")`, `open(p, mode="a")`: the mode writes. */
function opensForWriting(args: readonly (Expr | Keyword)[], code: string): boolean {
  const mode = args.find((a, i) => (a.k === 'keyword' ? a.arg === 'mode' : i === 1));
  const text = mode && literalText(mode.k === 'keyword' ? mode.value : mode, code);
  return text !== undefined && /[wax+]/.test(text);
}

/** The scope where a definition's annotations (and a class's bases) are evaluated. */
function annotationScope(sink: Sink, params: readonly TypeParam[]): Sink {
  return params.length ? new TypeParamSink(sink, new Set(params.map((p) => p.name))) : sink;
}

/** Shared empty lists: most cells have no warnings, definitions, paths or IPython lines. */
const NONE: never[] = Object.freeze([]) as never[];
const AUGASSIGN: Change = Object.freeze({ how: 'augassign', direct: true });
const ASSIGN: Change = Object.freeze({ how: 'assign' });
const DEL: Change = Object.freeze({ how: 'del' });
/** `x.a[k] += v`, `x[0].n += 1`: changes an object reached through x. */
const INDIRECT_AUGASSIGN: Change = Object.freeze({ how: 'augassign' });
/** The same changes made to the named object itself (`x[k] = v`, `del x[k]`, `x[k] += v`). */
const DIRECT: ReadonlyMap<Change, Change> = new Map<Change, Change>([
  [ASSIGN, Object.freeze({ how: 'assign', direct: true })],
  [DEL, Object.freeze({ how: 'del', direct: true })],
  [INDIRECT_AUGASSIGN, AUGASSIGN],
]);
const CALL: Change = Object.freeze({ how: 'call' });
const ENTER: Change = Object.freeze({ how: 'method', attrs: '__enter__' });
/** Arguments passed to a call nothing is known about. */
const UNKNOWN_CALLEE: Change = Object.freeze({ how: 'arg' });

/** The attributes of a call's function after its base name: `np.random.seed` → random.seed. */
function chainAttrs(e: Expr & { k: 'Attribute' }): string {
  let attrs = e.attr;
  for (let v = e.value; v.k === 'Attribute' || v.k === 'Subscript'; v = v.value)
    if (v.k === 'Attribute') attrs = `${v.attr}.${attrs}`;
  return attrs;
}

/**
 * `inplace=` other than a literal False (pandas), `copy=False` (scikit-learn, NumPy): the call
 * changes its object or its arguments in place.
 */
function changesInPlace(args: readonly (Expr | Keyword)[]): boolean {
  return args.some(
    (a) =>
      a.k === 'keyword' &&
      ((a.arg === 'inplace' && !(a.value.k === 'Constant' && a.value.kind === 'False')) ||
        (a.arg === 'copy' && a.value.k === 'Constant' && a.value.kind === 'False')),
  );
}

/** Names whose use makes the analysis blind: warned about, never guessed. */
const DYNAMIC_CALLS = new Set(['exec', 'eval', 'globals']);

class Walker {
  readonly warnings: { message: string; at: number }[] = [];
  readonly paths: PathUse[] = [];
  syntaxError = false;

  constructor(
    /** The code being walked (string literals are read from it). */
    public code: string,
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
    const code = this.code;
    for (const e of list) {
      this.pos.map = (at) => e.at + at;
      this.code = e.code;
      if (e.scope === 'module') this.statements(parseModule(e.code), sink);
      else this.callNow(this.functionBody(e.code, null, '%timeit'), sink, 0);
    }
    this.pos.map = saved;
    this.code = code;
  }

  /** The function IPython's `%timeit` builds around a statement (and its setup). */
  functionBody(code: string, setup: Embedded | null, name: string): FnInfo {
    const inner = new FunctionSink(name);
    if (setup) {
      const saved = this.pos.map;
      const savedCode = this.code;
      this.pos.map = (at) => setup.at + at;
      this.code = setup.code;
      this.statements(parseModule(setup.code), inner);
      this.pos.map = saved;
      this.code = savedCode;
    }
    this.statements(parseModule(code), inner);
    return inner.finish();
  }

  /** A function called where it is defined: its free names are read now, its globals written now. */
  callNow(fn: FnInfo, sink: Sink, at: number) {
    for (const n of fn.free) sink.read(n, at);
    for (const c of fn.changes) sink.mutate(c.name, at, c.change, c.arg);
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
        // `x += v` changes a list or an array in place and binds x again; `a[i] += 1` changes a.
        this.expr(s.value, sink);
        if (s.target.k === 'Name') {
          sink.mutate(s.target.id, s.target.at, AUGASSIGN);
          // The new value shares what v shares (a list extended by v), and it is no literal (`a += 1` may be an array).
          sink.bind(s.target.id, s.target.at, undefined, undefined, s.value, true);
        } else this.changeChain(s.target, sink, INDIRECT_AUGASSIGN);
        return;
      case 'Delete':
        for (const t of s.targets) this.delTarget(t, sink);
        return;
      case 'Import':
        for (const a of s.names) {
          // `import a.b` binds a (the package); `import a.b as c` binds c to a.b.
          const dot = a.name.indexOf('.');
          const bound = a.asname ? a.name : dot < 0 ? a.name : a.name.slice(0, dot);
          sink.bind(a.asname ?? bound, a.asAt, undefined, { imported: bound });
        }
        return;
      case 'ImportFrom':
        if (s.module === '__future__' && !s.level) return;
        if (s.star)
          this.warn(
            `'from ${'.'.repeat(s.level)}${s.module} import *' binds names the dependency analysis cannot see; import them by name`,
            s.at,
          );
        for (const a of s.names)
          sink.bind(a.asname ?? a.name, a.asAt, undefined, {
            imported: `${'.'.repeat(s.level)}${s.module}${s.module && !s.module.endsWith('.') ? '.' : ''}${a.name}`,
          });
        return;
      case 'Global':
      case 'Nonlocal':
        for (const n of s.names) sink.declare(s.k === 'Global' ? 'global' : 'nonlocal', n);
        return;
      case 'For':
        this.expr(s.iter, sink);
        // The loop variable holds the iterable's elements: changing it changes them.
        this.target(s.target, sink, undefined, s.iter, true);
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
          // `with lock:` calls the object's __enter__ and __exit__.
          if (item.context.k === 'Name') sink.mutate(item.context.id, item.context.at, ENTER);
          else this.expr(item.context, sink);
          // `with open(p) as f`: f is what __enter__ returned, for files (and most objects) the object itself.
          if (item.vars) this.target(item.vars, sink, undefined, item.context);
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
      case 'Match': {
        this.expr(s.subject, sink);
        for (const c of s.cases) {
          this.pattern(c.pattern, sink, s.subject);
          if (c.guard) this.expr(c.guard, sink);
          this.statements(c.body, sink);
        }
        return;
      }
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
    for (const t of targets) this.target(t, sink, fn, fn ? undefined : value, false);
  }

  /**
   * Binds an assignment target. `from`: the expression the bound value comes from; `part`: the value
   * is a part of it (an element it yields or holds), not the value itself.
   */
  target(node: Expr, sink: Sink, fn?: FnInfo, from?: Expr, part = false): void {
    switch (node.k) {
      case 'Name':
        return sink.bind(node.id, node.at, fn, undefined, from, part);
      case 'Tuple':
      case 'List':
        for (const e of node.elts) this.target(e, sink, undefined, from, true);
        return;
      case 'Starred':
        return this.target(node.value, sink, undefined, from, true);
      case 'Attribute':
      case 'Subscript':
        return this.changeChain(node, sink, ASSIGN);
      default:
        this.expr(node, sink);
    }
  }

  /**
   * `x.a.b`, `x[i]`: the sub-expressions of the chain are read, and the object at its base changes
   * (`x.a = v`, `del x[k]`, `x[i] += 1`, `x.fit()`). A chain that does not start at a name changes
   * nothing the analysis follows.
   */
  changeChain(node: Expr, sink: Sink, change: Change) {
    const base = this.chain(node, sink);
    const direct = (node.k === 'Attribute' || node.k === 'Subscript') && node.value.k === 'Name';
    if (base) sink.mutate(base.id, base.at, (direct && DIRECT.get(change)) || change);
  }

  /** Reads the parts of `x.a[i].b` other than its base name, which it returns (null when not a name). */
  chain(node: Expr, sink: Sink): (Expr & { k: 'Name' }) | null {
    let e = node;
    while (e.k === 'Attribute' || e.k === 'Subscript') {
      if (e.k === 'Subscript') this.expr(e.slice, sink);
      e = e.value;
    }
    if (e.k === 'Name') return e;
    this.expr(e, sink);
    return null;
  }

  delTarget(node: Expr, sink: Sink): void {
    switch (node.k) {
      case 'Name':
        return sink.del(node.id, node.at);
      case 'Tuple':
      case 'List':
        for (const e of node.elts) this.delTarget(e, sink);
        return;
      case 'Attribute':
      case 'Subscript':
        return this.changeChain(node, sink, DEL);
      default:
        this.expr(node, sink);
    }
  }

  /** Parameters bind in the function; defaults and annotations are read where the def is. */
  params(params: readonly Param[], outer: Sink, inner: FunctionSink, annotations = outer) {
    // Only what matching arguments needs: the parameters' default values and annotations are not kept.
    inner.params = params.map((p) => ({ name: p.name, kind: p.kind }));
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
    inner.decorated = node.decorators.length > 0;
    const scope = annotationScope(sink, node.typeParams);
    this.params(node.params, sink, inner, scope);
    if (node.returns) this.expr(node.returns, scope);
    for (const p of node.typeParams) inner.bind(p.name);
    this.statements(node.body, inner);
    const fn = inner.finish();
    for (const g of fn.globalWrites) {
      if (inner.globals?.has(g)) {
        this.warn(
          `function '${name}' assigns the global '${g}': a task that uses '${name}' is treated as reading and writing '${g}'`,
          node.at,
        );
      }
    }
    sink.nested(fn, node.at, true);
    sink.bind(name, node.nameAt, fn);
  }

  lambda(node: Expr & { k: 'Lambda' }, sink: Sink, name = '<lambda>'): FnInfo {
    const inner = new FunctionSink(name);
    this.params(node.params, sink, inner);
    this.expr(node.body, inner);
    const fn = inner.finish();
    sink.nested(fn, node.at, name !== '<lambda>');
    return fn;
  }

  classDef(node: Stmt & { k: 'ClassDef' }, sink: Sink) {
    for (const d of node.decorators) this.expr(d, sink);
    const scope = annotationScope(sink, node.typeParams);
    this.args(node.args, scope);
    const inner = new ClassSink(scope, node.name, node.decorators.length > 0);
    this.statements(node.body, inner);
    const fn = scope instanceof TypeParamSink ? scope.own(inner.finish()) : inner.finish();
    sink.nested(fn, node.at, true);
    sink.bind(node.name, node.nameAt, fn);
  }

  /** Match captures hold parts of the subject. */
  pattern(node: Pattern, sink: Sink, subject: Expr): void {
    switch (node.k) {
      case 'MatchAs':
        if (node.pattern) this.pattern(node.pattern, sink, subject);
        if (node.name !== null) sink.bind(node.name, node.nameAt, undefined, undefined, subject, true);
        return;
      case 'MatchStar':
        if (node.name !== null) sink.bind(node.name, node.at, undefined, undefined, subject, true);
        return;
      case 'MatchValue':
        return this.expr(node.value, sink);
      case 'MatchSingleton':
        return;
      case 'MatchSequence':
      case 'MatchOr':
        for (const p of node.patterns) this.pattern(p, sink, subject);
        return;
      case 'MatchMapping':
        node.keys.forEach((k, i) => {
          this.expr(k, sink);
          this.pattern(node.patterns[i]!, sink, subject);
        });
        if (node.rest !== null) sink.bind(node.rest, node.restAt, undefined, undefined, subject, true);
        return;
      case 'MatchClass':
        this.expr(node.cls, sink);
        for (const p of node.patterns) this.pattern(p, sink, subject);
        for (const p of node.kwdPatterns) this.pattern(p, sink, subject);
    }
  }

  /** Class bases and keywords: `name=` is a keyword, not a read. */
  args(args: readonly (Expr | Keyword)[], sink: Sink) {
    for (const a of args) this.expr(a.k === 'keyword' ? a.value : a, sink);
  }

  /**
   * A call's arguments. `callee` null: the call only reads them (a read-only method). Otherwise
   * each argument is passed to the call, which may change it: `callee` (one `arg` change for the
   * whole call) says what is called, as far as the code shows. `out=` (NumPy) and `file=` (print)
   * are written to.
   */
  callArgs(args: readonly (Expr | Keyword)[], sink: Sink, callee: Change | null) {
    let position = 0;
    for (const a of args) {
      let value: Expr;
      let param: number | string;
      if (a.k === 'keyword') {
        value = a.value;
        param = a.arg ?? '**';
      } else if (a.k === 'Starred') {
        value = a.value;
        param = '*';
      } else {
        value = a;
        param = position++;
      }
      if (callee === null && param !== 'out' && param !== 'file') this.expr(value, sink);
      else this.passArg(value, sink, callee ?? UNKNOWN_CALLEE, param);
    }
  }

  /** An argument passed to a call: the names its value shares are changed (or only read, the compiler decides). */
  passArg(value: Expr, sink: Sink, change: Change, arg: number | string) {
    if (value.k === 'Name') return sink.mutate(value.id, value.at, change, arg);
    // `next(iter(loader))` advances a new iterator, not what it iterates.
    if (change.callee === 'next' && change.attrs === undefined && newContainer(value)) return this.expr(value, sink);
    if (value.k === 'Attribute' || value.k === 'Subscript') {
      const base = this.chain(value, sink);
      if (base) sink.mutate(base.id, base.at, change, arg);
      return;
    }
    this.expr(value, sink);
    for (const r of rootsOf(value) ?? []) sink.mutate(r, value.at, change, arg);
  }

  /**
   * String literals a call is given that look like file paths (`read_csv("data.csv")`), written
   * when the call writes files: `open(p, "w")`, `df.to_csv(p)`, `Path(p).write_text(s)`, ...
   */
  pathsOf(node: Expr & { k: 'Call' }) {
    const f = node.func;
    const name = f.k === 'Name' ? f.id : f.k === 'Attribute' ? f.attr : '';
    const written = name === 'open' ? opensForWriting(node.args, this.code) : FILE_WRITERS.has(name);
    const add = (args: readonly (Expr | Keyword)[]) => {
      for (const a of args) {
        const path = pathLiteral(a.k === 'keyword' ? a.value : a, this.code);
        if (path) this.paths.push({ path, written, at: this.pos.at(a.at) });
      }
    };
    add(node.args);
    if (written && f.k === 'Attribute' && f.value.k === 'Call') add(f.value.args);
  }

  /** `f(x)`, `x.fit(X)`, `"{}".format(x)`: what the call may change (see callArgs). */
  call(node: Expr & { k: 'Call' }, sink: Sink) {
    this.pathsOf(node);
    const f = node.func;
    if (f.k === 'Name') {
      if (DYNAMIC_CALLS.has(f.id)) {
        this.warn(`'${f.id}()' can read and bind any name: dependencies through it are not inferred`, f.at);
      }
      // A builtin reads its arguments or changes them as the Python documentation says; the
      // analysis does not follow a notebook that rebinds one (analyzePython warns about it).
      if (PYTHON_BUILTINS.has(f.id)) {
        sink.read(f.id, f.at);
        return this.callArgs(node.args, sink, PURE_BUILTINS.has(f.id) ? null : { how: 'arg', callee: f.id });
      }
      // Calling an object may change it (`model(x)` updates a network's running statistics).
      sink.mutate(f.id, f.at, CALL);
      return this.callArgs(node.args, sink, { how: 'arg', callee: f.id });
    }
    if (f.k !== 'Attribute') {
      this.expr(f, sink);
      return this.callArgs(node.args, sink, UNKNOWN_CALLEE);
    }
    const readOnly = READ_ONLY_METHODS.has(f.attr) && !changesInPlace(node.args);
    const base = this.chain(f.value, sink);
    const attrs = chainAttrs(f);
    if (base) {
      if (readOnly) sink.read(base.id, base.at);
      else
        sink.mutate(
          base.id,
          base.at,
          f.value.k === 'Name' ? { how: 'method', attrs, direct: true } : { how: 'method', attrs },
        );
    }
    // Methods of string literals (`", ".join(xs)`, `"{}".format(x)`) only read their arguments.
    const literal = f.value.k === 'Constant' || f.value.k === 'JoinedStr';
    if (readOnly || literal) this.callArgs(node.args, sink, null);
    else
      this.callArgs(
        node.args,
        sink,
        base ? { how: 'arg', callee: base.id, attrs, inPlace: changesInPlace(node.args) } : UNKNOWN_CALLEE,
      );
  }

  /**
   * `element for t in it if cond for u in it2`: the first iterable is read outside, everything
   * else inside the comprehension's own scope.
   */
  comprehension(generators: readonly Comprehension[], elements: readonly Expr[], sink: Sink) {
    const inner = new ComprehensionSink(sink);
    generators.forEach((g, i) => {
      this.expr(g.iter, i === 0 ? sink : inner);
      this.target(g.target, inner, undefined, g.iter, true);
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
        sink.walrus().bind(node.target.id, node.target.at, undefined, undefined, node.value);
        return;
      case 'Lambda':
        this.lambda(node, sink);
        return;
      case 'Call':
        return this.call(node, sink);
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
      case 'YieldFrom':
        if (sink instanceof FunctionSink) sink.generator = true;
        return this.expr(node.value, sink);
      case 'Await':
      case 'Starred':
      case 'Attribute':
        return this.expr(node.value, sink);
      case 'Yield':
        if (sink instanceof FunctionSink) sink.generator = true;
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
  const walker = new Walker(cell.code, pos, cell.embedded);
  const definitions: Definition[] = [];
  const blocks: Block[] = [];
  for (const w of cell.warnings) walker.warnings.push(w);
  if (cell.cellMagic === undefined) {
    try {
      if (cell.functionBody) {
        const fn = walker.functionBody(cell.code, cell.functionBody.setup, '%%timeit');
        walker.callNow(fn, sink, 0);
      } else {
        for (const s of parseModule(cell.code)) {
          const kind = definitionKind(s);
          const from = sink.events.length;
          walker.statement(s, sink);
          if (kind) definitions.push(definitionStatement(s, kind, source, cell, sink.events, from, definitions.length));
          else {
            if (s.k === 'Try' || s.k === 'With')
              for (const a of nestedAliases(s))
                definitions.push(nestedAlias(a, source, cell, pos, sink.events, from, definitions.length));
            const block = blockKind(s);
            if (block) blocks.push({ what: block, from, to: sink.events.length });
            else {
              const state = stateStatement(s);
              if (state && sink.events.length > from) {
                const device = deviceVariable(s, cell.code);
                if (device) state.device = device;
                definitions.push(stateCandidate(s, state, source, cell, sink.events, from));
              }
            }
          }
        }
      }
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
      if (PYTHON_BUILTINS.has(e.name) && e.value?.imported === undefined)
        walker.warnings.push({
          message: `'${e.name}' rebinds a Python builtin: the dependency analysis still treats calls of '${e.name}' as the builtin's`,
          at: e.at,
        });
    }
  }
  return {
    events: sink.events,
    warnings: walker.warnings.length
      ? walker.warnings.map((w) => ({ message: w.message, ...lineCol(source, w.at) }))
      : NONE,
    magicLines: cell.magicLines.length ? cell.magicLines : NONE,
    binds,
    syntaxError: walker.syntaxError,
    definitions: definitions.length ? definitions : NONE,
    blocks: blocks.length ? blocks : NONE,
    paths: walker.paths.length ? walker.paths : NONE,
    effects: cell.effects.length ? cell.effects : NONE,
  };
}

/**
 * The definition `s` is, marking the bind events of its names (from index `from` on) with its
 * index; what it read while running is what running it again reads.
 */
function definitionStatement(
  s: Stmt,
  kind: Definition['kind'],
  source: string,
  cell: PreparedCell,
  events: PyEvent[],
  from: number,
  index: number,
): Definition {
  const definition = definitionOf(s, kind, source, cell, readsFrom(events, from));
  for (let i = from; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === 'bind' && definition.names.includes(e.name)) e.value = { ...e.value, def: index };
  }
  return definition;
}

/** A statement that may only set module state (events from `from` on), with what it reads. */
function stateCandidate(
  s: Stmt,
  state: StateStatement,
  source: string,
  cell: PreparedCell,
  events: PyEvent[],
  from: number,
): Definition {
  return {
    ...definitionOf(s, 'state', source, cell, readsFrom(events, from)),
    state: { ...state, from, to: events.length },
  };
}

/** The names a statement read (or used in a way that may change them), from its first event `from` on. */
function readsFrom(events: readonly PyEvent[], from: number): string[] {
  const reads = new Set<string>();
  for (let i = from; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === 'read' || e.kind === 'mutate') reads.add(e.name);
  }
  return [...reads];
}

/**
 * An alias `name = other` inside a block of a top-level statement (events from `from` on): only the
 * bind event of its own target is marked, since the block may bind the name elsewhere too.
 */
function nestedAlias(
  s: Stmt & { k: 'Assign' },
  source: string,
  cell: PreparedCell,
  pos: Positions,
  events: PyEvent[],
  from: number,
  index: number,
): Definition {
  const target = s.targets[0] as Expr & { k: 'Name' };
  const definition = definitionOf(s, 'alias', source, cell, [(s.value as Expr & { k: 'Name' }).id]);
  const at = pos.at(target.at);
  for (let i = from; i < events.length; i++) {
    const e = events[i]!;
    if (e.kind === 'bind' && e.name === target.id && e.at === at) e.value = { ...e.value, def: index };
  }
  return definition;
}

/**
 * Analyses by cell source. The editor recompiles on every keystroke; unchanged cells (nearly all
 * of them) are then looked up instead of parsed again. Results are never mutated by callers.
 */
const cache = new Map<string, { analysis: CellAnalysis; used: number }>();
const CACHE_LIMIT = 8192;
const MAX_CACHED_SOURCE = 64 * 1024;
/** Counts lookups: an entry's `used` is when it was last looked up. */
let tick = 0;

export function analyzePythonCached(source: string): CellAnalysis {
  const hit = cache.get(source);
  if (hit) {
    hit.used = ++tick;
    return hit.analysis;
  }
  const analysis = analyzePython(source);
  // Huge generated cells are rare and would crowd out everything else.
  if (source.length > MAX_CACHED_SOURCE) return analysis;
  cache.set(source, { analysis, used: ++tick });
  if (cache.size > CACHE_LIMIT) {
    // Drop the least recently used quarter at once, so a hit costs one lookup and no reordering.
    const oldest = [...cache].sort((a, b) => a[1].used - b[1].used).slice(0, CACHE_LIMIT / 4);
    for (const [key] of oldest) cache.delete(key);
  }
  return analysis;
}

export function clearAnalysisCache(): void {
  cache.clear();
}
