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
 *
 * Modules, functions and classes bound by a top-level statement (or an alias of one) cross tasks
 * by source: a task that uses one another task bound runs that statement again (its
 * `definitions`), and so does a task whose inputs may hold instances of the notebook's classes or
 * references to its functions. A `from m import *` binds names the compiler cannot see: a task
 * that reads a name no statement it knows binds runs the star imports of earlier tasks again.
 *
 * Module state crosses by source too: a top-level statement whose whole effect is setting state of
 * the process (a call of a known state setter, a change to `sys.path`, `sys.meta_path` or
 * `os.environ`, an assignment into a module) runs again in every later task, as a top-to-bottom run
 * has that state for every later cell; what it reads crosses as for a definition. Any other change
 * to module state stays in its task, and a warning says why it could not be carried.
 */
import {
  DEFINITE_CHANGES,
  containerOnly,
  type Arg,
  type CellAnalysis,
  type Change,
  type FnInfo,
  type FnParam,
} from './python/analyze.js';
import {
  PURE_BUILTINS,
  PYTHON_BUILTINS,
  globalRandomState,
  libraryChangesArgument,
  setsModuleState,
  unpassableResult,
  unpassableValue,
} from './python/builtins.js';
import { isStarImport, type Definition } from './python/definitions.js';
import type { UnpassableFlow } from './diagnostics.js';

export type VersionKind = 'bound' | 'changed';

export interface FlowTask {
  name: string;
  /** 0-based index of the cell that starts the task. */
  first: number;
  cells: readonly number[];
  /** Names declared read-only for this task (`readonly:` on its cells, and the notebook's). */
  readonly: ReadonlySet<string>;
}

/** A definition a task runs, and the names it needs from it. */
export interface NeededDefinition {
  /** 0-based cell of the statement. */
  cell: number;
  definition: Definition;
  /** What the statement binds (an alias binds what it aliases); `state`: it binds nothing, it sets module state. */
  kind: 'import' | 'function' | 'class' | 'state';
  names: Set<string>;
}

export interface TaskFlow {
  /** Each input: the task whose version is read, and whether that task bound it or changed it in place. */
  inputs: Map<string, { from: string; kind: VersionKind }>;
  /** Inputs this task does not change in place. */
  readOnly: Set<string>;
  /** Names later tasks read from this task. */
  outputs: Set<string>;
  /** Imports, functions, classes and module state of other tasks this task runs again, by `cell:index`. */
  definitions: Map<string, NeededDefinition>;
  /** The 0-based cell where the task last binds or changes each name. */
  lastCell: Map<string, number>;
}

export interface FlowReport {
  (
    cell: number,
    severity: 'error' | 'warning',
    message: string,
    task: string,
    at: number,
    unpassable?: UnpassableFlow,
  ): void;
}

/** The top-level statement that bound a name (it crosses tasks by source). */
interface DefRef {
  cell: number;
  index: number;
  definition: Definition;
  /** An alias (`f = g`): the name it aliases and that name's binding where the alias ran. */
  aliased: { name: string; binding: Binding } | undefined;
}

/** A statement that sets module state, run again from its source in every later task. */
interface CarriedState {
  task: string;
  cell: number;
  index: number;
  definition: Definition;
  /** The state it sets, in words, and where in the cell. */
  what: string;
  at: number;
  /** What each name it reads was bound to where it ran (undefined: a builtin or unbound name). */
  reads: Map<string, Binding | undefined>;
  /** Lambdas it makes: what they read is read whenever they are called. */
  lambdas: FnInfo[];
  /** A name it reads was bound again or changed: from the task that saw it on, it is not run again. */
  stopped: boolean;
}

/** The state statement (an analysis `state` candidate) whose events are being read, and what they did. */
interface StateRun {
  cell: number;
  index: number;
  definition: Definition;
  operation: NonNullable<Definition['state']>;
  /** The module state its own operation sets, in words, and where. */
  sets: { what: string; at: number } | undefined;
  /** Why running it again elsewhere would do more than set state (it binds or changes a name). */
  spoilt: string | undefined;
  /** Module state it sets besides its operation (in the functions it calls), and why each is not carried on its own. */
  more: { what: string; at: number; why: string | undefined }[] | null;
  lambdas: FnInfo[] | null;
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
  /** Bound by a top-level import, def, class or `f = lambda` statement. */
  def: DefRef | undefined;
  /** A value that cannot pass between tasks (an open file, a generator, ...), said in words. */
  unpassable: string | undefined;
  /** The library call that made that value (`sqlite3.connect`), for what its methods return. */
  maker: string | undefined;
  /** 0-based cell where it was bound, for bindings that carry more than their kind. */
  cell: number;
}

