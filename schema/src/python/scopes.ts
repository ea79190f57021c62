/**
 * Python's scopes as the analysis walks them: what a name use means depends on where it is. The
 * module scope records events in order; a function scope decides its locals for the whole body
 * (parameters and every name bound anywhere in it, unless declared `global`/`nonlocal`) and
 * summarises what a call reads and changes; a class body's names are invisible to its methods; a
 * comprehension has its own variables; type parameters are visible only to their definition.
 */
import { CONTAINER_METHODS, PURE_BUILTINS, PYTHON_BUILTINS } from './builtins.js';
import type { Expr, Param } from './ast.js';
import { immutableValue, madeBy, newContainer, rootsOf } from './values.js';

/**
 * How a use may change an object in place. Definite: the code assigns into it (`x.a = v`,
 * `x[k] = v`, `del x[k]`, `x += v`). Possible: a call that may change it (`x.fit()`, `x()`,
 * `f(x)`); the compiler ignores these where it can tell the call changes nothing.
 */
export type ChangeHow = 'assign' | 'del' | 'augassign' | 'method' | 'call' | 'arg';

export const DEFINITE_CHANGES: ReadonlySet<ChangeHow> = new Set<ChangeHow>(['assign', 'del', 'augassign']);

/** How a use may change an object (shared by all the arguments of one call). */
export interface Change {
  how: ChangeHow;
  /**
   * For `arg`: the name the called expression starts at, when it does (`train(model)` → train,
   * `np.mean(x)` → np, `model.fit(X)` → model), and the attributes after it (`attrs`).
   */
  callee?: string;
  /** For `method` and `arg`: the attributes after the name, dotted (`np.random.seed()` → random.seed). */
  attrs?: string;
  /** For `arg`: the call says it changes in place (`inplace=True`, `copy=False`). */
  inPlace?: boolean;
  /**
   * The change is to the named object itself (`x.append(v)`, `x[k] = v`, `del x[k]`, `x += v`),
   * not to an object reached through it (`x[0].fit()`, `x.a[k] = v`).
   */
  direct?: boolean;
}

/**
 * Where an argument went: its position, its keyword, or `*` / `**` for unpacked arguments
 * (undefined for uses other than passing).
 */
export type Arg = number | string | undefined;

export interface FnChange {
  name: string;
  change: Change;
  arg: Arg;
}

/**
 * Whether `c` changes a container (list, set, dict, iterator) but none of its elements: a method
 * of CONTAINER_METHODS called on the name itself, assigning or deleting one of its items, `+=`,
 * or `next()` on an iterator.
 */
export function containerOnly(c: Change): boolean {
  if (c.how === 'arg') return c.callee === 'next' && c.attrs === undefined;
  if (!c.direct) return false;
  return c.how !== 'method' || (c.attrs !== undefined && CONTAINER_METHODS.has(c.attrs));
}

export type FnParam = Pick<Param, 'name' | 'kind'>;

/** What a function (or class, through its methods) reads, writes and changes at module level when called. */
export interface FnInfo {
  /** Free names: module-level names the body reads (nested functions included). */
  free: ReadonlySet<string>;
  /**
   * The free names it uses other than by calling them (`return {"PRINT": [show]}`, `wrap(show)`):
   * what a call returns may hold those (a function kept in a value it builds).
   */
  valueFree: ReadonlySet<string>;
  /** Module-level names it assigns through `global`. */
  globalWrites: ReadonlySet<string>;
  /** Module-level names a call may change in place, directly or through a local name that shares their object. */
  changes: readonly FnChange[];
  /** Functions and lambdas: parameters in order, to match a call's arguments to them. */
  params: readonly FnParam[];
  /**
   * What the body may do to each parameter's object: the compiler decides, as for module-level
   * code, which of these change it (passing it to `len` does not; to `print(x.pop())`, it does).
   */
  paramChanges: readonly { param: string; change: Change; arg: Arg }[];
  /** A decorated definition: a call runs the decorator's result, not only the body analysed here. */
  decorated: boolean;
  /** A generator function: a call returns a generator (which cannot pass between tasks). */
  generator: boolean;
  /** Its name where it was defined, for messages. */
  name: string;
  kind: 'function' | 'class';
}

