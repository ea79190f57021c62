/**
 * Notifications on a job's end: the targets (created, listed without their secrets, changed,
 * deleted, tested), the check that a run names only targets its owner may use, the job-end hook that
 * writes the outbox in the job's own transaction, and the deliveries of a job as the job view shows them.
 *
 * Who may use what: a job's rules name targets by name, resolved for the job's owner: their own
 * target by that name, else a site-wide one. Nobody else's target can be named, read or changed;
 * admins create site-wide targets (and may change or delete any). No answer ever holds a URL or a
 * secret, except a secret the server generated, once, in the answer that created it.
 */
import { randomBytes } from 'node:crypto';
import {
  type CreateTargetRequest,
  type Delivery,
  type NotifyOn,
  type NotifyRule,
  type Target,
  type TargetTestResult,
  type TargetWithSecret,
  type UpdateTargetRequest,
} from '@cellpipe/schema';
import type { Principal } from '../auth/authenticator.js';
import { systemClock, type Clock } from '../clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../jobs/errors.js';
import { jobLink } from '../links.js';
import { isStorageFull } from '../store/errors.js';
import { SITE, type OutboxStore, type TargetRecord, type TargetStore } from '../store/notification-store.js';
import type { JobRecord, TaskRecord } from '../store/store.js';
import { Dispatcher, type RetryPolicy } from './dispatcher.js';
import { jobEndEvent } from './event.js';
import { send } from './http-sender.js';
import { notifierFor } from './notifiers/registry.js';

export interface NotificationOptions {
  store: TargetStore & OutboxStore;
  clock?: Clock;
  /** Where JupyterLab is, for the link to the job (links.ts); no link without it. */
  labUrl?: string;
  retry: RetryPolicy;
  timeoutMs: number;
  /** `admins`: only targets created by admins may reach private networks; `all`: every target may. */
  privateNetworks: 'admins' | 'all';
  log?: (message: string, err?: unknown) => void;
  /** Tests replace the network. */
  send?: typeof send;
}

/** Targets are referred to by id or, among those the caller may use, by name. */
const TARGET_ID = /^t[a-z0-9]{16}$/;

function newId(): string {
  return `t${[...randomBytes(16)].map((b) => (b % 36).toString(36)).join('')}`;
}

function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

const outcomeOf = (state: string): NotifyOn | 'cancelled' =>
  state === 'succeeded' ? 'success' : state === 'failed' ? 'failure' : 'cancelled';

export class NotificationService {
  private readonly store: TargetStore & OutboxStore;
  private readonly clock: Clock;
  private readonly o: NotificationOptions;
  private readonly dispatcher: Dispatcher;
  private readonly log: (message: string, err?: unknown) => void;

  constructor(options: NotificationOptions) {
    this.o = options;
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((message, err) => console.error(message, err ?? ''));
    this.dispatcher = new Dispatcher({
      store: this.store,
      clock: this.clock,
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      mayReachPrivate: (t) => this.mayReachPrivate(t),
      log: this.log,
      ...(options.send ? { send: options.send } : {}),
    });
  }

  /** Deliver what is pending (after a restart: what was pending when the server stopped). */
  start(): void {
    this.dispatcher.kick();
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }

  /** Resolves once no delivery is in flight. */
  idle(): Promise<void> {
    return this.dispatcher.idle();
  }

  private mayReachPrivate(t: TargetRecord): boolean {
    return this.o.privateNetworks === 'all' || t.trusted;
  }

  // ---- targets -----------------------------------------------------------------------------------

  private toWire(t: TargetRecord): Target {
    const out: Target = {
      id: t.id,
      name: t.name,
      kind: t.kind,
      scope: t.owner === SITE ? 'site' : 'user',
      host: new URL(t.url).host,
      signed: Boolean(t.secret),
      createdBy: t.createdBy,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    };
    if (t.owner !== SITE) out.owner = t.owner;
    if (t.description) out.description = t.description;
    return out;
  }

  /** The caller's own targets and the site-wide ones; an admin may name another user. */
  list(p: Principal, user?: string): Target[] {
    const owner = user ?? p.user;
    return this.store.targets([owner, SITE]).map((t) => this.toWire(t));
  }

  /** A target the caller may use: their own by that name, else the site-wide one. */
  resolve(owner: string, name: string): TargetRecord | undefined {
    return this.store.targetByName(owner, name) ?? this.store.targetByName(SITE, name);
  }

