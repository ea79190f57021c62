/**
 * Variable flow between tasks: which task's version of each name a task reads, and why.
 *
 * The notebook runs top to bottom in one namespace; a pipeline runs each task in its own process
 * with copies of what it reads. They give the same values when every task reads each name from the
 * last task before it (in notebook order) that made the name's current version. A task makes a new
 * version of a name when it binds it, and when it may change the object in place: a method call on
 * it, assignment to its attribute or item, `del` of an item, augmented assignment, passing it to a
 * call, calling it, using a function that does one of these to a global, or any of these through
 * another name that shares the object (`m = models[0]`, `for m in models`). Where the analysis
 * cannot tell a use reads only, it is a change: a wrong "change" costs parallelism, a wrong "read"
 * costs correctness.
 *
 * Uses known to read only: builtins that read their arguments (PURE_BUILTINS), read-only methods
 * (READ_ONLY_METHODS), the notebook's own functions that do not change the parameter an argument
 * goes to, objects that cannot change (literals), functions, classes and modules (they cross tasks
 * by source), and names the user declares read-only (`readonly:` tag, cell or notebook metadata).
 */
import {
  DEFINITE_CHANGES,
  type Arg,
  type CellAnalysis,
  type Change,
  type FnInfo,
  type FnParam,
} from './python/analyze.js';
import { PURE_BUILTINS, PYTHON_BUILTINS, libraryChangesArgument } from './python/builtins.js';

export type VersionKind = 'bound' | 'changed';

export interface FlowTask {
  name: string;
  /** 0-based index of the cell that starts the task. */
  first: number;
  cells: readonly number[];
  /** Names declared read-only for this task (`readonly:` on its cells, and the notebook's). */
  readonly: ReadonlySet<string>;
}

export interface TaskFlow {
  /** Each input: the task whose version is read, and whether that task bound it or changed it in place. */
  inputs: Map<string, { from: string; kind: VersionKind }>;
  /** Inputs this task does not change in place. */
  readOnly: Set<string>;
  /** Names later tasks read from this task. */
  outputs: Set<string>;
}

export interface FlowReport {
  (cell: number, message: string, task: string, at: number): void;
}

/** One shape for every binding (the lookups in the loop over events stay monomorphic). */
interface Binding {
  /** null: bound by setup (available everywhere, never passed). */
  task: string | null;
  fn: FnInfo | undefined;
  deleted: boolean;
  /** A literal: nothing changes it in place. */
  immutable: boolean;
  /** Bound by an import: the dotted name it refers to. */
  imported: string | undefined;
  /** The task made this version by changing the object in place, not by binding the name. */
  changed: boolean;
}

function binding(
  task: string | null,
  e?: { fn?: FnInfo | undefined; immutable?: boolean | undefined; imported?: string | undefined },
): Binding {
  return {
    task,
    fn: e?.fn,
    deleted: false,
    immutable: e?.immutable === true,
    imported: e?.imported,
    changed: false,
  };
}

/** The bindings a task makes that carry nothing but their kind, made once per task (bindings are never modified). */
function plainBindings(task: string) {
  const plain = binding(task);
  return {
    plain,
    literal: { ...plain, immutable: true },
    changed: { ...plain, changed: true },
    deleted: { ...plain, deleted: true },
  };
}

/** The parameter a call's argument goes to, or null when it cannot be told. */
function matchParam(params: readonly FnParam[], param: Arg): FnParam | null {
  if (param === undefined || param === '*' || param === '**') return null;
  if (typeof param === 'number') {
    const positional = params.filter((p) => p.kind === 'positional');
    return positional[param] ?? params.find((p) => p.kind === 'vararg') ?? null;
  }
  return (
    params.find((p) => p.name === param && (p.kind === 'positional' || p.kind === 'keyword')) ??
    params.find((p) => p.kind === 'kwarg') ??
    null
  );
}