/** What a binding is bound to, as far as the statement tells. */
export interface BindInfo {
  /** Bound by an import: the dotted name of the module or object (`import numpy as np` → numpy). */
  imported?: string;
}

/** What a binding's statement tells about the value (absent on most bindings: plain values). */
export interface BoundValue {
  /** Module-level names whose objects the bound value may share (`y = x[0]`, `for m in models`). */
  alias?: readonly string[];
  /**
   * The value is a new container (or iterator) that may share only the elements of these names'
   * objects: `list(x)`, `sorted(x)`, `x.copy()`, `[v for v in x]`, `[*x, y]`.
   */
  elements?: readonly string[];
  /** The value is a literal number, string, bytes, bool, None or a tuple of those: nothing can change it. */
  immutable?: boolean;
  /** Bound by an import: the dotted name it refers to. */
  imported?: string;
  /** Index into CellAnalysis.definitions: bound by a top-level import, def, class or `f = lambda`. */
  def?: number;
  /** The value is what this call made (`open`, `threading.Lock`, `gen`), or `<generator>` for `(x for ...)`. */
  made?: string;
}

const LITERAL: BoundValue = Object.freeze({ immutable: true });

export type PyEvent =
  | { kind: 'read'; name: string; at: number }
  | { kind: 'bind'; name: string; at: number; fn: FnInfo | undefined; value: BoundValue | undefined }
  /** A use that may change the object x is bound to: x is read, and a changed x is a new version of it. */
  | { kind: 'mutate'; name: string; at: number; change: Change; arg: Arg }
  | { kind: 'del'; name: string; at: number }
  /** An anonymous function (a lambda not bound to a name) made here: used where it is made. */
  | { kind: 'lambda'; fn: FnInfo; at: number };

export interface Sink {
  read(name: string, at: number): void;
  /**
   * `from`: the expression the value comes from (what it may share, whether it is a literal);
   * `part`: the value is an element of it, not the value itself.
   */
  bind(name: string, at: number, fn?: FnInfo, info?: BindInfo, from?: Expr, part?: boolean): void;
  mutate(name: string, at: number, change: Change, arg?: Arg): void;
  del(name: string, at: number): void;
  /**
   * A function, lambda or class defined in this scope (`named`: bound to a name, so what it reads
   * is read where the name is used; an anonymous one is used where it is).
   */
  nested(fn: FnInfo, at: number, named?: boolean): void;
  declare(kind: string, name: string): void;
  /** Where `:=` binds: a comprehension passes it to the scope around it (PEP 572). */
  walrus(): Sink;
}

/**
 * Maps positions in the parsed code to offsets in the cell's source: the analysis parses the cell
 * dedented and with IPython syntax replaced, and Python embedded in magics on its own.
 */
export class Positions {
  map: ((at: number) => number) | null = null;
  at(at: number): number {
    return this.map ? this.map(at) : at;
  }
}

export class ModuleSink implements Sink {
  readonly events: PyEvent[] = [];
  constructor(readonly pos: Positions) {}
  read(name: string, at: number) {
    this.events.push({ kind: 'read', name, at: this.pos.at(at) });
  }
  bind(name: string, at: number, fn?: FnInfo, info?: BindInfo, from?: Expr, part?: boolean) {
    at = this.pos.at(at);
    let value: BoundValue | undefined;
    if (from !== undefined) {
      const alias = rootsOf(from);
      const made = part ? undefined : madeBy(from);
      if (alias && !part && newContainer(from)) value = { elements: alias, made };
      else if (alias || made) value = { alias, made };
      else if (!part && immutableValue(from)) value = LITERAL;
    }
    if (info?.imported !== undefined) value = { imported: info.imported };
    // One shape for every bind event keeps the compiler's loop over them fast.
    this.events.push({ kind: 'bind', name, at, fn, value });
  }
  mutate(name: string, at: number, change: Change, arg?: Arg) {
    this.events.push({ kind: 'mutate', name, at: this.pos.at(at), change, arg });
  }
  del(name: string, at: number) {
    this.events.push({ kind: 'del', name, at: this.pos.at(at) });
  }
  nested(fn: FnInfo, at: number, named?: boolean) {
    if (!named) this.events.push({ kind: 'lambda', fn, at: this.pos.at(at) });
  }
  declare() {
    // `global x` at module level changes nothing.
  }
  walrus(): Sink {
    return this;
  }
}