  /**
   * A target the caller may see: by id (their own, a site-wide one, or any for an admin) or by name
   * (as `resolve`). Others' targets are not found, never forbidden: their names and ids leak nothing.
   */
  private find(p: Principal, ref: string): TargetRecord {
    const t = TARGET_ID.test(ref) ? this.store.target(ref) : this.resolve(p.user, ref);
    if (!t || !(t.owner === p.user || t.owner === SITE || p.admin)) {
      throw new NotFoundError(`no notification target '${ref}'`);
    }
    return t;
  }

  private mayChange(p: Principal, t: TargetRecord): void {
    if (t.owner === p.user || p.admin) return;
    throw new NotFoundError(`no notification target '${t.name}' of yours: site-wide targets are changed by admins`);
  }

  get(p: Principal, ref: string): Target {
    return this.toWire(this.find(p, ref));
  }

  create(p: Principal, request: CreateTargetRequest): TargetWithSecret {
    if (request.scope === 'site' && !p.admin) {
      throw new ValidationError('only admins create site-wide targets', ['scope']);
    }
    const owner = request.scope === 'site' ? SITE : p.user;
    if (this.store.targetByName(owner, request.name)) {
      const whose = owner === SITE ? 'a site-wide target' : 'a target';
      throw new ConflictError(`there is already ${whose} named '${request.name}'`);
    }
    const signed = notifierFor(request.kind).signed;
    if (!signed && request.secret) {
      throw new ValidationError(`${request.kind} targets are not signed: leave out the secret`, ['secret']);
    }
    const generated = signed && !request.secret ? newSecret() : undefined;
    const now = new Date(this.clock.now()).toISOString();
    const t: TargetRecord = {
      id: newId(),
      owner,
      name: request.name,
      kind: request.kind,
      url: request.url,
      createdBy: p.user,
      trusted: p.admin,
      createdAt: now,
      updatedAt: now,
    };
    const secret = request.secret ?? generated;
    if (secret) t.secret = secret;
    if (request.description) t.description = request.description;
    this.store.insertTarget(t);
    return generated ? { ...this.toWire(t), secret: generated } : this.toWire(t);
  }

  update(p: Principal, ref: string, request: UpdateTargetRequest): TargetWithSecret {
    const t = this.find(p, ref);
    this.mayChange(p, t);
    const signed = notifierFor(t.kind).signed;
    if (!signed && (request.secret || request.rotateSecret)) {
      throw new ValidationError(`${t.kind} targets are not signed: they have no secret`, ['secret']);
    }
    const next: TargetRecord = { ...t, updatedAt: new Date(this.clock.now()).toISOString() };
    // A new URL is only as trusted as whoever set it.
    if (request.url !== undefined) {
      next.url = request.url;
      next.trusted = p.admin;
    }
    const generated = request.rotateSecret ? newSecret() : undefined;
    if (request.secret !== undefined || generated) next.secret = request.secret ?? generated;
    if (request.description === null) delete next.description;
    else if (request.description !== undefined) next.description = request.description;
    this.store.updateTarget(next);
    return generated ? { ...this.toWire(next), secret: generated } : this.toWire(next);
  }

  remove(p: Principal, ref: string): void {
    const t = this.find(p, ref);
    this.mayChange(p, t);
    this.store.deleteTarget(t.id);
  }

  /** One delivery of a sample event to the target, now (nothing is stored). */
  async test(p: Principal, ref: string): Promise<TargetTestResult> {
    const t = this.find(p, ref);
    this.mayChange(p, t);
    const now = this.clock.now();
    const key = `test-${randomBytes(8).toString('hex')}`;
    const at = new Date(now).toISOString();
    const event = {
      type: 'job.finished' as const,
      id: key,
      at,
      job: {
        id: 'test000000000',
        name: 'cellpipe-test',
        owner: p.user,
        state: 'succeeded' as const,
        createdAt: at,
        startedAt: at,
        finishedAt: at,
        durationMs: 0,
        pipeline: { name: 'cellpipe-test' },
        parameters: {},
      },
      tasks: { total: 1, succeeded: 1, failed: 0, other: 0 },
      results: { check: { test: true } },
      ...(this.o.labUrl ? { link: jobLink(this.o.labUrl, 'test000000000') } : {}),
    };
    const request = notifierFor(t.kind).request(
      event,
      { name: t.name, url: t.url, ...(t.secret ? { secret: t.secret } : {}) },
      { idempotencyKey: key, attempt: 1, now },
    );
    const r = await (this.o.send ?? send)(request, {
      timeoutMs: this.o.timeoutMs,
      publicOnly: !this.mayReachPrivate(t),
    });
    const ok = r.status !== undefined && r.status >= 200 && r.status < 300;
    return {
      ok,
      durationMs: r.durationMs,
      ...(r.status !== undefined ? { statusCode: r.status } : {}),
      ...(r.error ? { error: r.error } : {}),
    };
  }

