/**
 * Name analysis of one code cell with a real Python parser (@lezer/python). The result is the
 * cell's module-level effects in execution order: reads of free names, bindings (with what a bound
 * function reads when called), deletions, and the free names of functions, lambdas and class
 * methods (reads that happen whenever those are called; the compiler resolves them per task).
 *
 * Scoping follows Python: function locals are decided for the whole body (parameters and every
 * name bound anywhere in it, unless declared `global`/`nonlocal`); comprehension variables live in
 * the comprehension; names bound in a class body are not visible to its methods; default values,
 * annotations and decorators are evaluated where the `def` is.
 */
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import { blankMagics } from './magics.js';

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

class ModuleSink implements Sink {
  readonly events: PyEvent[] = [];
  read(name: string, at: number) {
    this.events.push({ kind: 'read', name, at });
  }
  bind(name: string, at: number, fn?: FnInfo) {
    this.events.push(fn ? { kind: 'bind', name, at, fn } : { kind: 'bind', name, at });
  }
  mutate(name: string, at: number) {
    this.events.push({ kind: 'mutate', name, at });
  }
  del(name: string, at: number) {
    this.events.push({ kind: 'del', name, at });
  }
  nested(fn: FnInfo, at: number) {
    this.events.push({ kind: 'deferred', fn, at });
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

/** Names whose use makes the analysis blind: warned about, never guessed. */
const DYNAMIC_CALLS = new Set(['exec', 'eval', 'globals']);

const COMPREHENSIONS = new Set([
  'ComprehensionExpression',
  'ArrayComprehensionExpression',
  'SetComprehensionExpression',
  'DictionaryComprehensionExpression',
]);

/** Brackets and colons around a comprehension's parts. */
const COMPREHENSION_PUNCTUATION = new Set(['(', ')', '[', ']', '{', '}', ':']);

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

class Walker {
  readonly warnings: { message: string; at: number }[] = [];
  syntaxError = false;
  constructor(readonly src: string) {}

  text(node: SyntaxNode): string {
    return this.src.slice(node.from, node.to);
  }

  warn(message: string, at: number) {
    this.warnings.push({ message, at });
  }

  error(node: SyntaxNode) {
    if (!this.syntaxError) {
      this.warn('syntax error (or syntax the parser does not know, such as parenthesized `with` items): dependencies of this cell may be incomplete', node.from);
    }
    this.syntaxError = true;
  }

  statements(node: SyntaxNode, sink: Sink) {
    // Sibling links, not children(): the walk visits every node, so arrays per node add up.
    for (let c = node.firstChild; c; c = c.nextSibling) this.statement(c, sink);
  }

  statement(node: SyntaxNode, sink: Sink): void {
    if (node.type.isError) {
      this.error(node);
      this.expr(node, sink);
      return;
    }
    switch (node.name) {
      case 'Body':
      case 'StatementGroup':
        return this.statements(node, sink);
      case 'AssignStatement':
        return this.assign(node, sink);
      case 'UpdateStatement':
        return this.update(node, sink);
      case 'DeleteStatement':
        for (const c of children(node)) if (c.name !== 'del' && c.name !== ',') this.delTarget(c, sink);
        return;
      case 'ImportStatement':
        return this.importStmt(node, sink);
      case 'ScopeStatement': {
        const kids = children(node);
        const kind = kids[0]?.name ?? 'global';
        for (const c of kids) if (c.name === 'VariableName') sink.declare(kind, this.text(c));
        return;
      }
      case 'ForStatement':
        return this.forStmt(node, sink);
      case 'WithStatement':
        return this.withStmt(node, sink);
      case 'TryStatement':
        return this.tryStmt(node, sink);
      case 'FunctionDefinition':
        return this.funcDef(node, sink);
      case 'ClassDefinition':
        return this.classDef(node, sink);
      case 'DecoratedStatement':
        for (const c of children(node)) {
          if (c.name === 'Decorator') this.decorator(c, sink);
          else this.statement(c, sink);
        }
        return;
      case 'MatchStatement':
        return this.matchStmt(node, sink);
      case 'TypeDefinition': {
        const name = node.getChild('VariableName');
        for (const c of children(node)) if (c !== name && c.name !== 'TypeParamList') this.expr(c, sink);
        if (name) sink.bind(this.text(name), name.from);
        return;
      }
      case 'IfStatement':
      case 'WhileStatement':
      default:
        // if/while/return/raise/assert/expression statements: reads in order, bodies as statements.
        for (let c = node.firstChild; c; c = c.nextSibling) {
          if (c.name === 'Body') this.statements(c, sink);
          else this.expr(c, sink);
        }
    }
  }

  /** `a = b = value`, `x: T = v`, `x: T` */
  assign(node: SyntaxNode, sink: Sink) {
    const segments: SyntaxNode[][] = [[]];
    let annotation: SyntaxNode | undefined;
    for (const c of children(node)) {
      if (c.name === 'AssignOp') segments.push([]);
      else if (c.name === 'TypeDef') annotation = c;
      else segments[segments.length - 1]!.push(c);
    }
    if (annotation) this.expr(annotation, sink);
    if (segments.length === 1) return; // annotation only: binds nothing
    const value = segments.pop()!;
    const target0 = segments[0]!;
    const lambda = value.length === 1 && value[0]!.name === 'LambdaExpression' ? value[0]! : undefined;
    let fn: FnInfo | undefined;
    if (lambda && segments.length === 1 && target0.length === 1 && target0[0]!.name === 'VariableName') {
      fn = this.lambda(lambda, sink, this.text(target0[0]!));
    } else {
      for (const v of value) this.expr(v, sink);
    }
    for (const seg of segments) for (const t of seg) this.target(t, sink, fn);
  }

  /** `x += 1` reads x and binds it again; `a[i] += 1` reads a and mutates it. */
  update(node: SyntaxNode, sink: Sink) {
    const kids = children(node);
    const op = kids.findIndex((c) => c.name === 'UpdateOp');
    for (const c of kids.slice(op + 1)) this.expr(c, sink);
    for (const t of kids.slice(0, op)) {
      if (t.name === 'VariableName') {
        sink.read(this.text(t), t.from);
        sink.bind(this.text(t), t.from);
      } else this.target(t, sink);
    }
  }

  target(node: SyntaxNode, sink: Sink, fn?: FnInfo): void {
    switch (node.name) {
      case 'VariableName':
        return sink.bind(this.text(node), node.from, fn);
      case 'TupleExpression':
      case 'ArrayExpression':
      case 'ParenthesizedExpression':
        for (const c of children(node)) this.target(c, sink);
        return;
      case 'MemberExpression': {
        this.expr(node, sink);
        const base = this.baseName(node);
        if (base) sink.mutate(this.text(base), base.from);
        return;
      }
      case '(':
      case ')':
      case '[':
      case ']':
      case ',':
      case '*':
        return;
      default:
        if (node.type.isError) this.error(node);
        this.expr(node, sink);
    }
  }

  delTarget(node: SyntaxNode, sink: Sink): void {
    switch (node.name) {
      case 'VariableName':
        return sink.del(this.text(node), node.from);
      case 'TupleExpression':
      case 'ArrayExpression':
      case 'ParenthesizedExpression':
        for (const c of children(node)) this.delTarget(c, sink);
        return;
      case 'MemberExpression':
        return this.target(node, sink);
      case '(':
      case ')':
      case '[':
      case ']':
      case ',':
        return;
      default:
        this.expr(node, sink);
    }
  }

  baseName(node: SyntaxNode): SyntaxNode | undefined {
    let n: SyntaxNode | null = node;
    while (n && n.name === 'MemberExpression') n = n.firstChild;
    while (n && n.name === 'ParenthesizedExpression') n = n.firstChild?.nextSibling ?? null;
    return n && n.name === 'VariableName' ? n : undefined;
  }

  importStmt(node: SyntaxNode, sink: Sink) {
    const kids = children(node);
    const isFrom = kids[0]?.name === 'from';
    let i = 0;
    let module = '';
    if (isFrom) {
      i = 1;
      while (i < kids.length && kids[i]!.name !== 'import') module += this.text(kids[i++]!);
    }
    i++; // past `import`
    if (module === '__future__') return;
    let head: SyntaxNode | undefined;
    let alias: SyntaxNode | undefined;
    let afterAs = false;
    const flush = () => {
      const n = alias ?? head;
      if (n) sink.bind(this.text(n), n.from);
      head = alias = undefined;
      afterAs = false;
    };
    for (; i < kids.length; i++) {
      const c = kids[i]!;
      if (c.name === '*') {
        this.warn(`'from ${module} import *' binds names the dependency analysis cannot see; import them by name`, node.from);
      } else if (c.name === 'as') afterAs = true;
      else if (c.name === ',') flush();
      else if (c.name === 'VariableName') {
        if (afterAs) alias = c;
        else if (!head) head = c;
      } else if (c.type.isError) this.error(c);
    }
    flush();
  }

  forStmt(node: SyntaxNode, sink: Sink) {
    const kids = children(node);
    const inAt = kids.findIndex((c) => c.name === 'in');
    const forAt = kids.findIndex((c) => c.name === 'for');
    const bodies = kids.filter((c) => c.name === 'Body');
    for (const c of kids.slice(inAt + 1)) if (c.name !== 'Body' && c.name !== 'else') this.expr(c, sink);
    for (const t of kids.slice(forAt + 1, inAt < 0 ? kids.length : inAt)) if (t.name !== 'Body') this.target(t, sink);
    for (const b of bodies) this.statements(b, sink);
  }

  withStmt(node: SyntaxNode, sink: Sink) {
    let afterAs = false;
    for (const c of children(node)) {
      if (c.name === 'as') afterAs = true;
      else if (c.name === 'Body') this.statements(c, sink);
      else if (afterAs) {
        this.target(c, sink);
        afterAs = false;
      } else this.expr(c, sink);
    }
  }

  tryStmt(node: SyntaxNode, sink: Sink) {
    let afterAs = false;
    let bound: SyntaxNode | undefined;
    for (const c of children(node)) {
      if (c.name === 'as') afterAs = true;
      else if (c.name === 'Body') {
        this.statements(c, sink);
        // Python deletes the `except ... as e` name when the handler ends.
        if (bound) sink.del(this.text(bound), bound.from);
        bound = undefined;
      } else if (afterAs && c.name === 'VariableName') {
        sink.bind(this.text(c), c.from);
        bound = c;
        afterAs = false;
      } else this.expr(c, sink);
    }
  }

  /** Parameters bind in the function; defaults and annotations are read where the def is. */
  params(list: SyntaxNode, outer: Sink, inner: FunctionSink) {
    let afterAssign = false;
    for (const c of children(list)) {
      if (c.name === 'AssignOp') afterAssign = true;
      else if (afterAssign) {
        this.expr(c, outer);
        afterAssign = false;
      } else if (c.name === 'TypeDef') this.expr(c, outer);
      else if (c.name === 'VariableName') inner.bind(this.text(c));
      else if (c.type.isError) this.error(c);
    }
  }

  funcDef(node: SyntaxNode, sink: Sink) {
    const nameNode = node.getChild('VariableName');
    const name = nameNode ? this.text(nameNode) : '<function>';
    const inner = new FunctionSink(name);
    for (const c of children(node)) {
      if (c.name === 'ParamList') this.params(c, sink, inner);
      else if (c.name === 'TypeDef') this.expr(c, sink);
      else if (c.name === 'TypeParamList') {
        for (const p of c.getChildren('TypeParam')) for (const v of p.getChildren('VariableName')) inner.bind(this.text(v));
      }
    }
    const body = node.getChild('Body');
    if (body) this.statements(body, inner);
    const fn = inner.finish();
    for (const g of fn.globalWrites) {
      if (inner.globals.has(g)) {
        this.warn(
          `function '${name}' assigns the global '${g}': a task that uses '${name}' is treated as reading and writing '${g}'`,
          node.from,
        );
      }
    }
    sink.nested(fn, node.from);
    if (nameNode) sink.bind(name, nameNode.from, fn);
  }

  lambda(node: SyntaxNode, sink: Sink, name = '<lambda>'): FnInfo {
    const inner = new FunctionSink(name);
    let seenColon = false;
    for (const c of children(node)) {
      if (c.name === 'ParamList') this.params(c, sink, inner);
      else if (c.name === ':') seenColon = true;
      else if (seenColon) this.expr(c, inner);
    }
    const fn = inner.finish();
    sink.nested(fn, node.from);
    return fn;
  }

  classDef(node: SyntaxNode, sink: Sink) {
    const nameNode = node.getChild('VariableName');
    const name = nameNode ? this.text(nameNode) : '<class>';
    const args = node.getChild('ArgList');
    if (args) this.argList(args, sink);
    const inner = new ClassSink(sink, name);
    const body = node.getChild('Body');
    if (body) this.statements(body, inner);
    const fn = inner.finish();
    sink.nested(fn, node.from);
    if (nameNode) sink.bind(name, nameNode.from, fn);
  }

  decorator(node: SyntaxNode, sink: Sink) {
    const first = node.getChild('VariableName');
    if (first) sink.read(this.text(first), first.from);
    const args = node.getChild('ArgList');
    if (args) this.argList(args, sink);
  }

  matchStmt(node: SyntaxNode, sink: Sink) {
    for (const c of children(node)) {
      if (c.name === 'MatchBody') {
        for (const clause of c.getChildren('MatchClause')) {
          for (const part of children(clause)) {
            if (part.name === 'case' || part.name === ',') continue;
            if (part.name === 'Guard') this.expr(part, sink);
            else if (part.name === 'Body') this.statements(part, sink);
            else this.pattern(part, sink);
          }
        }
      } else if (c.name !== 'match') this.expr(c, sink);
    }
  }

  pattern(node: SyntaxNode, sink: Sink): void {
    switch (node.name) {
      case 'CapturePattern': {
        const v = node.getChild('VariableName');
        if (v && this.text(v) !== '_') sink.bind(this.text(v), v.from);
        return;
      }
      case 'AsPattern': {
        let afterAs = false;
        for (const c of children(node)) {
          if (c.name === 'as') afterAs = true;
          else if (afterAs && c.name === 'VariableName') sink.bind(this.text(c), c.from);
          else this.pattern(c, sink);
        }
        return;
      }
      case 'AttributePattern': {
        const v = node.getChild('VariableName');
        if (v) sink.read(this.text(v), v.from);
        return;
      }
      case 'ClassPattern':
      case 'MappingPattern':
        for (const c of children(node)) {
          if (c.name === 'VariableName') sink.read(this.text(c), c.from);
          else this.pattern(c, sink);
        }
        return;
      case 'KeywordPattern':
        for (const c of children(node)) if (c.name !== 'VariableName') this.pattern(c, sink);
        return;
      case 'LiteralPattern':
        return;
      default:
        if (node.type.isError) this.error(node);
        for (const c of children(node)) this.pattern(c, sink);
    }
  }

  /** Call arguments: `name=` is a keyword, not a read; `name:=` binds; `x for x in y` is a generator. */
  argList(node: SyntaxNode, sink: Sink) {
    const kids = children(node).filter((c) => c.name !== '(' && c.name !== ')');
    let arg: SyntaxNode[] = [];
    const flush = () => {
      if (arg.some((c) => c.name === 'for')) this.comprehension(arg, sink);
      else {
        for (let i = 0; i < arg.length; i++) {
          const c = arg[i]!;
          const next = arg[i + 1];
          if (c.name === 'VariableName' && next?.name === 'AssignOp') {
            const value = arg.slice(i + 2);
            for (const v of value) this.expr(v, sink);
            if (this.text(next) === ':=') sink.walrus().bind(this.text(c), c.from);
            break;
          }
          this.expr(c, sink);
        }
      }
      arg = [];
    };
    for (const c of kids) {
      if (c.name === ',') flush();
      else arg.push(c);
    }
    flush();
  }

  /**
   * `element for t in it if cond for u in it2`: the first iterable is read outside, everything
   * else inside the comprehension's own scope.
   */
  comprehension(parts: SyntaxNode[], sink: Sink) {
    const inner = new ComprehensionSink(sink);
    const firstFor = parts.findIndex((c) => c.name === 'for' || c.name === 'async');
    if (firstFor < 0) {
      // Only reachable through error recovery: read what is there.
      for (const c of parts) this.expr(c, sink);
      return;
    }
    const element = parts.slice(0, firstFor);
    let i = firstFor;
    let first = true;
    while (i < parts.length) {
      const c = parts[i]!;
      if (c.name === 'async') {
        i++;
        continue;
      }
      if (c.name === 'for') {
        const targets: SyntaxNode[] = [];
        i++;
        while (i < parts.length && parts[i]!.name !== 'in') targets.push(parts[i++]!);
        i++; // `in`
        const iter = parts[i++];
        if (iter) this.expr(iter, first ? sink : inner);
        first = false;
        for (const t of targets) this.target(t, inner);
      } else if (c.name === 'if') {
        i++;
        const cond = parts[i++];
        if (cond) this.expr(cond, inner);
      } else {
        this.expr(c, inner);
        i++;
      }
    }
    for (const e of element) this.expr(e, inner);
  }

  expr(node: SyntaxNode, sink: Sink): void {
    if (node.type.isError) this.error(node);
    switch (node.name) {
      case 'VariableName':
        return sink.read(this.text(node), node.from);
      case 'PropertyName':
      case 'String':
      case 'Number':
      case 'Comment':
        return;
      case 'NamedExpression': {
        const kids = children(node);
        for (const c of kids.slice(2)) this.expr(c, sink);
        const t = kids[0];
        if (t?.name === 'VariableName') sink.walrus().bind(this.text(t), t.from);
        return;
      }
      case 'LambdaExpression':
        this.lambda(node, sink);
        return;
      case 'ArgList':
        return this.argList(node, sink);
      case 'CallExpression': {
        const callee = node.firstChild;
        if (callee?.name === 'VariableName' && DYNAMIC_CALLS.has(this.text(callee))) {
          this.warn(`'${this.text(callee)}()' can read and bind any name: dependencies through it are not inferred`, callee.from);
        }
        for (let c = node.firstChild; c; c = c.nextSibling) this.expr(c, sink);
        return;
      }
      default:
        if (COMPREHENSIONS.has(node.name)) {
          return this.comprehension(
            children(node).filter((c) => !COMPREHENSION_PUNCTUATION.has(c.name)),
            sink,
          );
        }
        for (let c = node.firstChild; c; c = c.nextSibling) this.expr(c, sink);
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
  const blanked = blankMagics(source);
  const sink = new ModuleSink();
  const walker = new Walker(blanked.code);
  if (!blanked.cellMagic) {
    const tree = parser.parse(blanked.code);
    try {
      walker.statements(tree.topNode, sink);
    } catch (e) {
      // Pathological input (nesting deeper than the stack allows): say so instead of failing the compile.
      walker.warn(`this cell could not be analysed (${e instanceof RangeError ? 'nested too deeply' : String(e)}): its dependencies are unknown`, 0);
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
    warnings: walker.warnings.map((w) => ({ message: w.message, ...lineCol(blanked.code, w.at) })),
    magicLines: blanked.magicLines,
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