/**
 * Names reachable from `name` through `aliasOf` (name included), and through `elementsOf` (new
 * containers holding other names' elements) when given.
 */
function aliasClosure(
  name: string,
  aliasOf: ReadonlyMap<string, ReadonlySet<string>>,
  elementsOf?: ReadonlyMap<string, ReadonlySet<string>> | null,
): Set<string> {
  const out = new Set([name]);
  const stack = [name];
  while (stack.length) {
    const n = stack.pop()!;
    for (const map of [aliasOf, elementsOf]) {
      for (const r of map?.get(n) ?? []) {
        if (!out.has(r)) {
          out.add(r);
          stack.push(r);
        }
      }
    }
  }
  return out;
}

function addAlias(aliasOf: Map<string, Set<string>>, name: string, roots: readonly string[]) {
  let set = aliasOf.get(name);
  if (!set) aliasOf.set(name, (set = new Set()));
  for (const r of roots) if (r !== name) set.add(r);
}

const NO_NAMES: ReadonlySet<string> = new Set();
const NO_ALIASES: ReadonlyMap<string, ReadonlySet<string>> = new Map();
/** Shared empty lists: most functions change nothing. */
const NONE: readonly never[] = Object.freeze([]);
/** A call through a name local to the function: nothing is known about it. */
const UNKNOWN: Change = Object.freeze({ how: 'arg' });

