/**
 * Terminal-safe text. Job names, error messages and other fields a user controls may hold control
 * characters; printed raw they would move the cursor, clear an admin's screen, set the window title or
 * fake table rows. Every such field is shown with its non-printable characters escaped.
 */

/** C0/C1 controls (ESC, CR, BEL, ...), DEL, Unicode line/paragraph separators and bidirectional overrides. */
const NON_PRINTABLE = /[\p{Cc}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One field on one line: every non-printable character escaped, newlines included. */
export function printable(text: string): string {
  return text.replace(NON_PRINTABLE, escapeChar);
}

/** Text that may span lines: newlines kept, every other non-printable character escaped. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
