/**
 * Imports, functions and classes cross task boundaries by source: a task that uses one that another
 * task bound runs the same statement again. This module finds those statements in a cell: the
 * top-level `import`, `from ... import`, `def` and `class` statements (decorators included),
 * `name = lambda ...`, and aliases (`name = other`, also in a `finally:` or `with` body, which
 * always run), with their exact source as the cell runs it (dedented as IPython does). An alias
 * crosses by source only when the compiler finds that `other` is a module, function or class.
 *
 * `from m import *` is an import that binds no name the compiler can see (`names` is empty): a task
 * after it that reads a name no earlier statement binds runs it again (the name may come from it).
 *
 * Module state crosses the same way: a top-level statement that may only set state of the process
 * (`pd.set_option(...)`, `sys.path.append(p)`, `os.environ["K"] = v`, `pd.options.display.x = 1`) is
 * a candidate (`state`); the compiler decides from what its name is bound to whether it is one, and
 * runs it again in every later task.
 */
import type { Expr, Stmt } from './ast.js';
import type { PreparedCell } from './magics.js';

export interface Definition {
  /**
   * `alias`: `name = other`; what it is depends on what `other` is bound to where it runs.
   * `state`: a statement that may set module state (see StateStatement); it binds nothing.
   */
  kind: 'import' | 'function' | 'class' | 'alias' | 'state';
  /** The names the statement binds. */
  names: string[];
  /** 1-based line in the cell where the statement starts (its first decorator). */
  line: number;
  /** The statement's source at column 0. */
  source: string;
  /**
   * Imports: one statement per name (`import a, b as c` → `import a`, `import b as c`), for a task
   * that needs only some of the names (running the whole statement would rebind the others).
   */
  parts?: { name: string; source: string }[];
  /** Names the statement reads when it runs (decorators, base classes, default values, annotations). */
  reads: string[];
  /** A `state` candidate: its operation, and the cell's analysis events it made. */
  state?: StateStatement & { from: number; to: number };
}

/**
 * The operation of a statement that may only set state: a call of a dotted name
 * (`root.attrs(...)`, `root(...)`), or an assignment or deletion into an object reached from a
 * dotted name (`root.a.b = v`, `root.a[k] = v`, `root.a += v`, `del root.a[k]`). Whether it sets
 * module state depends on what `root` is bound to: the compiler decides.
 */
export interface StateStatement {
  root: string;
  /** A call: the attributes after the root, dotted (undefined: the root is called). Null: an assignment or deletion. */
  call: string | undefined | null;
  /** An environment variable through which executors give each task its GPUs, when it names one (analyze.ts). */
  device?: string;
}

/** `a.b.c`: the name it starts at and the attributes after it, dotted; null when it is not a dotted name. */
function dottedName(e: Expr): { root: string; attrs: string | undefined } | null {
  const attrs: string[] = [];
  while (e.k === 'Attribute') {
    attrs.push(e.attr);
    e = e.value;
  }
  return e.k === 'Name' ? { root: e.id, attrs: attrs.length ? attrs.reverse().join('.') : undefined } : null;
}

/** The object an assignment or deletion target assigns into, when it is reached from a dotted name. */
function intoDotted(target: Expr): string | null {
  if (target.k !== 'Attribute' && target.k !== 'Subscript') return null;
  return dottedName(target.value)?.root ?? null;
}

/** The operation of a top-level statement that may only set state, or null when it is not one. */
export function stateStatement(s: Stmt): StateStatement | null {
  switch (s.k) {
    case 'Expr': {
      if (s.value.k !== 'Call') return null;
      const f = dottedName(s.value.func);
      return f && { root: f.root, call: f.attrs };
    }
    case 'Assign':
    case 'Delete': {
      const root = s.targets.length === 1 ? intoDotted(s.targets[0]!) : null;
      return root === null ? null : { root, call: null };
    }
    case 'AugAssign': {
      const root = intoDotted(s.target);
      return root === null ? null : { root, call: null };
    }
    default:
      return null;
  }
}