export function inferFlow(
  tasks: readonly FlowTask[],
  setupCells: readonly number[],
  analysis: (cell: number) => CellAnalysis,
  report: FlowReport,
): Map<string, TaskFlow> {
  /** First task (in notebook order) that binds each name: for "bound later" hints (built when first needed). */
  let firstBinder: Map<string, { task: string; cell: number }> | null = null;
  const firstBinderOf = (name: string) => {
    if (!firstBinder) {
      firstBinder = new Map();
      for (const t of tasks) {
        for (const c of t.cells)
          for (const n of analysis(c).binds) if (!firstBinder.has(n)) firstBinder.set(n, { task: t.name, cell: c });
      }
    }
    return firstBinder.get(name);
  };

  const global = new Map<string, Binding>();
  for (const index of setupCells) {
    for (const e of analysis(index).events) {
      if (e.kind === 'bind') global.set(e.name, binding(null, e));
      else if (e.kind === 'del') global.delete(e.name);
    }
  }

  const flows = new Map<string, TaskFlow>(
    tasks.map((t) => [t.name, { inputs: new Map(), readOnly: new Set(), outputs: new Set() }]),
  );
  const orderOf = new Map(tasks.map((t, i) => [t.name, i]));

  for (const t of tasks) {
    const flow = flows.get(t.name)!;
    const local = new Map<string, Binding>();
    const made = plainBindings(t.name);
    /** Inputs the task changes in place, and read-only declarations it contradicts (made when needed). */
    const found: { changedInputs: Set<string> | null; contradicted: Set<string> | null } = {
      changedInputs: null,
      contradicted: null,
    };
    /** Names bound in this task from values that share objects with other names. */
    const aliasOf = new Map<string, readonly string[]>();
    const deferred: { fn: FnInfo; cell: number; at: number }[] = [];
    const hinted = new Set<string>();
    // Where the current event is, for messages (two numbers, not an object per event).
    let whereCell = t.first;
    let whereAt = 0;

    const visible = (name: string): Binding | undefined => local.get(name) ?? global.get(name);

    /** Reads `name` (an input when another task made its version); returns its binding. */
    const read = (name: string, visiting?: Set<FnInfo>): Binding | undefined => {
      const own = local.get(name);
      if (own) {
        // Bound earlier in this task: its functions' free reads are deferred to the end of the task,
        // but using one that assigns or changes globals does that here and now.
        if (own.fn && (own.fn.globalWrites.size || own.fn.changes.length) && !visiting?.has(own.fn)) {
          visiting = visiting ?? new Set();
          visiting.add(own.fn);
          useEffects(own.fn, visiting);
        }
        return own;
      }
      const g = global.get(name);
      if (!g) {
        // Most names nobody bound are builtins.
        if (PYTHON_BUILTINS.has(name)) return undefined;
        const later = firstBinderOf(name);
        if (
          later &&
          later.task !== t.name &&
          (orderOf.get(later.task) ?? 0) > (orderOf.get(t.name) ?? 0) &&
          !hinted.has(name)
        ) {
          hinted.add(name);
          report(
            whereCell,
            `'${name}' is read before any earlier task binds it; task '${later.task}' binds it later (cell ${later.cell + 1}): move the cells or add after:${later.task}`,
            t.name,
            whereAt,
          );
        }
        return undefined;
      }
      if (g.deleted) return g;
      if (g.task !== null && g.task !== t.name && !flow.inputs.has(name)) {
        flow.inputs.set(name, { from: g.task, kind: g.changed ? 'changed' : 'bound' });
        flows.get(g.task)?.outputs.add(name);
        if (g.fn && !hinted.has(name)) {
          // Task outputs travel pickled, and pickle saves functions and classes by reference.
          hinted.add(name);
          report(
            whereCell,
            `${g.fn.kind} '${name}' comes from task '${g.task}': functions and classes pass between tasks by reference, so define it in a setup cell (or a module) to use it in other tasks`,
            t.name,
            whereAt,
          );
        }
      }
      if (g.fn && !visiting?.has(g.fn)) {
        // Using a function reads, when it is called, what its body reads (followed transitively),
        // and does what it does to globals.
        visiting = visiting ?? new Set();
        visiting.add(g.fn);
        for (const f of g.fn.free) read(f, visiting);
        useEffects(g.fn, visiting);
      }
      return g;
    };

    /** What a call of `fn` does to module-level names: changes them in place, assigns them (`global`). */
    const useEffects = (fn: FnInfo, visiting: Set<FnInfo>) => {
      for (const c of fn.changes) change(c.name, c.change, c.arg, visiting);
      for (const w of fn.globalWrites) {
        read(w, visiting);
        local.set(w, made.plain);
      }
    };

    /**
     * Whether passing an argument as `c` says (callee, attributes, parameter) is known not to change
     * it: a builtin that reads its arguments, a function of an imported module (unless its library
     * says it changes one), or a notebook function that does not change that parameter.
     */
    const readsArgument = (c: Change, arg: Arg, visiting: Set<FnInfo> | undefined): boolean => {
      if (c.callee === undefined || c.inPlace) return false;
      const b = visible(c.callee);
      if (!b) return c.attrs === undefined && PURE_BUILTINS.has(c.callee);
      if (b.deleted) return false;
      if (b.imported !== undefined) {
        const name = (c.attrs ?? b.imported).replace(/^.*\./, '');
        return !libraryChangesArgument(name, arg ?? '*');
      }
      const fn = b.fn;
      if (c.attrs !== undefined || !fn || fn.kind !== 'function' || fn.decorated || visiting?.has(fn)) return false;
      const p = matchParam(fn.params, arg);
      if (p === null) return false;
      visiting = visiting ?? new Set();
      visiting.add(fn);
      const reads = fn.paramChanges.every(
        (pc) => pc.param !== p.name || (pc.change.how === 'arg' && readsArgument(pc.change, pc.arg, visiting)),
      );
      visiting.delete(fn);
      return reads;
    };

    /** A use of `name` that may change its object in place (`seen`: names already changed through aliases). */
    const change = (name: string, c: Change, arg: Arg, visiting?: Set<FnInfo>, seen?: Set<string>): void => {
      const b = read(name, visiting);
      // Builtins and unknown names, modules, functions and classes (they cross tasks by source), literals.
      if (!b || b.deleted || b.fn || b.imported !== undefined || b.immutable) return;
      if (!DEFINITE_CHANGES.has(c.how)) {
        if (c.how === 'arg' && readsArgument(c, arg, visiting)) return;
        if (t.readonly.has(name)) return;
      } else if (t.readonly.has(name) && !found.contradicted?.has(name)) {
        (found.contradicted ??= new Set()).add(name);
        report(
          whereCell,
          `'${name}' is declared read-only for task '${t.name}', but this changes it: later tasks that read '${name}' run after this one`,
          t.name,
          whereAt,
        );
      }
      if (!local.has(name) && flow.inputs.has(name)) (found.changedInputs ??= new Set()).add(name);
      local.set(name, b.task === t.name && !b.changed ? made.plain : made.changed);
      const aliases = aliasOf.get(name);
      if (!aliases) return;
      seen = seen ?? new Set([name]);
      for (const r of aliases) {
        if (seen.has(r)) continue;
        seen.add(r);
        change(r, c, arg, visiting, seen);
      }
    };

    for (const c of t.cells) {
      for (const e of analysis(c).events) {
        whereCell = c;
        whereAt = e.at;
        switch (e.kind) {
          case 'read':
            read(e.name);
            break;
          case 'bind': {
            local.set(
              e.name,
              e.fn || e.imported !== undefined ? binding(t.name, e) : e.immutable ? made.literal : made.plain,
            );
            if (e.alias) {
              // Any binding in the task counts (`y = a` then `y = b`: changing y may change a or b).
              const before = aliasOf.get(e.name);
              aliasOf.set(e.name, before ? [...before, ...e.alias] : e.alias);
            }
            break;
          }
          case 'mutate':
            change(e.name, e.change, e.arg);
            break;
          case 'del':
            // `del x` needs x to exist in this task's namespace.
            if (!local.has(e.name) || local.get(e.name)?.deleted) read(e.name);
            local.set(e.name, made.deleted);
            break;
          case 'deferred':
            deferred.push({ fn: e.fn, cell: c, at: e.at });
            break;
        }
      }
    }
    // Functions, lambdas and methods defined here read their free names when called: a free name
    // this task binds anywhere is its own; any other one is read from upstream.
    // Defining a function that assigns a global writes nothing until the function is used.
    for (const { fn, cell, at } of deferred) {
      whereCell = cell;
      whereAt = at;
      const visiting = new Set<FnInfo>([fn]);
      for (const f of fn.free) if (!local.has(f)) read(f, visiting);
    }
    for (const [n, b] of local) global.set(n, b);
    for (const n of flow.inputs.keys()) if (!found.changedInputs?.has(n)) flow.readOnly.add(n);
  }
  return flows;
}
