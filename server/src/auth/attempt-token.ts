/**
 * Attempt tokens: what a task's pod shows the server to read its inputs and write its outputs when it
 * shares no file system with it. One random token per attempt, minted when the orchestrator hands the
 * attempt over; the store keeps only its SHA-256 and forgets it when the attempt ends, so a token is
 * worth nothing once its attempt is over, and nothing at all for another attempt.
 */
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'cpa_';

export function hashAttemptToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh token and the hash the store keeps of it. */
export function mintAttemptToken(): { token: string; hash: string } {
  const token = PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashAttemptToken(token) };
}

/** Whether a presented string is shaped like an attempt token (user tokens are not). */
export function isAttemptToken(token: string): boolean {
  return token.startsWith(PREFIX) && token.length === PREFIX.length + 43;
}
