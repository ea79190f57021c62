/**
 * What the analysis can tell about a value from the expression that makes it: which names' objects
 * it may share, and whether it is a literal nothing can change.
 */
import type { Expr } from './ast.js';
import { IMMUTABLE_RESULT_BUILTINS } from './builtins.js';

/** Whether an assignment target binds `name`. */
function binds(t: Expr, name: string): boolean {
  if (t.k === 'Name') return t.id === name;
  if (t.k === 'Tuple' || t.k === 'List') return t.elts.some((x) => binds(x, name));
  return t.k === 'Starred' && binds(t.value, name);
}

/** `a.b[i].c` → a; null when the chain does not start at a name (`f().x`). */
export function chainBase(e: Expr): (Expr & { k: 'Name' }) | null {
  while (e.k === 'Attribute' || e.k === 'Subscript') e = e.value;
  return e.k === 'Name' ? e : null;
}

/** A literal that nothing can change in place: numbers, strings, bytes, bools, None, and tuples of them. */
export function immutableValue(e: Expr): boolean {
  switch (e.k) {
    case 'Constant':
    case 'JoinedStr':
      return true;
    case 'Tuple':
      return e.elts.every(immutableValue);
    case 'UnaryOp':
      return immutableValue(e.operand);
    case 'BinOp':
      return immutableValue(e.left) && immutableValue(e.right);
    case 'Call':
      return e.func.k === 'Name' && IMMUTABLE_RESULT_BUILTINS.has(e.func.id);
    default:
      return false;
  }
}

/**
 * The names whose objects an expression's value may share, added to `out`: `x`, `x.a`, `x[i]`,
 * the elements of displays, both branches of `a if c else b`, `a or b`, what a comprehension
 * iterates, and what a call was given or called on (`np.asarray(x)` may be x itself; `d.get(k)`
 * is inside d). Operators make new objects (`x + 1`); so do builtins that return numbers or strings.
 */
export function roots(e: Expr, out: string[]): string[] {
  switch (e.k) {
    case 'Name':
      out.push(e.id);
      break;
    case 'Attribute':
    case 'Subscript':
    case 'Starred':
    case 'Await':
    case 'NamedExpr':
      roots(e.value, out);
      break;
    case 'Tuple':
    case 'List':
    case 'Set':
      for (const x of e.elts) roots(x, out);
      break;
    case 'Dict':
      for (const x of e.values) roots(x, out);
      break;
    case 'IfExp':
      roots(e.body, out);
      roots(e.orelse, out);
      break;
    case 'BoolOp':
      for (const x of e.values) roots(x, out);
      break;
    case 'ListComp':
    case 'SetComp':
    case 'GeneratorExp':
    case 'DictComp': {
      // The elements are what the element expression shares: names it reads, and through the
      // comprehension's variables, what those iterate (`[m for m in models]`, not `[v * 2 for v in xs]`).
      const elements = e.k === 'DictComp' ? roots(e.value, roots(e.key, [])) : roots(e.elt, []);
      const generators = e.generators;
      const iterated = new Set<number>();
      // A variable stands for what its iterable holds, which may be an earlier variable (`for c in r`).
      const resolve = (names: readonly string[]) => {
        for (const n of names) {
          const i = generators.findIndex((g) => binds(g.target, n));
          if (i < 0) out.push(n);
          else if (!iterated.has(i)) {
            iterated.add(i);
            resolve(roots(generators[i]!.iter, []));
          }
        }
      };
      resolve(elements);
      break;
    }
    case 'Call': {
      const f = e.func;
      // `range(n)` and builtins that return numbers or strings share nothing with their arguments;
      // nor does a deep copy.
      if (f.k === 'Name' && (IMMUTABLE_RESULT_BUILTINS.has(f.id) || f.id === 'range' || f.id === 'deepcopy')) break;
      if (f.k === 'Attribute' && f.attr === 'deepcopy') break;
      if (f.k === 'Attribute') {
        const base = chainBase(f.value);
        if (base) out.push(base.id);
      }
      for (const a of e.args) roots(a.k === 'keyword' ? a.value : a, out);
      break;
    }
  }
  return out;
}

/** Builtins whose result is a new container or iterator: it holds the arguments' elements, not the arguments. */
const CONTAINER_BUILTINS: ReadonlySet<string> = new Set(
  'list set frozenset tuple dict sorted reversed iter enumerate zip map filter'.split(' '),
);

/**
 * Whether the value of `e` is a new container (or iterator) that shares at most the elements of
 * what it is made from: a display or comprehension, a builtin such as `list(x)` or `sorted(x)`, a
 * copy (`x.copy()`, `copy.copy(x)`; with keywords such as pandas' `deep=False` it may share more),
 * a slice of one of these.
 * Changing the container itself (`append`, `y[k] = v`) then changes nothing else.
 */
export function newContainer(e: Expr): boolean {
  switch (e.k) {
    case 'List':
    case 'Set':
    case 'Dict':
    case 'Tuple':
    case 'ListComp':
    case 'SetComp':
    case 'DictComp':
      return true;
    case 'Subscript':
      // A slice of a new list is a new list (`sorted(xs)[:3]`); of an array it may be a view.
      return e.slice.k === 'Slice' && newContainer(e.value);
    case 'Call': {
      const f = e.func;
      if (f.k === 'Name') return CONTAINER_BUILTINS.has(f.id) || (f.id === 'copy' && e.args.length === 1);
      return (
        f.k === 'Attribute' &&
        f.attr === 'copy' &&
        e.args.every((a) => a.k !== 'keyword') &&
        (e.args.length === 0 || (f.value.k === 'Name' && f.value.id === 'copy'))
      );
    }
    default:
      return false;
  }
}

/**
 * What made a value: the called name, dotted when it is an attribute chain (`open`,
 * `threading.Lock`, `torch.cuda.Stream`), or `<generator>` for a generator expression; undefined
 * for anything else. The compiler recognises values that cannot pass between tasks from it.
 */
export function madeBy(e: Expr): string | undefined {
  if (e.k === 'GeneratorExp') return '<generator>';
  if (e.k !== 'Call') return undefined;
  let f = e.func;
  let dotted = '';
  while (f.k === 'Attribute') {
    dotted = `.${f.attr}${dotted}`;
    f = f.value;
  }
  return f.k === 'Name' ? f.id + dotted : undefined;
}

/** Scratch space: most values share nothing, and then nothing is allocated. */
const SCRATCH: string[] = [];

/** The roots of `e` as a new array, or undefined when there are none. */
export function rootsOf(e: Expr): string[] | undefined {
  if (e.k === 'Constant') return undefined;
  roots(e, SCRATCH);
  const out = SCRATCH.length ? SCRATCH.slice() : undefined;
  SCRATCH.length = 0;
  return out;
}
