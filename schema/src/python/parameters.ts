/**
 * The papermill-style `parameters` cell: its top-level `name = literal` assignments become the
 * pipeline's parameters (default value and type), overridable per run.
 */
import type { Expr } from './ast.js';
import { prepareCell } from './magics.js';
import { parseModule } from './parse.js';
import { RESERVED_NAME, setOwn } from '../own.js';

export type ParameterType = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'dict' | 'null';

export interface ParsedParameter {
  default: unknown;
  type: ParameterType;
  description?: string;
}

export interface ParametersResult {
  parameters: Record<string, ParsedParameter>;
  warnings: { message: string; line: number; column: number }[];
}

class NotLiteral extends Error {}

/** Python string literal → its value; f-strings and bytes are not literals here. */
function stringValue(text: string): string {
  const m = /^([rRuUbBfF]*)('''|"""|'|")/.exec(text);
  if (!m) throw new NotLiteral();
  const prefix = m[1]!.toLowerCase();
  if (prefix.includes('f') || prefix.includes('b')) throw new NotLiteral();
  const q = m[2]!;
  const body = text.slice(m[0].length, text.length - q.length);
  if (prefix.includes('r')) return body;
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|\n|.)/g, (all, e: string) => {
    switch (e[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '\\':
        return '\\';
      case "'":
        return "'";
      case '"':
        return '"';
      case '\n':
        return '';
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(e.slice(1), 16));
      default:
        if (/^[0-7]/.test(e)) return String.fromCodePoint(parseInt(e, 8));
        return all; // Python keeps unknown escapes as written
    }
  });
}

function numberValue(text: string): number {
  const t = text.replace(/_/g, '');
  if (/[jJ]$/.test(t)) throw new NotLiteral();
  if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[oO]/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
  const n = Number(t);
  if (!Number.isFinite(n)) throw new NotLiteral();
  return n;
}

function isFloatText(text: string): boolean {
  return !/^0[xXoObB]/.test(text) && /[.eE]/.test(text);
}

function literal(node: Expr, src: string): { value: unknown; float?: boolean } {
  switch (node.k) {
    case 'Constant':
      switch (node.kind) {
        case 'number': {
          const text = src.slice(node.at, node.end);
          return { value: numberValue(text), float: isFloatText(text) };
        }
        case 'string':
          return { value: node.parts.map((t) => stringValue(src.slice(t.at, t.end))).join('') };
        case 'True':
        case 'False':
          return { value: node.kind === 'True' };
        case 'None':
          return { value: null };
        default:
          throw new NotLiteral();
      }
    case 'UnaryOp': {
      if ((node.op !== '-' && node.op !== '+') || node.operand.k !== 'Constant' || node.operand.kind !== 'number')
        throw new NotLiteral();
      const inner = literal(node.operand, src);
      return { value: node.op === '-' ? -(inner.value as number) : inner.value, float: inner.float };
    }
    case 'List':
    case 'Tuple':
      return { value: node.elts.map((e) => literal(e, src).value) };
    case 'Dict': {
      const out: Record<string, unknown> = {};
      node.keys.forEach((k, i) => {
        if (!k) throw new NotLiteral();
        const key = literal(k, src).value;
        if (typeof key !== 'string') throw new NotLiteral();
        setOwn(out, key, literal(node.values[i]!, src).value);
      });
      return { value: out };
    }
    default:
      throw new NotLiteral();
  }
}

function typeOf(value: unknown, float: boolean | undefined): ParameterType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return float || !Number.isInteger(value) ? 'number' : 'integer';
    default:
      return 'dict';
  }
}

function lineCol(src: string, at: number): { line: number; column: number } {
  const before = src.slice(0, at);
  const line = before.split('\n').length;
  return { line, column: at - (before.lastIndexOf('\n') + 1) + 1 };
}

export function parseParameters(source: string): ParametersResult {
  const cell = prepareCell(source);
  const code = cell.code;
  const parameters: Record<string, ParsedParameter> = {};
  const warnings: ParametersResult['warnings'] = [];
  let statements;
  try {
    statements = parseModule(code);
  } catch (e) {
    // Nesting deeper than the stack allows: no parameters rather than a failed compile.
    if (e instanceof RangeError) return { parameters, warnings };
    throw e;
  }
  for (const s of statements) {
    let target: Expr;
    let value: Expr | null;
    if (s.k === 'Assign' && s.targets.length === 1) [target, value] = [s.targets[0]!, s.value];
    else if (s.k === 'AnnAssign') [target, value] = [s.target, s.value];
    else continue;
    if (!value || target.k !== 'Name') continue;
    const name = target.id;
    if (name === RESERVED_NAME) {
      warnings.push({
        message: `'${RESERVED_NAME}' is reserved: it runs as setup code but is not a parameter (rename it to override it per run)`,
        ...lineCol(source, cell.toSource ? cell.toSource(target.at) : target.at),
      });
      continue;
    }
    try {
      const lit = literal(value, code);
      const lineEnd = code.indexOf('\n', s.end);
      const trailing = code.slice(s.end, lineEnd < 0 ? code.length : lineEnd);
      const comment = /^\s*#\s*(.*?)\s*$/.exec(trailing)?.[1];
      parameters[name] = {
        default: lit.value,
        type: typeOf(lit.value, lit.float),
        ...(comment ? { description: comment } : {}),
      };
    } catch (e) {
      if (!(e instanceof NotLiteral)) throw e;
      delete parameters[name];
      warnings.push({
        message: `parameter '${name}' is not a literal value (number, string, bool, None, list or dict): it cannot be overridden per run`,
        ...lineCol(source, cell.toSource ? cell.toSource(target.at) : target.at),
      });
    }
  }
  return { parameters, warnings };
}