export class FunctionSink implements Sink {
  /** Names read in the body and in nested functions (free when not local). */
  readonly reads = new Set<string>();
  /** Those used other than by calling them. */
  valueReads: Set<string> | null = null;
  readonly binds = new Set<string>();
  // Allocated on first use: most functions declare no globals and change nothing of their own.
  globals: Set<string> | null = null;
  nonlocals: Set<string> | null = null;
  nestedGlobalWrites: Set<string> | null = null;
  /**
   * Bindings from values that share objects with other names (flow-insensitive: any binding
   * counts), as name, roots, name, roots, ...: looked at only when the body changes something.
   */
  aliases: (string | Expr)[] | null = null;
  /** The same for new containers that share only the elements of their roots (`w = list(v)`). */
  elementAliases: (string | Expr)[] | null = null;
  /** Uses in the body that may change an object, in order. */
  changed: FnChange[] | null = null;
  params: readonly FnParam[] = [];
  decorated = false;
  /** The body yields: a call returns a generator. */
  generator = false;
  constructor(readonly name: string) {}
  read(name: string) {
    this.reads.add(name);
    (this.valueReads ??= new Set()).add(name);
  }
  bind(name: string, _at?: number, _fn?: FnInfo, _info?: BindInfo, from?: Expr, part?: boolean) {
    this.binds.add(name);
    if (from && from.k !== 'Constant') {
      if (!part && newContainer(from)) (this.elementAliases ??= []).push(name, from);
      else (this.aliases ??= []).push(name, from);
    }
  }
  mutate(name: string, _at: number, change: Change, arg?: Arg) {
    // Changing an object does not make its name local.
    this.reads.add(name);
    // Passed to a call (`list_of(variable)`), it may be kept in what the call returns.
    if (change.how !== 'call') (this.valueReads ??= new Set()).add(name);
    (this.changed ??= []).push({ name, change, arg });
  }
  del(name: string) {
    this.binds.add(name);
  }
  nested(fn: FnInfo) {
    for (const n of fn.free) this.reads.add(n);
    if (fn.valueFree.size) for (const n of fn.valueFree) (this.valueReads ??= new Set()).add(n);
    if (fn.globalWrites.size) for (const n of fn.globalWrites) (this.nestedGlobalWrites ??= new Set()).add(n);
    if (fn.changes.length) (this.changed ??= []).push(...fn.changes);
  }
  declare(kind: string, name: string) {
    if (kind === 'global') (this.globals ??= new Set()).add(name);
    else (this.nonlocals ??= new Set()).add(name);
  }
  walrus(): Sink {
    return this;
  }
  finish(): FnInfo {
    const globals = this.globals ?? NO_NAMES;
    const nonlocals = this.nonlocals ?? NO_NAMES;
    const local = (n: string) => (this.binds.has(n) && !globals.has(n)) || nonlocals.has(n);
    const free = new Set<string>();
    for (const n of this.reads) if (!local(n)) free.add(n);
    let valueFree: ReadonlySet<string> = NO_NAMES;
    if (this.valueReads) {
      const names = new Set<string>();
      for (const n of this.valueReads) if (!local(n)) names.add(n);
      valueFree = names;
    }
    const globalWrites = new Set<string>();
    if (this.globals) for (const n of this.binds) if (globals.has(n)) globalWrites.add(n);
    if (this.nestedGlobalWrites) for (const n of this.nestedGlobalWrites) if (!local(n)) globalWrites.add(n);
    const paramChanges: { param: string; change: Change; arg: Arg }[] = [];
    const changes: FnChange[] = [];
    const aliasMap = (pairs: (string | Expr)[] | null) => {
      if (!this.changed || !pairs) return null;
      const map = new Map<string, Set<string>>();
      for (let i = 0; i < pairs.length; i += 2) {
        const alias = rootsOf(pairs[i + 1] as Expr);
        if (alias) addAlias(map, pairs[i] as string, alias);
      }
      return map;
    };
    const aliasOf = aliasMap(this.aliases);
    const elementsOf = aliasMap(this.elementAliases);
    for (const { name, change, arg } of this.changed ?? []) {
      // Calling a builtin, or passing a value to one that reads it, changes nothing (a notebook
      // that rebinds a builtin at module level is not followed into its functions).
      if (change.how === 'call' && PYTHON_BUILTINS.has(name) && !local(name)) continue;
      let c = change;
      if (c.callee !== undefined) {
        if (local(c.callee)) {
          // A local callee is not the module-level name the compiler would look up.
          c = UNKNOWN;
        } else if (c.attrs === undefined && PURE_BUILTINS.has(c.callee)) continue;
      }
      const elements = containerOnly(c) ? null : elementsOf;
      const names =
        aliasOf?.has(name) || elements?.has(name) ? aliasClosure(name, aliasOf ?? NO_ALIASES, elements) : [name];
      for (const n of names) {
        if (!local(n)) {
          if (!changes.some((x) => x.name === n && x.change === c && x.arg === arg))
            changes.push({ name: n, change: c, arg });
        } else if (!nonlocals.has(n) && this.params.some((p) => p.name === n))
          paramChanges.push({ param: n, change: c, arg });
      }
    }
    return {
      free,
      valueFree,
      globalWrites,
      changes: changes.length ? changes : NONE,
      params: this.params,
      paramChanges: paramChanges.length ? paramChanges : NONE,
      decorated: this.decorated,
      generator: this.generator,
      name: this.name,
      kind: 'function',
    };
  }
}

