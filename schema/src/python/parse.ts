/**
 * A recursive-descent parser for Python 3.12 (the grammar of the language reference) over the
 * tokens of tokenize.ts. A statement that does not parse becomes an `Error` statement and parsing
 * resumes at the next logical line, so the rest of a cell is still analysed.
 */
import type {
  Alias,
  Comprehension,
  ExceptHandler,
  Expr,
  FormattedValue,
  Keyword,
  MatchCase,
  Name,
  Param,
  Pattern,
  Stmt,
  TypeParam,
  WithItem,
} from './ast.js';
import { T, tokenize, type FField, type Token } from './tokenize.js';

export class ParseError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const KEYWORDS = new Set([
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
]);
/** Keywords that can start an expression. */
const EXPR_KEYWORDS = new Set(['not', 'lambda', 'await', 'None', 'True', 'False']);
const EXPR_START_OPS = new Set(['(', '[', '{', '-', '+', '~', '...', '*']);
const AUG_OPS = new Set(['+=', '-=', '*=', '/=', '//=', '%=', '@=', '&=', '|=', '^=', '>>=', '<<=', '**=']);
/** Binary operators between `|` and `*`, by precedence (higher binds tighter). */
const BIN_PREC = new Map([
  ['|', 1],
  ['^', 2],
  ['&', 3],
  ['<<', 4],
  ['>>', 4],
  ['+', 5],
  ['-', 5],
  ['*', 6],
  ['/', 6],
  ['//', 6],
  ['%', 6],
  ['@', 6],
]);
const SUM_PREC = 5;
const COMPARE_OPS = new Set(['==', '!=', '<', '<=', '>', '>=', 'in', 'is']);

export function parseModule(src: string): Stmt[] {
  return new Parser(src, tokenize(src)).module();
}

class Parser {
  private i = 0;
  private t: Token;
  /** The last token consumed: where a node ends. */
  private last: Token;

  constructor(
    readonly src: string,
    private toks: Token[],
  ) {
    this.t = toks[0]!;
    this.last = this.t;
  }

  // ---- tokens --------------------------------------------------------------------------------

  private next(): Token {
    const t = this.t;
    this.last = t;
    if (t.type !== T.End) this.t = this.toks[++this.i]!;
    return t;
  }

  private seek(i: number) {
    this.i = i;
    this.t = this.toks[i]!;
    this.last = this.toks[i - 1] ?? this.t;
  }