/** The compound statements a state change inside cannot be run again from (they may not run, or run it often). */
export function blockKind(s: Stmt): string | null {
  switch (s.k) {
    case 'If':
    case 'For':
    case 'While':
    case 'With':
    case 'Try':
    case 'Match':
      return s.k.toLowerCase();
    default:
      return null;
  }
}

/** `from m import *`: an import that binds no name the compiler knows. */
export function isStarImport(d: Definition): boolean {
  return d.kind === 'import' && d.names.length === 0;
}

/** The kind of definition a top-level statement is, or null when it is not one. */
export function definitionKind(s: Stmt): Definition['kind'] | null {
  switch (s.k) {
    case 'Import':
      return 'import';
    case 'ImportFrom':
      // `from m import *` too: it binds no name the compiler knows (see `isStarImport`).
      return s.module === '__future__' && !s.level ? null : 'import';
    case 'FunctionDef':
      return 'function';
    case 'ClassDef':
      return 'class';
    case 'Assign':
      if (s.targets.length !== 1 || s.targets[0]!.k !== 'Name') return null;
      return s.value.k === 'Lambda' ? 'function' : s.value.k === 'Name' ? 'alias' : null;
    default:
      return null;
  }
}

/**
 * Aliases (`name = other`) nested in the parts of a top-level statement that always run when it
 * does: a `finally:` body and a `with` body (an `if`, loop or `except` body may not run).
 */
export function nestedAliases(s: Stmt, out: (Stmt & { k: 'Assign' })[] = []): (Stmt & { k: 'Assign' })[] {
  const body = s.k === 'Try' ? s.finalbody : s.k === 'With' ? s.body : null;
  if (body)
    for (const n of body) {
      if (n.k === 'Assign' && definitionKind(n) === 'alias') out.push(n);
      else nestedAliases(n, out);
    }
  return out;
}

function importParts(s: Stmt): { name: string; source: string }[] {
  if (s.k === 'Import')
    return s.names.map((a) => ({
      name: a.asname ?? a.name.split('.')[0]!,
      source: `import ${a.name}${a.asname ? ` as ${a.asname}` : ''}`,
    }));
  if (s.k !== 'ImportFrom') return [];
  const from = `from ${'.'.repeat(s.level)}${s.module} import `;
  return s.names.map((a) => ({
    name: a.asname ?? a.name,
    source: `${from}${a.name}${a.asname ? ` as ${a.asname}` : ''}`,
  }));
}

/** The names a definition statement binds. */
function boundNames(s: Stmt): string[] {
  switch (s.k) {
    case 'FunctionDef':
    case 'ClassDef':
      return [s.name];
    case 'Assign':
      return s.targets[0]!.k === 'Name' ? [s.targets[0]!.id] : [];
    default:
      return importParts(s).map((p) => p.name);
  }
}

/**
 * The definition `s` is in a cell (`cell`: the cell as analysed, `source`: the cell's own text),
 * with the names it reads when it runs.
 */
export function definitionOf(
  s: Stmt,
  kind: Definition['kind'],
  source: string,
  cell: PreparedCell,
  reads: string[],
): Definition {
  const start = s.k === 'FunctionDef' || s.k === 'ClassDef' ? s.start : s.at;
  const from = cell.toSource ? cell.toSource(start) : start;
  const to = cell.toSource ? cell.toSource(s.end) : s.end;
  // The statement starts at column 0 of the dedented cell; its lines lose the cell's indentation.
  const text = source
    .slice(from, to)
    .split('\n')
    .map((l, i) => (i > 0 && cell.indent && l.startsWith(cell.indent) ? l.slice(cell.indent.length) : l))
    .join('\n')
    .trimEnd();
  let line = 1;
  for (let i = source.indexOf('\n'); i !== -1 && i < from; i = source.indexOf('\n', i + 1)) line++;
  const definition: Definition = { kind, names: boundNames(s), line, source: text, reads };
  if (kind === 'import') definition.parts = importParts(s);
  return definition;
}