/** Class bodies run top to bottom at definition time; their names are invisible to methods. */
export class ClassSink implements Sink {
  readonly local = new Set<string>();
  readonly methodFree = new Set<string>();
  readonly methodValueFree = new Set<string>();
  readonly methodGlobalWrites = new Set<string>();
  readonly methodChanges: FnChange[] = [];
  constructor(
    readonly parent: Sink,
    readonly name: string,
    readonly decorated: boolean,
  ) {}
  read(name: string, at: number) {
    if (!this.local.has(name)) this.parent.read(name, at);
  }
  bind(name: string) {
    this.local.add(name);
  }
  mutate(name: string, at: number, change: Change, arg?: Arg) {
    // The body runs when the class is defined: changing a module-level object changes it then.
    if (!this.local.has(name)) this.parent.mutate(name, at, change, arg);
  }
  del(name: string) {
    this.local.delete(name);
  }
  nested(fn: FnInfo) {
    for (const n of fn.free) this.methodFree.add(n);
    for (const n of fn.valueFree) this.methodValueFree.add(n);
    for (const n of fn.globalWrites) this.methodGlobalWrites.add(n);
    for (const c of fn.changes) this.methodChanges.push(c);
  }
  declare() {}
  walrus(): Sink {
    return this;
  }
  finish(): FnInfo {
    return {
      free: this.methodFree,
      valueFree: this.methodValueFree,
      globalWrites: this.methodGlobalWrites,
      changes: this.methodChanges.length ? this.methodChanges : NONE,
      params: NONE,
      paramChanges: NONE,
      decorated: this.decorated,
      generator: false,
      name: this.name,
      kind: 'class',
    };
  }
}

export class ComprehensionSink implements Sink {
  readonly local = new Set<string>();
  /** Each comprehension variable and the iterable its values come from, as name, iterable, ... */
  private iterables: (string | Expr)[] | null = null;
  private aliasOf: Map<string, Set<string>> | null = null;
  /** Like a function, a comprehension in a class body does not see the class's names. */
  private readonly lookup: Sink;
  constructor(readonly parent: Sink) {
    this.lookup = parent instanceof ClassSink ? parent.parent : parent;
  }
  read(name: string, at: number) {
    if (!this.local.has(name)) this.lookup.read(name, at);
  }
  bind(name: string, _at?: number, _fn?: FnInfo, _info?: BindInfo, from?: Expr) {
    this.local.add(name);
    if (from) (this.iterables ??= []).push(name, from);
  }
  mutate(name: string, at: number, change: Change, arg?: Arg) {
    // `[m.fit(X) for m in models]` changes what models holds.
    if (!this.local.has(name)) return this.lookup.mutate(name, at, change, arg);
    if (!this.iterables) return;
    if (!this.aliasOf) {
      this.aliasOf = new Map();
      for (let i = 0; i < this.iterables.length; i += 2) {
        const alias = rootsOf(this.iterables[i + 1] as Expr);
        if (alias) addAlias(this.aliasOf, this.iterables[i] as string, alias);
      }
    }
    for (const n of aliasClosure(name, this.aliasOf)) if (!this.local.has(n)) this.lookup.mutate(n, at, change, arg);
  }
  del() {}
  nested(fn: FnInfo, at: number, named?: boolean) {
    // A lambda inside a comprehension may read the comprehension's variables: those are not free.
    const free = new Set([...fn.free].filter((n) => !this.local.has(n)));
    const changes: FnChange[] = [];
    for (const c of fn.changes) {
      if (this.local.has(c.name)) this.mutate(c.name, at, c.change, c.arg);
      else changes.push(c);
    }
    this.parent.nested({ ...fn, free, changes }, at, named);
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
export class TypeParamSink implements Sink {
  constructor(
    readonly parent: Sink,
    readonly names: ReadonlySet<string>,
  ) {}
  read(name: string, at: number) {
    if (!this.names.has(name)) this.parent.read(name, at);
  }
  bind(name: string, at: number, fn?: FnInfo, info?: BindInfo, from?: Expr, part?: boolean) {
    this.parent.bind(name, at, fn, info, from, part);
  }
  mutate(name: string, at: number, change: Change, arg?: Arg) {
    if (!this.names.has(name)) this.parent.mutate(name, at, change, arg);
  }
  del(name: string, at: number) {
    this.parent.del(name, at);
  }
  nested(fn: FnInfo, at: number, named?: boolean) {
    this.parent.nested(this.own(fn), at, named);
  }
  declare() {}
  walrus(): Sink {
    return this.parent.walrus();
  }
  /** The function or class without the type parameters among its free names. */
  own(fn: FnInfo): FnInfo {
    return {
      ...fn,
      free: new Set([...fn.free].filter((n) => !this.names.has(n))),
      changes: fn.changes.filter((c) => !this.names.has(c.name)),
    };
  }
}