  /** The current token, read through a call where TypeScript would keep an outdated narrowing of `this.t`. */
  private tok(): Token {
    return this.t;
  }

  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }

  private eat(value: string): boolean {
    if (this.t.value !== value) return false;
    this.next();
    return true;
  }

  private expect(value: string): Token {
    if (this.t.value !== value) this.fail(`expected '${value}'`);
    return this.next();
  }

  private fail(message = 'invalid syntax'): never {
    throw new ParseError(this.t.type === T.Error ? this.t.value : message, this.t.at);
  }

  private isName(): boolean {
    return this.t.type === T.Name && !KEYWORDS.has(this.t.value);
  }

  private name(): Token {
    if (!this.isName()) this.fail('expected a name');
    return this.next();
  }

  private startsExpr(): boolean {
    const t = this.t;
    switch (t.type) {
      case T.Name:
        return !KEYWORDS.has(t.value) || EXPR_KEYWORDS.has(t.value);
      case T.Number:
      case T.String:
        return true;
      case T.Op:
        return EXPR_START_OPS.has(t.value);
      default:
        return false;
    }
  }

  private atLineEnd(): boolean {
    return this.t.type === T.Newline || this.t.type === T.End || this.t.value === ';';
  }

  // ---- statements ----------------------------------------------------------------------------

  module(): Stmt[] {
    return this.statements(false);
  }

  private statements(inBlock: boolean): Stmt[] {
    const out: Stmt[] = [];
    for (;;) {
      const t = this.t;
      if (t.type === T.End) break;
      if (t.type === T.Dedent) {
        if (inBlock) break;
        this.next();
        continue;
      }
      if (t.type === T.Indent) {
        // Python rejects it; analysing the indented lines in place is the best guess.
        out.push({ k: 'Error', message: 'unexpected indent', names: [], at: t.at, end: t.at });
        this.next();
        out.push(...this.statements(true));
        if (this.t.type === T.Dedent) this.next();
        continue;
      }
      const start = this.i;
      try {
        this.statement(out);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        out.push(this.recover(start, e));
      }
    }
    return out;
  }

  /** Skips to the end of the logical line; the names on the way are what the statement used. */
  private recover(start: number, e: ParseError): Stmt {
    for (;;) {
      const type = this.t.type;
      if (type === T.Newline) {
        this.next();
        break;
      }
      if (type === T.End || type === T.Dedent || type === T.Indent) break;
      this.next();
    }
    if (this.i === start && this.t.type !== T.End) this.next();
    const names: Name[] = [];
    for (let j = start; j < this.i; j++) {
      const t = this.toks[j]!;
      if (t.type === T.Name && !KEYWORDS.has(t.value)) names.push({ k: 'Name', id: t.value, at: t.at, end: t.end });
    }
    return { k: 'Error', message: e.message, names, at: e.at, end: this.last.end };
  }

  private block(): Stmt[] {
    this.expect(':');
    if (this.t.type !== T.Newline) return this.simpleStatements([]);
    this.next();
    if (this.tok().type !== T.Indent) this.fail('expected an indented block');
    this.next();
    const body = this.statements(true);
    if (this.tok().type === T.Dedent) this.next();
    return body;
  }

  private statement(out: Stmt[]) {
    const t = this.t;
    if (t.type === T.Name) {
      switch (t.value) {
        case 'def':
          out.push(this.funcDef([], t.at, t.at));
          return;
        case 'class':
          out.push(this.classDef([], t.at, t.at));
          return;
        case 'if':
          out.push(this.ifStmt());
          return;
        case 'while': {
          this.next();
          const test = this.namedExpression();
          const body = this.block();
          out.push({ k: 'While', test, body, orelse: this.elseBlock(), at: t.at, end: this.last.end });
          return;
        }
        case 'for':
          out.push(this.forStmt(t.at));
          return;
        case 'with':
          out.push(this.withStmt(t.at));
          return;
        case 'try':
          out.push(this.tryStmt());
          return;
        case 'async': {
          const n = this.peek().value;
          this.next();
          if (n === 'def') out.push(this.funcDef([], t.at, t.at));
          else if (n === 'for') out.push(this.forStmt(t.at));
          else if (n === 'with') out.push(this.withStmt(t.at));
          else this.fail();
          return;
        }
        case 'match': {
          const m = this.matchStmt();
          if (m) {
            out.push(m);
            return;
          }
          break;
        }
      }
    } else if (t.value === '@') {
      const start = t.at;
      const decorators: Expr[] = [];
      while (this.eat('@')) {
        decorators.push(this.namedExpression());
        if (this.t.type !== T.Newline) this.fail();
        this.next();
      }
      const at = this.t.at;
      if (this.t.value === 'class') out.push(this.classDef(decorators, at, start));
      else if (this.t.value === 'def' || (this.t.value === 'async' && this.peek().value === 'def')) {
        this.eat('async');
        out.push(this.funcDef(decorators, at, start));
      } else this.fail();
      return;
    }
    this.simpleStatements(out);
  }

  /** Statements of one line; none of them count when the line does not parse. */
  private simpleStatements(out: Stmt[]): Stmt[] {
    const line: Stmt[] = [];
    for (;;) {
      line.push(this.simple());
      if (!this.eat(';') || this.t.type === T.Newline || this.t.type === T.End) break;
    }
    if (this.t.type === T.Newline) this.next();
    else if (this.t.type !== T.End) this.fail();
    out.push(...line);
    return out;
  }

  private simple(): Stmt {
    const t = this.t;
    const at = t.at;
    if (t.type === T.Name) {
      switch (t.value) {
        case 'pass':
          this.next();
          return { k: 'Pass', at, end: t.end };
        case 'break':
          this.next();
          return { k: 'Break', at, end: t.end };
        case 'continue':
          this.next();
          return { k: 'Continue', at, end: t.end };
        case 'return': {
          this.next();
          const value = this.atLineEnd() ? null : this.starExpressions();
          return { k: 'Return', value, at, end: this.last.end };
        }
        case 'raise': {
          this.next();
          const exc = this.atLineEnd() ? null : this.expression();
          const cause = exc && this.eat('from') ? this.expression() : null;
          return { k: 'Raise', exc, cause, at, end: this.last.end };
        }
        case 'global':
        case 'nonlocal': {
          this.next();
          const names = [this.name().value];
          while (this.eat(',')) names.push(this.name().value);
          return { k: t.value === 'global' ? 'Global' : 'Nonlocal', names, at, end: this.last.end };
        }
        case 'del': {
          this.next();
          const targets = [this.delTarget()];
          while (this.eat(',') && !this.atLineEnd()) targets.push(this.delTarget());
          return { k: 'Delete', targets, at, end: this.last.end };
        }
        case 'assert': {
          this.next();
          const test = this.expression();
          const msg = this.eat(',') ? this.expression() : null;
          return { k: 'Assert', test, msg, at, end: this.last.end };
        }
        case 'import':
          return this.importStmt();
        case 'from':
          return this.importFrom();
        case 'type':
          if (
            this.peek().type === T.Name &&
            !KEYWORDS.has(this.peek().value) &&
            (this.peek(2).value === '=' || this.peek(2).value === '[')
          ) {
            this.next();
            const n = this.name();
            const typeParams = this.typeParams();
            this.expect('=');
            const value = this.expression();
            return {
              k: 'TypeAlias',
              name: { k: 'Name', id: n.value, at: n.at, end: n.end },
              typeParams,
              value,
              at,
              end: this.last.end,
            };
          }
      }
    }
    const first = this.yieldOrStarExpressions();
    const op = this.t.value;
    if (op === ':') {
      if (first.k !== 'Name' && first.k !== 'Attribute' && first.k !== 'Subscript')
        throw new ParseError('only single target (not tuple) can be annotated', first.at);
      this.next();
      const annotation = this.expression();
      const value = this.eat('=') ? this.yieldOrStarExpressions() : null;
      return { k: 'AnnAssign', target: first, annotation, value, at, end: this.last.end };
    }
    if (this.t.type === T.Op && AUG_OPS.has(op)) {
      if (first.k !== 'Name' && first.k !== 'Attribute' && first.k !== 'Subscript')
        throw new ParseError('illegal expression for augmented assignment', first.at);
      this.next();
      const value = this.yieldOrStarExpressions();
      return { k: 'AugAssign', target: first, op, value, at, end: this.last.end };
    }
    if (op === '=') {
      const targets = [first];
      while (this.eat('=')) targets.push(this.yieldOrStarExpressions());
      const value = targets.pop()!;
      for (const target of targets) checkTarget(target);
      return { k: 'Assign', targets, value, at, end: this.last.end };
    }
    return { k: 'Expr', value: first, at, end: this.last.end };
  }

  private delTarget(): Expr {
    const e = this.primary();
    checkTarget(e, true);
    return e;
  }

  private dottedName(): Token & { dotted: string } {
    const first = this.name();
    let dotted = first.value;
    while (this.eat('.')) dotted += '.' + this.name().value;
    return { ...first, dotted };
  }

  private importStmt(): Stmt {
    const at = this.next().at;
    const names: Alias[] = [];
    do {
      const n = this.dottedName();
      names.push(this.alias(n.dotted, n.at));
    } while (this.eat(','));
    return { k: 'Import', names, at, end: this.last.end };
  }

  private alias(name: string, at: number): Alias {
    if (!this.eat('as')) return { name, at, asname: null, asAt: at };
    const as = this.name();
    return { name, at, asname: as.value, asAt: as.at };
  }

  private importFrom(): Stmt {
    const at = this.next().at;
    let level = 0;
    for (;;) {
      if (this.eat('.')) level++;
      else if (this.eat('...')) level += 3;
      else break;
    }
    const module = level && this.t.value === 'import' ? '' : this.dottedName().dotted;
    this.expect('import');
    if (this.eat('*')) return { k: 'ImportFrom', module, level, names: [], star: true, at, end: this.last.end };
    const paren = this.eat('(');
    const names: Alias[] = [];
    do {
      if (paren && this.t.value === ')') break;
      const n = this.name();
      names.push(this.alias(n.value, n.at));
    } while (this.eat(','));
    if (paren) this.expect(')');
    return { k: 'ImportFrom', module, level, names, star: false, at, end: this.last.end };
  }

  private elseBlock(): Stmt[] {
    return this.eat('else') ? this.block() : [];
  }

  private ifStmt(): Stmt {
    const at = this.next().at;
    const test = this.namedExpression();
    const body = this.block();
    let orelse: Stmt[] = [];
    if (this.t.value === 'elif') orelse = [this.ifStmt()];
    else orelse = this.elseBlock();
    return { k: 'If', test, body, orelse, at, end: this.last.end };
  }

  private forStmt(at: number): Stmt {
    this.expect('for');
    const target = this.targetList();
    this.expect('in');
    const iter = this.starExpressions();
    const body = this.block();
    return { k: 'For', target, iter, body, orelse: this.elseBlock(), at, end: this.last.end };
  }

  private withStmt(at: number): Stmt {
    this.expect('with');
    let items: WithItem[] | null = null;
    if (this.t.value === '(') {
      // `with (a as b, c):` (Python 3.9+) or a parenthesized expression: try the first.
      const save = this.i;
      try {
        this.next();
        items = [];
        do {
          if (this.tok().value === ')') break;
          items.push(this.withItem());
        } while (this.eat(','));
        this.expect(')');
        if (this.tok().value !== ':') this.fail();
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.seek(save);
        items = null;
      }
    }
    if (!items) {
      items = [this.withItem()];
      while (this.eat(',')) items.push(this.withItem());
    }
    const body = this.block();
    return { k: 'With', items, body, at, end: this.last.end };
  }

  private withItem(): WithItem {
    const context = this.expression();
    if (!this.eat('as')) return { context, vars: null };
    const vars = this.starTarget();
    checkTarget(vars);
    return { context, vars };
  }

  private tryStmt(): Stmt {
    const at = this.next().at;
    const body = this.block();
    const handlers: ExceptHandler[] = [];
    while (this.eat('except')) {
      this.eat('*');
      let type: Expr | null = null;
      let name: string | null = null;
      let nameAt = 0;
      if (this.t.value !== ':') {
        type = this.expression();
        if (this.eat('as')) {
          const n = this.name();
          name = n.value;
          nameAt = n.at;
        }
      }
      handlers.push({ type, name, nameAt, body: this.block() });
    }
    const orelse = handlers.length ? this.elseBlock() : [];
    const finalbody = this.eat('finally') ? this.block() : [];
    if (!handlers.length && !finalbody.length) this.fail("expected 'except' or 'finally' block");
    return { k: 'Try', body, handlers, orelse, finalbody, at, end: this.last.end };
  }

  private typeParams(): TypeParam[] {
    const params: TypeParam[] = [];
    if (!this.eat('[')) return params;
    do {
      if (this.t.value === ']') break;
      if (!this.eat('*')) this.eat('**');
      const n = this.name();
      params.push({ name: n.value, at: n.at });
      // Bounds and defaults are evaluated lazily, by whoever inspects the type parameter.
      if (this.eat(':')) this.expression();
      if (this.eat('=')) this.expression();
    } while (this.eat(','));
    this.expect(']');
    return params;
  }

  private funcDef(decorators: Expr[], at: number, start: number): Stmt {
    this.expect('def');
    const n = this.name();
    const typeParams = this.typeParams();
    this.expect('(');
    const params = this.params(true, ')');
    this.expect(')');
    const returns = this.eat('->') ? this.expression() : null;
    const body = this.block();
    return {
      k: 'FunctionDef',
      start,
      name: n.value,
      nameAt: n.at,
      params,
      returns,
      body,
      decorators,
      typeParams,
      at,
      end: this.last.end,
    };
  }

  /** Parameters up to `close`: `/` and a bare `*` are markers; annotations only in a def. */
  private params(annotations: boolean, close: string): Param[] {
    const params: Param[] = [];
    // After `*` or `*args`, parameters are keyword-only.
    let keywordOnly = false;
    while (this.t.value !== close) {
      if (this.eat('/')) {
        if (!this.eat(',')) break;
        continue;
      }
      let kind: Param['kind'] = keywordOnly ? 'keyword' : 'positional';
      if (this.eat('*')) {
        kind = 'vararg';
        keywordOnly = true;
        if (this.t.value === ',' || this.t.value === close) {
          if (!this.eat(',')) break;
          continue;
        }
      } else if (this.eat('**')) kind = 'kwarg';
      const n = this.name();
      let annotation: Expr | null = null;
      if (annotations && this.eat(':')) annotation = kind === 'vararg' ? this.starExpression() : this.expression();
      const def = this.eat('=') ? this.expression() : null;
      params.push({ name: n.value, at: n.at, kind, annotation, default: def });
      if (!this.eat(',')) break;
    }
    return params;
  }

  private classDef(decorators: Expr[], at: number, start: number): Stmt {
    this.expect('class');
    const n = this.name();
    const typeParams = this.typeParams();
    const args = this.eat('(') ? this.callArgs() : [];
    const body = this.block();
    return {
      k: 'ClassDef',
      start,
      name: n.value,
      nameAt: n.at,
      args,
      body,
      decorators,
      typeParams,
      at,
      end: this.last.end,
    };
  }

  /** `match` is a keyword only where a match statement parses: otherwise it is a name. */
  private matchStmt(): Stmt | null {
    const save = this.i;
    const at = this.next().at;
    if (!this.startsExpr()) {
      this.seek(save);
      return null;
    }
    let subject: Expr;
    try {
      subject = this.starNamedExpressions();
      if (this.t.value !== ':') this.fail();
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.seek(save);
      return null;
    }
    this.next();
    if (this.t.type !== T.Newline) this.fail();
    this.next();
    if (this.tok().type !== T.Indent) this.fail('expected an indented block');
    this.next();
    const cases: MatchCase[] = [];
    while (this.tok().value === 'case') {
      this.next();
      const pattern = this.patterns();
      const guard = this.eat('if') ? this.namedExpression() : null;
      cases.push({ pattern, guard, body: this.block() });
    }
    if (this.tok().type !== T.Dedent) this.fail("expected 'case'");
    this.next();
    return { k: 'Match', subject, cases, at, end: this.last.end };
  }

  // ---- patterns ------------------------------------------------------------------------------

  private patterns(): Pattern {
    const at = this.t.at;
    const first = this.starOrPattern();
    if (this.t.value !== ',') return first;
    const patterns = [first];
    while (this.eat(',') && this.tok().value !== ':' && this.tok().value !== 'if') patterns.push(this.starOrPattern());
    return { k: 'MatchSequence', patterns, at, end: this.last.end };
  }

  private starOrPattern(): Pattern {
    if (!this.eat('*')) return this.pattern();
    const n = this.name();
    return { k: 'MatchStar', name: n.value === '_' ? null : n.value, at: n.at, end: n.end };
  }

  private pattern(): Pattern {
    const at = this.t.at;
    const first = this.closedPattern();
    let p: Pattern = first;
    if (this.t.value === '|') {
      const patterns = [first];
      while (this.eat('|')) patterns.push(this.closedPattern());
      p = { k: 'MatchOr', patterns, at, end: this.last.end };
    }
    if (!this.eat('as')) return p;
    const n = this.name();
    return { k: 'MatchAs', pattern: p, name: n.value, nameAt: n.at, at, end: n.end };
  }

  private closedPattern(): Pattern {
    const t = this.t;
    const at = t.at;
    if (t.type === T.Number || t.value === '-')
      return { k: 'MatchValue', value: this.binary(SUM_PREC), at, end: this.last.end };
    if (t.type === T.String) return { k: 'MatchValue', value: this.strings(), at, end: this.last.end };
    if (t.value === 'None' || t.value === 'True' || t.value === 'False') {
      this.next();
      return { k: 'MatchSingleton', at, end: t.end };
    }
    if (this.isName()) {
      const value = this.dottedValue();
      if (this.t.value === '(') return this.classPattern(value);
      if (value.k !== 'Name') return { k: 'MatchValue', value, at, end: this.last.end };
      const name = value.id === '_' ? null : value.id;
      return { k: 'MatchAs', pattern: null, name, nameAt: at, at, end: t.end };
    }
    if (t.value === '(' || t.value === '[') {
      const close = t.value === '(' ? ')' : ']';
      this.next();
      const patterns: Pattern[] = [];
      let tuple = close === ']';
      while (this.t.value !== close) {
        patterns.push(this.starOrPattern());
        if (!this.eat(',')) break;
        tuple = true;
      }
      this.expect(close);
      if (!tuple && patterns.length === 1 && patterns[0]!.k !== 'MatchStar') return patterns[0]!;
      return { k: 'MatchSequence', patterns, at, end: this.last.end };
    }
    if (t.value === '{') return this.mappingPattern();
    this.fail();
  }

  /** `name` or `a.b.c`: a capture or a value pattern. */
  private dottedValue(): Expr {
    const n = this.name();
    let value: Expr = { k: 'Name', id: n.value, at: n.at, end: n.end };
    while (this.eat('.')) {
      const attr = this.name();
      value = { k: 'Attribute', value, attr: attr.value, at: n.at, end: attr.end };
    }
    return value;
  }

  private classPattern(cls: Expr): Pattern {
    this.next();
    const patterns: Pattern[] = [];
    const kwdAttrs: string[] = [];
    const kwdPatterns: Pattern[] = [];
    while (this.t.value !== ')') {
      if (this.isName() && this.peek().value === '=') {
        kwdAttrs.push(this.next().value);
        this.next();
        kwdPatterns.push(this.pattern());
      } else patterns.push(this.pattern());
      if (!this.eat(',')) break;
    }
    this.expect(')');
    return { k: 'MatchClass', cls, patterns, kwdAttrs, kwdPatterns, at: cls.at, end: this.last.end };
  }

  private mappingPattern(): Pattern {
    const at = this.next().at;
    const keys: Expr[] = [];
    const patterns: Pattern[] = [];
    let rest: string | null = null;
    let restAt = 0;
    while (this.t.value !== '}') {
      if (this.eat('**')) {
        const n = this.name();
        rest = n.value;
        restAt = n.at;
      } else {
        const t = this.t;
        let key: Expr;
        if (this.isName()) key = this.dottedValue();
        else if (t.type === T.String) key = this.strings();
        else if (t.type === T.Number || t.value === '-') key = this.binary(SUM_PREC);
        else if (t.value === 'None' || t.value === 'True' || t.value === 'False') key = this.atom();
        else this.fail();
        keys.push(key);
        this.expect(':');
        patterns.push(this.pattern());
      }
      if (!this.eat(',')) break;
    }
    this.expect('}');
    return { k: 'MatchMapping', keys, patterns, rest, restAt, at, end: this.last.end };
  }

  // ---- expressions ---------------------------------------------------------------------------

  private yieldOrStarExpressions(): Expr {
    return this.t.value === 'yield' ? this.yieldExpr() : this.starExpressions();
  }

  private yieldExpr(): Expr {
    const at = this.next().at;
    if (this.eat('from')) {
      const value = this.expression();
      return { k: 'YieldFrom', value, at, end: this.last.end };
    }
    const value = this.startsExpr() ? this.starExpressions() : null;
    return { k: 'Yield', value, at, end: this.last.end };
  }

  /** `a, *b` — a tuple when there is a comma. */
  private starExpressions(): Expr {
    return this.sequence(() => this.starExpression());
  }

  private starNamedExpressions(): Expr {
    return this.sequence(() => this.starNamedExpression());
  }

  private sequence(item: () => Expr): Expr {
    const at = this.t.at;
    const first = item();
    if (this.t.value !== ',') return first;
    const elts = [first];
    while (this.eat(',') && this.startsExpr()) elts.push(item());
    return { k: 'Tuple', elts, at, end: this.last.end };
  }

  private starExpression(): Expr {
    const at = this.t.at;
    if (!this.eat('*')) return this.expression();
    const value = this.binary(1);
    return { k: 'Starred', value, at, end: this.last.end };
  }

  private starNamedExpression(): Expr {
    const at = this.t.at;
    if (!this.eat('*')) return this.namedExpression();
    const value = this.binary(1);
    return { k: 'Starred', value, at, end: this.last.end };
  }

  private namedExpression(): Expr {
    if (this.t.type === T.Name && this.peek().value === ':=') {
      const n = this.name();
      this.next();
      const value = this.expression();
      return {
        k: 'NamedExpr',
        target: { k: 'Name', id: n.value, at: n.at, end: n.end },
        value,
        at: n.at,
        end: this.last.end,
      };
    }
    return this.expression();
  }

  private expression(): Expr {
    if (this.t.value === 'lambda') return this.lambda();
    const body = this.disjunction();
    if (this.t.value !== 'if') return body;
    this.next();
    const test = this.disjunction();
    this.expect('else');
    const orelse = this.expression();
    return { k: 'IfExp', test, body, orelse, at: body.at, end: this.last.end };
  }

  private lambda(): Expr {
    const at = this.next().at;
    const params = this.params(false, ':');
    this.expect(':');
    const body = this.expression();
    return { k: 'Lambda', params, body, at, end: this.last.end };
  }

  private disjunction(): Expr {
    const first = this.conjunction();
    if (this.t.value !== 'or') return first;
    const values = [first];
    while (this.eat('or')) values.push(this.conjunction());
    return { k: 'BoolOp', op: 'or', values, at: first.at, end: this.last.end };
  }

  private conjunction(): Expr {
    const first = this.inversion();
    if (this.t.value !== 'and') return first;
    const values = [first];
    while (this.eat('and')) values.push(this.inversion());
    return { k: 'BoolOp', op: 'and', values, at: first.at, end: this.last.end };
  }

  private inversion(): Expr {
    if (this.t.value !== 'not') return this.comparison();
    const at = this.next().at;
    const operand = this.inversion();
    return { k: 'UnaryOp', op: 'not', operand, at, end: this.last.end };
  }

  private comparison(): Expr {
    const left = this.binary(1);
    let ops: string[] | undefined;
    let comparators: Expr[] | undefined;
    for (;;) {
      const v = this.t.value;
      let op: string;
      if (COMPARE_OPS.has(v) && (this.t.type === T.Op || v === 'in' || v === 'is')) {
        this.next();
        op = v === 'is' && this.eat('not') ? 'is not' : v;
      } else if (v === 'not' && this.peek().value === 'in') {
        this.next();
        this.next();
        op = 'not in';
      } else break;
      (ops ??= []).push(op);
      (comparators ??= []).push(this.binary(1));
    }
    if (!ops || !comparators) return left;
    return { k: 'Compare', left, ops, comparators, at: left.at, end: this.last.end };
  }

  /** Binary operators from `|` to `*` by precedence climbing. */
  private binary(minPrec: number): Expr {
    let left = this.factor();
    for (;;) {
      const t = this.t;
      if (t.type !== T.Op) return left;
      const prec = BIN_PREC.get(t.value);
      if (prec === undefined || prec < minPrec) return left;
      this.next();
      const right = this.binary(prec + 1);
      left = { k: 'BinOp', left, op: t.value, right, at: left.at, end: this.last.end };
    }
  }

  private factor(): Expr {
    const t = this.t;
    if (t.value === '-' || t.value === '+' || t.value === '~') {
      this.next();
      const operand = this.factor();
      return { k: 'UnaryOp', op: t.value, operand, at: t.at, end: this.last.end };
    }
    return this.power();
  }

  private power(): Expr {
    const base = this.t.value === 'await' ? this.awaitExpr() : this.primary();
    if (!this.eat('**')) return base;
    const right = this.factor();
    return { k: 'BinOp', left: base, op: '**', right, at: base.at, end: this.last.end };
  }

  private awaitExpr(): Expr {
    const at = this.next().at;
    const value = this.primary();
    return { k: 'Await', value, at, end: this.last.end };
  }

  private primary(): Expr {
    let e = this.atom();
    for (;;) {
      const v = this.t.value;
      if (v === '.') {
        this.next();
        const attr = this.name();
        e = { k: 'Attribute', value: e, attr: attr.value, at: e.at, end: attr.end };
      } else if (v === '(') {
        this.next();
        const args = this.callArgs();
        e = { k: 'Call', func: e, args, at: e.at, end: this.last.end };
      } else if (v === '[') {
        this.next();
        const slice = this.slices();
        this.expect(']');
        e = { k: 'Subscript', value: e, slice, at: e.at, end: this.last.end };
      } else return e;
    }
  }

  /** After `(`, through `)`. */
  private callArgs(): (Expr | Keyword)[] {
    const args: (Expr | Keyword)[] = [];
    while (this.t.value !== ')') {
      const at = this.t.at;
      if (this.eat('*')) {
        const value = this.expression();
        args.push({ k: 'Starred', value, at, end: this.last.end });
      } else if (this.eat('**')) {
        const value = this.expression();
        args.push({ k: 'keyword', arg: null, value, at, end: this.last.end });
      } else if (this.t.type === T.Name && this.peek().value === '=') {
        const arg = this.name().value;
        this.next();
        const value = this.expression();
        args.push({ k: 'keyword', arg, value, at, end: this.last.end });
      } else {
        const e = this.namedExpression();
        args.push(
          this.isCompFor()
            ? { k: 'GeneratorExp', elt: e, generators: this.comprehensions(), at, end: this.last.end }
            : e,
        );
      }
      if (!this.eat(',')) break;
    }
    this.expect(')');
    return args;
  }

  private slices(): Expr {
    const at = this.t.at;
    const first = this.slice();
    if (this.t.value !== ',') return first;
    const elts = [first];
    while (this.eat(',') && this.tok().value !== ']') elts.push(this.slice());
    return { k: 'Tuple', elts, at, end: this.last.end };
  }

  private slice(): Expr {
    const at = this.t.at;
    if (this.t.value === '*') return this.starNamedExpression();
    const lower = this.t.value === ':' ? null : this.namedExpression();
    if (!this.eat(':')) return lower!;
    const bound = () =>
      this.t.value === ':' || this.t.value === ',' || this.t.value === ']' ? null : this.expression();
    const upper = bound();
    const step = this.eat(':') ? bound() : null;
    return { k: 'Slice', lower, upper, step, at, end: this.last.end };
  }

  private atom(): Expr {
    const t = this.t;
    switch (t.type) {
      case T.Name:
        if (t.value === 'None' || t.value === 'True' || t.value === 'False') {
          this.next();
          return { k: 'Constant', kind: t.value, at: t.at, end: t.end };
        }
        if (KEYWORDS.has(t.value)) this.fail();
        this.next();
        return { k: 'Name', id: t.value, at: t.at, end: t.end };
      case T.Number:
        this.next();
        return { k: 'Constant', kind: 'number', at: t.at, end: t.end };
      case T.String:
        return this.strings();
      case T.Op:
        switch (t.value) {
          case '(':
            return this.paren();
          case '[':
            return this.list();
          case '{':
            return this.dictOrSet();
          case '...':
            this.next();
            return { k: 'Constant', kind: 'Ellipsis', at: t.at, end: t.end };
        }
    }
    this.fail();
  }

  /** Adjacent string literals; f-strings among them make a JoinedStr. */
  private strings(): Expr {
    const at = this.t.at;
    const parts: Token[] = [];
    let values: FormattedValue[] | undefined;
    while (this.t.type === T.String) {
      const t = this.next();
      parts.push(t);
      if (t.fields) {
        values ??= [];
        for (const f of t.fields) values.push(this.field(f));
      }
    }
    if (values) return { k: 'JoinedStr', values, at, end: this.last.end };
    return { k: 'Constant', kind: parts[0]!.bytes ? 'bytes' : 'string', parts, at, end: this.last.end };
  }

  /** A replacement field's expression, parsed from its own tokens. */
  private field(f: FField): FormattedValue {
    const toks = this.toks;
    const i = this.i;
    this.toks = tokenize(this.src, f.from, f.to, { nested: true });
    this.seek(0);
    let value: Expr;
    try {
      value = this.yieldOrStarExpressions();
      if (this.t.type !== T.End) this.fail("f-string: expecting '}'");
    } finally {
      this.toks = toks;
      this.seek(i);
    }
    return { value, spec: f.spec ? f.spec.map((s) => this.field(s)) : [] };
  }

  private isCompFor(): boolean {
    return this.t.value === 'for' || (this.t.value === 'async' && this.peek().value === 'for');
  }

  private comprehensions(): Comprehension[] {
    const generators: Comprehension[] = [];
    while (this.isCompFor()) {
      const isAsync = this.eat('async');
      this.expect('for');
      const target = this.targetList();
      this.expect('in');
      const iter = this.disjunction();
      const ifs: Expr[] = [];
      while (this.eat('if')) ifs.push(this.disjunction());
      generators.push({ target, iter, ifs, isAsync });
    }
    return generators;
  }

  /** Assignment targets of `for` (no comparison: `in` ends them). */
  private targetList(): Expr {
    const at = this.t.at;
    const first = this.starTarget();
    let target = first;
    if (this.t.value === ',') {
      const elts = [first];
      while (
        this.eat(',') &&
        (this.isName() || this.tok().value === '(' || this.tok().value === '[' || this.tok().value === '*')
      )
        elts.push(this.starTarget());
      target = { k: 'Tuple', elts, at, end: this.last.end };
    }
    checkTarget(target);
    return target;
  }

  private starTarget(): Expr {
    const at = this.t.at;
    if (!this.eat('*')) return this.primary();
    const value = this.primary();
    return { k: 'Starred', value, at, end: this.last.end };
  }

  private paren(): Expr {
    const at = this.next().at;
    if (this.eat(')')) return { k: 'Tuple', elts: [], at, end: this.last.end };
    if (this.t.value === 'yield') {
      const y = this.yieldExpr();
      this.expect(')');
      return y;
    }
    const first = this.starNamedExpression();
    if (this.isCompFor()) {
      const generators = this.comprehensions();
      this.expect(')');
      return { k: 'GeneratorExp', elt: first, generators, at, end: this.last.end };
    }
    if (this.eat(')')) return first;
    this.expect(',');
    const elts = [first];
    while (this.t.value !== ')') {
      elts.push(this.starNamedExpression());
      if (!this.eat(',')) break;
    }
    this.expect(')');
    return { k: 'Tuple', elts, at, end: this.last.end };
  }

  private list(): Expr {
    const at = this.next().at;
    const elts: Expr[] = [];
    if (this.t.value !== ']') {
      const first = this.starNamedExpression();
      if (this.isCompFor()) {
        const generators = this.comprehensions();
        this.expect(']');
        return { k: 'ListComp', elt: first, generators, at, end: this.last.end };
      }
      elts.push(first);
      while (this.eat(',') && this.t.value !== ']') elts.push(this.starNamedExpression());
    }
    this.expect(']');
    return { k: 'List', elts, at, end: this.last.end };
  }

  private dictOrSet(): Expr {
    const at = this.next().at;
    if (this.eat('}')) return { k: 'Dict', keys: [], values: [], at, end: this.last.end };
    const keys: (Expr | null)[] = [];
    const values: Expr[] = [];
    if (this.eat('**')) {
      keys.push(null);
      values.push(this.binary(1));
    } else {
      const first = this.starNamedExpression();
      if (!this.eat(':')) {
        if (this.isCompFor()) {
          const generators = this.comprehensions();
          this.expect('}');
          return { k: 'SetComp', elt: first, generators, at, end: this.last.end };
        }
        const elts = [first];
        while (this.eat(',') && this.t.value !== '}') elts.push(this.starNamedExpression());
        this.expect('}');
        return { k: 'Set', elts, at, end: this.last.end };
      }
      const value = this.expression();
      if (this.isCompFor()) {
        const generators = this.comprehensions();
        this.expect('}');
        return { k: 'DictComp', key: first, value, generators, at, end: this.last.end };
      }
      keys.push(first);
      values.push(value);
    }
    while (this.eat(',') && this.t.value !== '}') {
      if (this.eat('**')) {
        keys.push(null);
        values.push(this.binary(1));
      } else {
        keys.push(this.expression());
        this.expect(':');
        values.push(this.expression());
      }
    }
    this.expect('}');
    return { k: 'Dict', keys, values, at, end: this.last.end };
  }
}

/** What may be assigned to (or deleted): names, attributes, items, and tuples/lists of them. */
function checkTarget(e: Expr, del = false): void {
  switch (e.k) {
    case 'Name':
    case 'Attribute':
    case 'Subscript':
      return;
    case 'Tuple':
    case 'List':
      for (const elt of e.elts) checkTarget(elt, del);
      return;
    case 'Starred':
      if (!del) return checkTarget(e.value);
  }
  throw new ParseError(`cannot ${del ? 'delete' : 'assign to'} expression`, e.at);
}
