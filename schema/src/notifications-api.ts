/**
 * Wire types of notifications: the targets a job's end is sent to (a generic webhook or a Slack
 * incoming webhook), what is sent (the event), and each delivery with its attempts.
 *
 * A target's URL (and a webhook's signing secret) is a secret: it is written once and never returned.
 * Users define their own targets; admins define site-wide ones everyone may name.
 */
import { z } from 'zod';
import { JobIdSchema, JobStateSchema, TaskErrorSchema } from './api.js';
import { TaskResultsSchema } from './results.js';
import { NotificationTargetNameSchema, NotifyOnSchema, TaskNameSchema } from './spec.js';

/** The kinds of target the server can deliver to (server/src/notifications/notifiers/). */
export const NotifierKindSchema = z.enum(['webhook', 'slack']);

/** Whose target it is: the caller's own, or site-wide (defined by an admin, usable by everyone). */
export const TargetScopeSchema = z.enum(['user', 'site']);

export const TargetUrlSchema = z
  .string()
  .max(2048, { message: 'URLs are at most 2048 characters' })
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
      } catch {
        return false;
      }
    },
    { message: 'must be an http(s) URL without a user name or password' },
  );

/** A webhook's shared secret for the HMAC-SHA256 signature. */
export const TargetSecretSchema = z
  .string()
  .min(16, { message: 'secrets are at least 16 characters' })
  .max(256, { message: 'secrets are at most 256 characters' });

/** `POST /api/notifications/targets`. */
export const CreateTargetRequestSchema = z
  .object({
    name: NotificationTargetNameSchema,
    kind: NotifierKindSchema,
    url: TargetUrlSchema,
    /** Webhooks: the signing secret (default: one is generated and returned once). */
    secret: TargetSecretSchema.optional(),
    /** `site`: admins only. */
    scope: TargetScopeSchema.default('user'),
    description: z.string().max(500).optional(),
  })
  .strict();

/** `PATCH /api/notifications/targets/:ref`: a new URL, a new secret (rotation), a description. */
export const UpdateTargetRequestSchema = z
  .object({
    url: TargetUrlSchema.optional(),
    secret: TargetSecretSchema.optional(),
    /** Generate a new secret (returned once). */
    rotateSecret: z.literal(true).optional(),
    description: z.string().max(500).nullable().optional(),
  })
  .strict()
  .refine((r) => !(r.secret && r.rotateSecret), {
    message: 'give a secret or ask for a new one, not both',
    path: ['rotateSecret'],
  });

/** A target as the API shows it: never its URL or secret. */
export const TargetSchema = z.object({
  id: z.string(),
  name: NotificationTargetNameSchema,
  kind: NotifierKindSchema,
  scope: TargetScopeSchema,
  /** The user whose target it is (absent for site-wide targets). */
  owner: z.string().optional(),
  /** The host it delivers to, to tell targets apart (the path, which holds the secret part, is not shown). */
  host: z.string(),
  /** Whether deliveries are signed (webhooks). */
  signed: z.boolean(),
  description: z.string().optional(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** The answer to a create or a rotation: the target, and the generated secret, shown this once. */
export const TargetWithSecretSchema = TargetSchema.extend({ secret: z.string().optional() });

export const TargetListSchema = z.object({ items: z.array(TargetSchema) });

/** What a job's end looks like to a notifier (and, as JSON, the body of a generic webhook). */
export const JobEndEventSchema = z.object({
  type: z.literal('job.finished'),
  /** The delivery's idempotency key: the same for every attempt of one delivery. */
  id: z.string(),
  /** When the job ended. */
  at: z.string(),
  job: z.object({
    id: JobIdSchema,
    name: z.string(),
    owner: z.string(),
    state: JobStateSchema,
    /** The job-level error (which tasks failed, a timeout, a cancel). */
    error: z.string().optional(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string(),
    durationMs: z.number().int().min(0).optional(),
    pipeline: z.object({ name: z.string(), version: z.number().int().optional(), hash: z.string().optional() }),
    scheduleId: z.string().optional(),
    scheduleSlot: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()),
  }),
  tasks: z.object({
    total: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    other: z.number().int(),
  }),
  /** The first task that failed (in task order), with its error and the notebook cell. */
  failedTask: z.object({ name: TaskNameSchema, error: TaskErrorSchema.omit({ traceback: true }) }).optional(),
  /** Every task's results. */
  results: z.record(TaskNameSchema, TaskResultsSchema),
  /** Opens the monitor on the job in JupyterLab (absent when the server has no `labUrl`). */
  link: z.string().optional(),
});

export const DeliveryStateSchema = z.enum(['pending', 'delivered', 'failed']);

export const DeliveryAttemptSchema = z.object({
  attempt: z.number().int().min(1),
  at: z.string(),
  /** The HTTP status the target answered (absent when it could not be reached). */
  statusCode: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number().int().min(0),
});

/** One notification of one job to one target, with every attempt to deliver it. */
export const DeliverySchema = z.object({
  id: z.number().int(),
  jobId: JobIdSchema,
  /** The target's name as the rule named it, and its kind (absent when no such target existed). */
  target: z.string(),
  kind: NotifierKindSchema.optional(),
  on: NotifyOnSchema,
  state: DeliveryStateSchema,
  /** Sent as the `Idempotency-Key` header: a receiver that sees it twice got the same delivery twice. */
  idempotencyKey: z.string(),
  createdAt: z.string(),
  /** When the next attempt is due (pending deliveries). */
  nextAttemptAt: z.string().optional(),
  deliveredAt: z.string().optional(),
  /** Why it failed for good, or what the last attempt ran into. */
  error: z.string().optional(),
  attempts: z.array(DeliveryAttemptSchema),
});

export const DeliveryListSchema = z.object({ items: z.array(DeliverySchema) });

/** `POST /api/notifications/targets/:ref/test`: one delivery of a sample event, straight away. */
export const TargetTestResultSchema = z.object({
  ok: z.boolean(),
  statusCode: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number().int().min(0),
});

export type NotifierKind = z.infer<typeof NotifierKindSchema>;
export type TargetScope = z.infer<typeof TargetScopeSchema>;
export type CreateTargetRequest = z.infer<typeof CreateTargetRequestSchema>;
export type CreateTargetInput = z.input<typeof CreateTargetRequestSchema>;
export type UpdateTargetRequest = z.infer<typeof UpdateTargetRequestSchema>;
export type Target = z.infer<typeof TargetSchema>;
export type TargetWithSecret = z.infer<typeof TargetWithSecretSchema>;
export type TargetList = z.infer<typeof TargetListSchema>;
export type JobEndEvent = z.infer<typeof JobEndEventSchema>;
export type DeliveryState = z.infer<typeof DeliveryStateSchema>;
export type DeliveryAttempt = z.infer<typeof DeliveryAttemptSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;
export type DeliveryList = z.infer<typeof DeliveryListSchema>;
export type TargetTestResult = z.infer<typeof TargetTestResultSchema>;
