/**
 * The papermill-style `parameters` cell: its top-level `name = literal` assignments become the
 * pipeline's parameters (default value and type), overridable per run.
 */
import { parser } from '@lezer/python';
import type { SyntaxNode } from '@lezer/common';
import { blankMagics } from './magics.js';

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

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

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

function literal(node: SyntaxNode, src: string): { value: unknown; float?: boolean } {
  const text = src.slice(node.from, node.to);
  switch (node.name) {
    case 'Number':
      return { value: numberValue(text), float: isFloatText(text) };
    case 'String':
      return { value: stringValue(text) };
    case 'ContinuedString':
      return { value: children(node).map((c) => stringValue(src.slice(c.from, c.to))).join('') };
    case 'Boolean':
      return { value: text === 'True' };
    case 'None':
      return { value: null };
    case 'UnaryExpression': {
      const [op, arg] = children(node);
      if (!op || !arg || arg.name !== 'Number') throw new NotLiteral();
      const inner = literal(arg, src);
      const sign = src.slice(op.from, op.to);
      if (sign !== '-' && sign !== '+') throw new NotLiteral();
      return { value: sign === '-' ? -(inner.value as number) : inner.value, float: inner.float };
    }
    case 'ParenthesizedExpression': {
      const inner = children(node).filter((c) => c.name !== '(' && c.name !== ')');
      if (inner.length !== 1) throw new NotLiteral();
      return literal(inner[0]!, src);
    }
    case 'ArrayExpression':
    case 'TupleExpression':
      return {
        value: children(node)
          .filter((c) => !['(', ')', '[', ']', ','].includes(c.name))
          .map((c) => literal(c, src).value),
      };
    case 'DictionaryExpression': {
      const parts = children(node).filter((c) => !['{', '}', ','].includes(c.name));
      const out: Record<string, unknown> = {};
      for (let i = 0; i < parts.length; i += 3) {
        const k = parts[i];
        const colon = parts[i + 1];
        const v = parts[i + 2];
        if (!k || colon?.name !== ':' || !v) throw new NotLiteral();
        const key = literal(k, src).value;
        if (typeof key !== 'string') throw new NotLiteral();
        out[key] = literal(v, src).value;
      }
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
  const code = blankMagics(source).code;
  const tree = parser.parse(code);
  const parameters: Record<string, ParsedParameter> = {};
  const warnings: ParametersResult['warnings'] = [];
  for (const stmt of children(tree.topNode)) {
    const statements = stmt.name === 'StatementGroup' ? children(stmt) : [stmt];
    for (const s of statements) {
      if (s.name !== 'AssignStatement') continue;
      const kids = children(s).filter((c) => c.name !== 'TypeDef');
      const [target, op, value, ...rest] = kids;
      if (!target || op?.name !== 'AssignOp' || !value || rest.length || target.name !== 'VariableName') continue;
      const name = code.slice(target.from, target.to);
      try {
        const lit = literal(value, code);
        const lineEnd = code.indexOf('\n', s.to);
        const trailing = code.slice(s.to, lineEnd < 0 ? code.length : lineEnd);
        const comment = /^\s*#\s*(.*?)\s*$/.exec(trailing)?.[1];
        parameters[name] = { default: lit.value, type: typeOf(lit.value, lit.float), ...(comment ? { description: comment } : {}) };
      } catch (e) {
        if (!(e instanceof NotLiteral)) throw e;
        delete parameters[name];
        warnings.push({
          message: `parameter '${name}' is not a literal value (number, string, bool, None, list or dict): it cannot be overridden per run`,
          ...lineCol(code, target.from),
        });
      }
    }
  }
  return { parameters, warnings };
}
