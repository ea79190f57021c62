/**
 * The syntax tree the parser produces, shaped like CPython's `ast` module. Positions are offsets in
 * the cell's source: `at` where a node starts, `end` where it ends.
 */
import type { Token } from './tokenize.js';

interface Span {
  at: number;
  end: number;
}

export interface Keyword extends Span {
  k: 'keyword';
  /** null for `**mapping`. */
  arg: string | null;
  value: Expr;
}

export interface Comprehension {
  target: Expr;
  iter: Expr;
  ifs: Expr[];
  isAsync: boolean;
}

export interface FormattedValue {
  value: Expr;
  /** Replacement fields nested in the format spec (`{x:>{width}}`). */
  spec: FormattedValue[];
}

export interface Param {
  name: string;
  at: number;
  /** How a call fills it: by position (or keyword), by keyword only, `*args`, `**kwargs`. */
  kind: 'positional' | 'keyword' | 'vararg' | 'kwarg';
  annotation: Expr | null;
  default: Expr | null;
}

export type Expr = Span &
  (
    | { k: 'Name'; id: string }
    | { k: 'Constant'; kind: 'number' | 'True' | 'False' | 'None' | 'Ellipsis' }
    /** Adjacent literals are one constant: `parts` are their tokens. */
    | { k: 'Constant'; kind: 'string' | 'bytes'; parts: Token[] }
    | { k: 'JoinedStr'; values: FormattedValue[] }
    | { k: 'BoolOp'; op: 'and' | 'or'; values: Expr[] }
    | { k: 'BinOp'; left: Expr; op: string; right: Expr }
    | { k: 'UnaryOp'; op: string; operand: Expr }
    | { k: 'Compare'; left: Expr; ops: string[]; comparators: Expr[] }
    | { k: 'NamedExpr'; target: Expr & { k: 'Name' }; value: Expr }
    | { k: 'Lambda'; params: Param[]; body: Expr }
    | { k: 'IfExp'; test: Expr; body: Expr; orelse: Expr }
    /** A null key is `**mapping`. */
    | { k: 'Dict'; keys: (Expr | null)[]; values: Expr[] }
    | { k: 'Set' | 'List' | 'Tuple'; elts: Expr[] }
    | { k: 'ListComp' | 'SetComp' | 'GeneratorExp'; elt: Expr; generators: Comprehension[] }
    | { k: 'DictComp'; key: Expr; value: Expr; generators: Comprehension[] }
    | { k: 'Await' | 'YieldFrom' | 'Starred'; value: Expr }
    | { k: 'Yield'; value: Expr | null }
    /** Positional and keyword arguments in source order. */
    | { k: 'Call'; func: Expr; args: (Expr | Keyword)[] }
    | { k: 'Attribute'; value: Expr; attr: string }
    | { k: 'Subscript'; value: Expr; slice: Expr }
    | { k: 'Slice'; lower: Expr | null; upper: Expr | null; step: Expr | null }
  );

export type Name = Expr & { k: 'Name' };

export interface Alias {
  /** Dotted for `import a.b`. */
  name: string;
  at: number;
  asname: string | null;
  asAt: number;
}

export interface WithItem {
  context: Expr;
  vars: Expr | null;
}

export interface ExceptHandler {
  type: Expr | null;
  name: string | null;
  nameAt: number;
  body: Stmt[];
}

export interface MatchCase {
  pattern: Pattern;
  guard: Expr | null;
  body: Stmt[];
}

export type Pattern = Span &
  (
    | { k: 'MatchValue'; value: Expr }
    | { k: 'MatchSingleton' }
    | { k: 'MatchSequence'; patterns: Pattern[] }
    | { k: 'MatchMapping'; keys: Expr[]; patterns: Pattern[]; rest: string | null; restAt: number }
    | { k: 'MatchClass'; cls: Expr; patterns: Pattern[]; kwdAttrs: string[]; kwdPatterns: Pattern[] }
    /** `*name` (`at` is the name's); name null for `*_`. */
    | { k: 'MatchStar'; name: string | null }
    /** `pattern as name`, a capture (no pattern) or the wildcard `_` (neither). */
    | { k: 'MatchAs'; pattern: Pattern | null; name: string | null; nameAt: number }
    | { k: 'MatchOr'; patterns: Pattern[] }
  );

export interface TypeParam {
  name: string;
  at: number;
}

export type Stmt = Span &
  (
    | {
        k: 'FunctionDef';
        /** Where the statement starts: its first decorator's `@`, or `def`/`async`. */
        start: number;
        name: string;
        nameAt: number;
        params: Param[];
        returns: Expr | null;
        body: Stmt[];
        decorators: Expr[];
        typeParams: TypeParam[];
      }
    | {
        k: 'ClassDef';
        /** Where the statement starts: its first decorator's `@`, or `class`. */
        start: number;
        name: string;
        nameAt: number;
        args: (Expr | Keyword)[];
        body: Stmt[];
        decorators: Expr[];
        typeParams: TypeParam[];
      }
    | { k: 'Return'; value: Expr | null }
    | { k: 'Delete'; targets: Expr[] }
    | { k: 'Assign'; targets: Expr[]; value: Expr }
    | { k: 'AugAssign'; target: Expr; op: string; value: Expr }
    | { k: 'AnnAssign'; target: Expr; annotation: Expr; value: Expr | null }
    | { k: 'For'; target: Expr; iter: Expr; body: Stmt[]; orelse: Stmt[] }
    | { k: 'While' | 'If'; test: Expr; body: Stmt[]; orelse: Stmt[] }
    | { k: 'With'; items: WithItem[]; body: Stmt[] }
    | { k: 'Match'; subject: Expr; cases: MatchCase[] }
    | { k: 'Raise'; exc: Expr | null; cause: Expr | null }
    | { k: 'Try'; body: Stmt[]; handlers: ExceptHandler[]; orelse: Stmt[]; finalbody: Stmt[] }
    | { k: 'Assert'; test: Expr; msg: Expr | null }
    | { k: 'Import'; names: Alias[] }
    | { k: 'ImportFrom'; module: string; level: number; names: Alias[]; star: boolean }
    | { k: 'Global' | 'Nonlocal'; names: string[] }
    | { k: 'Expr'; value: Expr }
    | { k: 'Pass' | 'Break' | 'Continue' }
    | { k: 'TypeAlias'; name: Name; typeParams: TypeParam[]; value: Expr }
    /** A statement that does not parse: `at` is where, `names` the identifiers in it. */
    | { k: 'Error'; message: string; names: Name[] }
  );
