/**
 * The audit log (GET /api/audit, admins only): every state-changing call with who made it, what it
 * did, on what, and how it ended.
 */
import { z } from 'zod';
import { IsoDateParamSchema } from './api.js';

/** How a call ended: done, refused (401/403/404: who may not), or failed (anything else). */
export const AuditResultSchema = z.enum(['ok', 'denied', 'failed']);

export const AuditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  /** The caller; absent when the call carried no valid credentials. */
  user: z.string().optional(),
  /** What was asked, as a route: "POST /api/jobs/:id/cancel", "login". */
  action: z.string(),
  /** What it acted on: the request path, and for a creation where the new thing lives. */
  target: z.string(),
  status: z.number().int(),
  result: AuditResultSchema,
  /** The error message of a call that did not succeed. */
  message: z.string().optional(),
});

export const AuditListSchema = z.object({
  items: z.array(AuditEntrySchema),
  /** Opaque cursor for the next (older) page; absent on the last page. */
  nextCursor: z.string().optional(),
});

export const AuditQuerySchema = z.object({
  user: z.string().min(1).max(128).optional(),
  /** Entries whose action contains this text ("cancel", "POST /api/schedules"). */
  action: z.string().min(1).max(200).optional(),
  result: AuditResultSchema.optional(),
  since: IsoDateParamSchema.optional(),
  until: IsoDateParamSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).max(64).optional(),
});

export type AuditResult = z.infer<typeof AuditResultSchema>;
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
export type AuditList = z.infer<typeof AuditListSchema>;
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
export type AuditQueryInput = z.input<typeof AuditQuerySchema>;
