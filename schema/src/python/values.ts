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
    case 'DictComp':
      e.generators.forEach((g, i) => {
        const from = out.length;
        roots(g.iter, out);
        // A later iterable may iterate an earlier comprehension variable: that is not a module name.
        for (let k = out.length - 1; i > 0 && k >= from; k--)
          if (e.generators.slice(0, i).some((p) => binds(p.target, out[k]!))) out.splice(k, 1);
      });
      break;
    case 'Call': {
      const f = e.func;
      // `range(n)` and builtins that return numbers or strings share nothing with their arguments.
      if (f.k === 'Name' && (IMMUTABLE_RESULT_BUILTINS.has(f.id) || f.id === 'range')) break;
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