const NO_BINDING: Binding = {
  task: null,
  fn: undefined,
  deleted: false,
  immutable: false,
  imported: undefined,
  changed: false,
  def: undefined,
  unpassable: undefined,
  maker: undefined,
  cell: -1,
};

/** A decorator line that gives a function a cache of its results (`@cache`, `@functools.lru_cache(None)`). */
const CACHE_DECORATOR = /^@\s*(?:functools\s*\.\s*)?(cache|lru_cache)\b/m;

/** Why a change to module state is not carried when nothing more precise can be said. */
const NOT_ALONE = 'the statement it is part of does more than set it';

/** Index of the first `state` candidate among `definitions` from `from` on, or -1. */
function nextState(definitions: readonly Definition[], from: number): number {
  for (let i = from; i < definitions.length; i++) if (definitions[i]!.kind === 'state') return i;
  return -1;
}

function binding(task: string | null, more: Partial<Binding> = {}): Binding {
  return { ...NO_BINDING, task, ...more };
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
      if (e.kind === 'bind')
        global.set(e.name, binding(null, { fn: e.fn, immutable: e.value?.immutable, imported: e.value?.imported }));
      else if (e.kind === 'del') global.delete(e.name);
    }
  }

  const flows = new Map<string, TaskFlow>(
    tasks.map((t) => [
      t.name,
      { inputs: new Map(), readOnly: new Set(), outputs: new Set(), definitions: new Map(), lastCell: new Map() },
    ]),
  );
  const orderOf = new Map(tasks.map((t, i) => [t.name, i]));
  /**
   * Per task, per name it bound or changed: the notebook's classes (and functions used as values)
   * its value may hold, so unpickling it needs them defined. A statement's value may hold what the
   * statement used and what the names it read held (`m = Model()`, `pair = (m, 1)`,
   * `out.append(make())` where make builds a Model).
   */
  const holdsOf = new Map<string, Map<string, ReadonlySet<Binding>>>();
  /** Per task, the first change it makes to module state that is not carried (it stays in the task's process). */
  const stateOf = new Map<
    string,
    { what: string; cell: number; at: number; more: number; why: string; device: string | undefined }
  >();
  /** `from m import *` statements of the tasks so far, in notebook order (see isStarImport). */
  const stars: { cell: number; index: number; definition: Definition }[] = [];
  /** Statements that set module state, in notebook order: every later task runs them again. */
  const carried: CarriedState[] = [];
  /** Per module whose global random state tasks use: the tasks, in order, and where each first does. */
  const randomUsers = new Map<string, { task: string; cell: number; at: number }[]>();

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
    /** Names bound in this task to new containers that share elements of other names' objects. */
    const elementsOf = new Map<string, readonly string[]>();
    const hinted = new Set<string>();
    const holds = new Map<string, ReadonlySet<Binding>>();
    holdsOf.set(t.name, holds);
    /** What the statement being read so far used (see holdsOf); a read after a bind starts the next. */
    const statement: { uses: Set<Binding> | null; afterBind: boolean } = { uses: null, afterBind: false };
    const hold = (more: ReadonlySet<Binding> | undefined) => {
      if (more?.size) for (const b of more) (statement.uses ??= new Set()).add(b);
    };
    // Where the current event is, for messages (numbers, not an object per event).
    let whereCell = t.first;
    let whereAt = 0;
    /** Index of the current event in its cell's analysis (to find the block it is in). */
    let whereEvent = -1;
    /** The state statement being read, if any. */
    let current: StateRun | null = null;
    /** The function or class whose effects a use is going through (the outermost), for messages. */
    let calling: FnInfo | undefined;

    /** The task runs the statement that bound `g` (another task's import, def or class) again. */
    const define = (name: string, g: Binding & { def: DefRef }, visiting?: Set<FnInfo>) => {
      const key = `${g.def.cell}:${g.def.index}`;
      const needed = flow.definitions.get(key);
      if (needed) {
        needed.names.add(name);
        return;
      }
      const kind = g.def.definition.kind === 'alias' ? (g.fn?.kind ?? 'import') : g.def.definition.kind;
      flow.definitions.set(key, { cell: g.def.cell, definition: g.def.definition, kind, names: new Set([name]) });
      const cache = kind === 'function' ? CACHE_DECORATOR.exec(g.def.definition.source)?.[1] : undefined;
      if (cache)
        report(
          whereCell,
          'warning',
          `function '${name}' keeps a cache (@${cache}, cell ${g.def.cell + 1}): task '${t.name}' defines it again from its source, so its cache starts empty there instead of holding what earlier tasks computed; calls that relied on it compute again (a deep recursion may exceed Python's recursion limit)`,
          t.name,
          whereAt,
        );
      const aliased = g.def.aliased;
      // An alias runs again after what it aliased there (setup cells run in every task); running
      // it by name now could find a later binding of that name.
      if (aliased) {
        if (aliased.binding.task !== null) define(aliased.name, aliased.binding as Binding & { def: DefRef }, visiting);
      }
      // Running it again reads what it read: decorators, base classes, default values, annotations;
      // it runs before the task's cells, so it reads what the task starts with, not what they bind.
      else for (const r of g.def.definition.reads) read(r, visiting, false, true);
    };

    /**
     * Reads `name` (an input or a definition when another task made it); returns its binding.
     * `called`: the read calls it (`f(x)`), so a function is not kept as a value. `atStart`: the
     * read happens before the task's cells run (a definition run again), so not from what they bind.
     */
    const read = (name: string, visiting?: Set<FnInfo>, called = false, atStart = false): Binding | undefined => {
      const own = atStart ? undefined : local.get(name);
      if (own) {
        if (own.fn) use(own, visiting, called);
        else hold(holds.get(name));
        return own;
      }
      const g = global.get(name);
      if (!g) {
        // A name no statement the compiler sees binds may come from an earlier task's `from m import
        // *`, a builtin too (`from numpy import *` rebinds `sum`): this task runs those again.
        for (const star of stars) {
          const key = `${star.cell}:${star.index}`;
          if (!flow.definitions.has(key))
            flow.definitions.set(key, {
              cell: star.cell,
              definition: star.definition,
              kind: 'import',
              names: new Set(),
            });
        }
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
            'warning',
            `'${name}' is read before any earlier task binds it; task '${later.task}' binds it later (cell ${later.cell + 1}): move the cells or add after:${later.task}`,
            t.name,
            whereAt,
          );
        }
        return undefined;
      }
      if (g.deleted) return g;
      if (g.task !== null && g.task !== t.name) {
        if (g.def) define(name, g as Binding & { def: DefRef }, visiting);
        else {
          if (!flow.inputs.has(name)) passed(name, g);
          hold(holdsOf.get(g.task)?.get(name));
        }
      }
      if (g.fn) use(g, visiting, called);
      return g;
    };

    /** `name` crosses from another task as a value (pickled). */
    const passed = (name: string, g: Binding) => {
      const from = g.task!;
      flow.inputs.set(name, { from, kind: g.changed ? 'changed' : 'bound' });
      flows.get(from)?.outputs.add(name);
      if (hinted.has(name)) return;
      hinted.add(name);
      if (g.unpassable) {
        report(
          g.cell,
          'error',
          `'${name}' is ${g.unpassable} (cell ${g.cell + 1}): it cannot pass from task '${from}' to task '${t.name}', which reads it (cell ${whereCell + 1}); values pass between tasks pickled, so make it in '${t.name}'`,
          from,
          0,
          { name, what: g.unpassable, from, to: t.name },
        );
      }
      // Anything else passes pickled, also a function, class or module bound inside a block (`if
      // GPU: def f()`, `try: import torch`): the runner pickles the notebook's functions and classes
      // that no task defines again by value, and modules by name.
    };

    /**
     * Using a function or class (any read of its name) reads what it reads when called (followed
     * transitively, from this task's point of view) and does what it does to globals.
     */
    const use = (g: Binding, visiting?: Set<FnInfo>, called = false) => {
      const fn = g.fn!;
      // Values this task makes may hold instances of a class it uses, or a function it uses as a value.
      if (g.def && (fn.kind === 'class' || !called)) (statement.uses ??= new Set()).add(g);
      if (visiting?.has(fn)) return;
      visiting = visiting ?? new Set();
      visiting.add(fn);
      // What a call returns may hold the functions and classes the body uses as values (`return
      // {"PRINT": [show]}`), not those it only calls.
      for (const f of fn.free) read(f, visiting, !fn.valueFree.has(f));
      useEffects(fn, visiting);
    };

    /** What a call of `fn` does to module-level names: changes them in place, assigns them (`global`). */
    const useEffects = (fn: FnInfo, visiting: Set<FnInfo>) => {
      const outer = calling;
      calling ??= fn;
      for (const c of fn.changes) change(c.name, c.change, c.arg, visiting);
      for (const w of fn.globalWrites) {
        read(w, visiting);
        if (current) current.spoilt ??= `it also assigns '${w}'`;
        local.set(w, made.plain);
        flow.lastCell.set(w, whereCell);
      }
      calling = outer;
    };

    const visible = (name: string): Binding | undefined => local.get(name) ?? global.get(name);

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

    /**
     * A use of a module (or of a function imported from one) that may change its state; `top`: it
     * is the operation of the state statement being read.
     */
    const moduleUse = (name: string, imported: string, c: Change, top: boolean) => {
      if (c.how === 'arg') return;
      const dotted = c.how === 'method' && c.attrs !== undefined ? `${imported}.${c.attrs}` : imported;
      const random = c.how === 'method' || c.how === 'call' ? globalRandomState(dotted) : undefined;
      if (random) {
        const users = randomUsers.get(random) ?? [];
        randomUsers.set(random, users);
        if (!users.some((u) => u.task === t.name)) users.push({ task: t.name, cell: whereCell, at: whereAt });
        return;
      }
      if (!DEFINITE_CHANGES.has(c.how) && !setsModuleState(dotted)) return;
      stateChanged(DEFINITE_CHANGES.has(c.how) ? `an assignment into '${name}' (${imported})` : `${dotted}()`, top);
    };

    /**
     * The task changes module state: carried to later tasks when it is the operation of a state
     * statement that does nothing else (decided at its end), else reported (`why` it is not carried).
     */
    const stateChanged = (what: string, top: boolean, why?: string) => {
      why ??= calling ? `it is set inside ${calling.kind} '${calling.name}'` : undefined;
      if (current) {
        if (top && !current.sets) current.sets = { what, at: whereAt };
        else (current.more ??= []).push({ what, at: whereAt, why });
        return;
      }
      if (why === undefined) {
        const block = analysis(whereCell).blocks.find((b) => b.from <= whereEvent && whereEvent < b.to);
        why = block ? `it is inside ${/^[aeiou]/.test(block.what) ? 'an' : 'a'} \`${block.what}\` block` : NOT_ALONE;
      }
      notCarried(what, whereCell, whereAt, why);
    };

    const notCarried = (what: string, cell: number, at: number, why: string, device?: string) => {
      const first = stateOf.get(t.name);
      if (first) first.more++;
      else stateOf.set(t.name, { what, cell, at, more: 0, why, device });
    };

    /** The end of a state statement: carried to later tasks, or its changes reported. */
    const stateStatementDone = (s: StateRun) => {
      current = null;
      // Most candidates (`print(x)`, `model.fit(X)`) set no module state.
      if (!s.sets && !s.more) return;
      const reads = new Map<string, Binding | undefined>();
      // Each task runs on the GPUs the executor holds for it; the notebook's choice would take others'.
      const device = s.operation.device;
      let why = s.spoilt ?? (device && `the executor sets ${device} for each task, to the GPUs it holds for it`);
      for (const name of s.definition.reads) {
        const b = visible(name);
        reads.set(name, b);
        if (why || !b || b.task === null || b.def) continue;
        if (b.deleted) why = `'${name}' is deleted`;
        else if (b.fn || b.imported !== undefined)
          why = `'${name}' is ${b.fn ? 'defined' : 'imported'} inside a block, so it cannot cross by source`;
        else if (b.unpassable) why = `'${name}' is ${b.unpassable}, which cannot pass to later tasks`;
      }
      if (s.sets && why === undefined) {
        carried.push({
          task: t.name,
          cell: s.cell,
          index: s.index,
          definition: s.definition,
          what: s.sets.what,
          at: s.sets.at,
          reads,
          lambdas: s.lambdas ?? [],
          stopped: false,
        });
        return;
      }
      if (s.sets) notCarried(s.sets.what, s.cell, s.sets.at, why ?? NOT_ALONE, device);
      for (const m of s.more ?? []) notCarried(m.what, s.cell, m.at, m.why ?? why ?? NOT_ALONE);
    };

    /**
     * This task runs a state statement of an earlier task again (before its cells, with the
     * definitions), and reads what it read: the same definitions, the same versions of values.
     */
    const replay = (s: CarriedState) => {
      for (const [name, b] of s.reads) {
        if (!b || b.task === null || b.def || global.get(name) === b) continue;
        // A value it read was bound again or changed since: running it here would not set the same state.
        s.stopped = true;
        const now = global.get(name)!;
        report(
          s.cell,
          'warning',
          `task '${s.task}' changes module state (${s.what}): later tasks run this statement again from its source, but task '${now.task}' ${now.changed ? 'changes' : 'binds'} '${name}', which it reads, again, so task '${t.name}' and the tasks after it do not run it and do not see that state; set it in a setup cell`,
          s.task,
          s.at,
        );
        return;
      }
      flow.definitions.set(`${s.cell}:${s.index}`, {
        cell: s.cell,
        definition: s.definition,
        kind: 'state',
        names: new Set(),
      });
      for (const [name, b] of s.reads) {
        if (!b || b.task === null) continue;
        if (!b.def) read(name);
        else {
          // The statement it read then (an import made again later runs again after this one).
          define(name, b as Binding & { def: DefRef });
          if (b.fn) use(b, undefined, true);
        }
      }
      for (const fn of s.lambdas) {
        const visiting = new Set<FnInfo>([fn]);
        for (const f of fn.free) read(f, visiting);
      }
      // What it used is in no value this task makes.
      statement.uses = null;
    };

    const change = (name: string, c: Change, arg: Arg, visiting?: Set<FnInfo>, seen?: Set<string>): void => {
      const b = read(name, visiting, c.how === 'call');
      const op = current?.operation;
      const top =
        op !== undefined &&
        visiting === undefined &&
        name === op.root &&
        (op.call === null
          ? DEFINITE_CHANGES.has(c.how)
          : (c.how === 'call' || c.how === 'method') && c.attrs === op.call);
      if (b?.imported !== undefined) moduleUse(name, b.imported, c, top);
      else if (b?.fn && b.task !== t.name && DEFINITE_CHANGES.has(c.how))
        // A function or class another task defined is defined again from its source in each task.
        stateChanged(
          `an assignment into ${b.fn.kind} '${name}'`,
          false,
          `later tasks define ${b.fn.kind} '${name}' again from its source, without it`,
        );
      // Builtins and unknown names, modules, functions and classes (they cross tasks by source), literals.
      if (!b || b.deleted || b.fn || b.imported !== undefined || b.immutable) return;
      if (!DEFINITE_CHANGES.has(c.how)) {
        if (c.how === 'arg' && readsArgument(c, arg, visiting)) return;
        if (t.readonly.has(name)) return;
      } else if (t.readonly.has(name) && !found.contradicted?.has(name)) {
        (found.contradicted ??= new Set()).add(name);
        report(
          whereCell,
          'warning',
          `'${name}' is declared read-only for task '${t.name}', but this changes it: later tasks that read '${name}' run after this one`,
          t.name,
          whereAt,
        );
      }
      if (!local.has(name) && flow.inputs.has(name)) (found.changedInputs ??= new Set()).add(name);
      if (current) current.spoilt ??= `it also changes '${name}'`;
      const version = b.task === t.name && !b.changed ? made.plain : made.changed;
      // A generator advanced or a file read from is still what it was: it cannot pass either.
      local.set(
        name,
        b.unpassable === undefined ? version : { ...version, unpassable: b.unpassable, maker: b.maker, cell: b.cell },
      );
      // What the statement used may now be inside the object (`out.append(Model())`, `d["m"] = m`);
      // an argument passed to a call is not taken to receive anything.
      // The new version still holds what the one it changed held (the instances of a class made in
      // an earlier task and changed in this one).
      const uses = c.how === 'arg' ? null : statement.uses;
      const before = holds.get(name) ?? (b.task !== null ? holdsOf.get(b.task)?.get(name) : undefined);
      if (uses?.size) holds.set(name, before ? new Set([...before, ...uses]) : new Set(uses));
      else if (before) holds.set(name, before);
      flow.lastCell.set(name, whereCell);
      const aliases = aliasOf.get(name);
      // A new container made from other names (`y = list(xs)`) shares their elements only.
      const elements = containerOnly(c) ? undefined : elementsOf.get(name);
      if (!aliases && !elements) return;
      seen = seen ?? new Set([name]);
      for (const names of [aliases, elements]) {
        for (const r of names ?? []) {
          if (seen.has(r)) continue;
          seen.add(r);
          change(r, c, arg, visiting, seen);
        }
      }
    };

    /** The binding a bind event makes: most carry only their kind and are shared. */
    const bound = (e: CellAnalysis['events'][number] & { kind: 'bind' }, cell: number): Binding => {
      const v = e.value;
      const definition = v?.def !== undefined ? analysis(cell).definitions[v.def]! : undefined;
      if (definition?.kind === 'alias') {
        const name = definition.reads[0]!;
        const a = visible(name);
        // An alias of a module, function or class crosses by source like what it aliases: after
        // what it aliases, where that crosses by source too (or comes from setup).
        if (a && !a.deleted && (a.fn || a.imported !== undefined) && (a.task === null || a.def))
          return binding(t.name, {
            fn: a.fn,
            imported: a.imported,
            def: { cell, index: v!.def!, definition, aliased: { name, binding: a } },
            cell,
          });
        return made.plain;
      }
      const unpassable = v?.made !== undefined ? unpassableMade(v.made) : undefined;
      if (e.fn || v?.imported !== undefined || definition !== undefined || unpassable !== undefined) {
        return binding(t.name, {
          fn: e.fn,
          imported: v?.imported,
          def: definition && { cell, index: v!.def!, definition, aliased: undefined },
          unpassable: unpassable?.what,
          maker: unpassable?.maker,
          cell,
        });
      }
      return v?.immutable ? made.literal : made.plain;
    };

    /** Values `made` (the call that made them) says cannot pass between tasks: what, as a phrase, and its maker. */
    const unpassableMade = (by: string): { what: string; maker: string | undefined } | undefined => {
      if (by === '<generator>') return { what: 'a generator (a generator expression)', maker: undefined };
      const dot = by.indexOf('.');
      const base = dot < 0 ? by : by.slice(0, dot);
      const b = visible(base);
      const maker = !b ? by : b.imported !== undefined ? b.imported + (dot < 0 ? '' : by.slice(dot)) : undefined;
      const what =
        maker !== undefined
          ? unpassableValue(maker)
          : dot < 0 && b!.fn?.generator
            ? `a generator (made by calling ${by}())`
            : // A method of such a value that returns another (`con.cursor()`, `executor.submit(f)`).
              b!.maker !== undefined && by.indexOf('.', dot + 1) < 0
              ? unpassableResult(b!.maker, by.slice(dot + 1), by)
              : undefined;
      return what === undefined ? undefined : { what, maker };
    };

    // Module state earlier tasks set: this task runs those statements again, before its cells.
    for (const s of carried) if (!s.stopped) replay(s);

    for (const c of t.cells) {
      const a = analysis(c);
      const events = a.events;
      let next = nextState(a.definitions, 0);
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        whereCell = c;
        whereAt = e.at;
        whereEvent = i;
        if (next >= 0 && a.definitions[next]!.state!.from === i) {
          const definition = a.definitions[next]!;
          current = {
            cell: c,
            index: next,
            definition,
            operation: definition.state!,
            sets: undefined,
            spoilt: undefined,
            more: null,
            lambdas: null,
          };
          next = nextState(a.definitions, next + 1);
        }
        if (e.kind === 'bind') statement.afterBind = true;
        else if (statement.afterBind) {
          statement.afterBind = false;
          statement.uses = null;
        }
        switch (e.kind) {
          case 'read':
            read(e.name);
            break;
          case 'bind': {
            if (current) current.spoilt ??= `it also binds '${e.name}'`;
            local.set(e.name, bound(e, c));
            if (statement.uses?.size) holds.set(e.name, statement.uses);
            else holds.delete(e.name);
            flow.lastCell.set(e.name, c);
            const alias = e.value?.alias;
            if (alias) {
              // Any binding in the task counts (`y = a` then `y = b`: changing y may change a or b).
              const before = aliasOf.get(e.name);
              aliasOf.set(e.name, before ? [...before, ...alias] : alias);
            }
            const elements = e.value?.elements;
            if (elements) {
              const before = elementsOf.get(e.name);
              elementsOf.set(e.name, before ? [...before, ...elements] : elements);
            }
            break;
          }
          case 'mutate':
            change(e.name, e.change, e.arg);
            break;
          case 'del':
            if (current) current.spoilt ??= `it also deletes '${e.name}'`;
            // `del x` needs x to exist in this task's namespace.
            if (!local.has(e.name) || local.get(e.name)?.deleted) read(e.name);
            local.set(e.name, made.deleted);
            break;
          case 'lambda': {
            // An anonymous function is used where it is made (`sorted(xs, key=lambda v: w[v])`).
            const visiting = new Set<FnInfo>([e.fn]);
            for (const f of e.fn.free) read(f, visiting);
            useEffects(e.fn, visiting);
            if (current) (current.lambdas ??= []).push(e.fn);
            break;
          }
        }
        if (current && i === current.operation.to - 1) stateStatementDone(current);
      }
    }
    // Inputs may hold instances of the notebook's classes (or refer to its functions) that their
    // producers used: unpickling them needs those defined, as they were before this task's cells.
    whereCell = t.first;
    whereAt = 0;
    for (let done = 0; done !== flow.inputs.size;) {
      done = flow.inputs.size;
      for (const [input, { from }] of [...flow.inputs]) {
        for (const d of holdsOf.get(from)?.get(input) ?? []) {
          const name = d.def!.definition.names[0]!;
          if (global.get(name) === d) {
            define(name, d as Binding & { def: DefRef });
            use(d);
          }
        }
      }
    }
    for (const [n, b] of local) global.set(n, b);
    for (const c of t.cells)
      analysis(c).definitions.forEach((definition, index) => {
        if (isStarImport(definition)) stars.push({ cell: c, index, definition });
      });
    for (const n of flow.inputs.keys()) if (!found.changedInputs?.has(n)) flow.readOnly.add(n);
  }
  const last = tasks[tasks.length - 1]?.name;
  for (const [task, s] of stateOf) {
    if (task === last) continue;
    report(
      s.cell,
      'warning',
      `task '${task}' changes module state (${s.what}${s.more ? ` and ${s.more} more` : ''}): it stays in the task's own process, so later tasks do not see it (${s.why}, so later tasks cannot run it again from its source); ${s.device ? `ask for GPUs in each task's resources (gpu:N) instead of setting ${s.device}` : 'make it a statement of its own at the top level of a cell, or do it in a setup cell (setup cells run in every task)'}`,
      task,
      s.at,
    );
  }
  for (const [module, users] of randomUsers) {
    for (const u of users.slice(1)) {
      report(
        u.cell,
        'warning',
        `tasks '${users[0]!.task}' and '${u.task}' both use the global random state of ${module}: each task starts it afresh (from the setup cells), so '${u.task}' does not continue the sequence a top-to-bottom run draws; make a generator (numpy.random.default_rng(seed), random.Random(seed), torch.Generator()) and pass it between tasks`,
        u.task,
        u.at,
      );
    }
  }
  return flows;
}