  /** Throws ValidationError at `path` when a rule names a target `owner` may not use. */
  check(owner: string, rules: readonly NotifyRule[] | undefined, path: (string | number)[]): void {
    (rules ?? []).forEach((rule, i) =>
      rule.targets.forEach((name, j) => {
        if (!this.resolve(owner, name)) {
          throw new ValidationError(
            `no notification target '${name}' (yours or site-wide): define it with \`cellpipe notify add ${name}\``,
            [...path, i, 'targets', j],
          );
        }
      }),
    );
  }

  // ---- a job's end -------------------------------------------------------------------------------

  /**
   * Runs inside the transaction that stores the job's end: the rows it writes commit with it. Only a
   * full disk escapes (the job's end then waits too); anything else is logged and the job ends anyway.
   */
  jobEnded(job: JobRecord, tasks: readonly TaskRecord[]): void {
    const rules = [...(job.pipeline.spec.notify ?? []), ...(job.notify ?? [])];
    if (!rules.length) return;
    try {
      this.enqueue(job, tasks, rules);
    } catch (err) {
      if (isStorageFull(err)) throw err;
      this.log(`cellpipe: notifications: the end of job ${job.id} could not be queued`, err);
      return;
    }
    // After the transaction commits.
    setImmediate(() => this.dispatcher.kick());
  }

  private enqueue(job: JobRecord, tasks: readonly TaskRecord[], rules: readonly NotifyRule[]): void {
    const outcome = outcomeOf(job.state);
    // Each target once, under the first rule that sends to it.
    const matched = new Map<string, NotifyOn>();
    for (const rule of rules) {
      if (rule.on !== 'always' && rule.on !== outcome) continue;
      for (const name of rule.targets) if (!matched.has(name)) matched.set(name, rule.on);
    }
    const now = this.clock.now();
    const link = this.o.labUrl ? jobLink(this.o.labUrl, job.id) : undefined;
    for (const [name, on] of matched) {
      const target = this.resolve(job.owner, name);
      const key = `${job.id}.${name}`;
      const base = {
        key,
        jobId: job.id,
        owner: job.owner,
        targetName: name,
        on,
        event: jobEndEvent(job, tasks, { key, ...(link ? { link } : {}) }),
        giveUpAt: now + this.o.retry.giveUpAfterMs,
        createdAt: new Date(now).toISOString(),
      };
      if (target) {
        this.store.enqueue({ ...base, targetId: target.id, kind: target.kind, state: 'pending', nextAt: now });
      } else {
        this.store.enqueue({
          ...base,
          targetId: null,
          state: 'failed',
          error: `no notification target '${name}' for ${job.owner} (yours or site-wide)`,
        });
      }
    }
  }

  /** Every notification of a job with its attempts, oldest first. */
  deliveries(jobId: string): Delivery[] {
    return this.store.ofJob(jobId).map((row) => {
      const d: Delivery = {
        id: row.id,
        jobId: row.jobId,
        target: row.targetName,
        on: row.on,
        state: row.state,
        idempotencyKey: row.key,
        createdAt: row.createdAt,
        attempts: this.store.attemptsOf(row.id).map((a) => ({
          attempt: a.attempt,
          at: a.at,
          durationMs: a.durationMs,
          ...(a.status !== undefined ? { statusCode: a.status } : {}),
          ...(a.error ? { error: a.error } : {}),
        })),
      };
      if (row.kind) d.kind = row.kind;
      if (row.state === 'pending' && row.nextAt !== undefined) d.nextAttemptAt = new Date(row.nextAt).toISOString();
      if (row.deliveredAt) d.deliveredAt = row.deliveredAt;
      if (row.error && row.state !== 'delivered') d.error = row.error;
      return d;
    });
  }
}
