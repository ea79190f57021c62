/**
 * Fair use of GPUs: how many whole GPUs, and how many slices of each MIG profile, one user's tasks
 * and one team's tasks may hold at once (config `gpuLimits`). The orchestrator asks before it hands
 * an attempt to the executor, so a task over its owner's share waits in the queue with nothing
 * created for it, and says why in plain words ("waiting: team vision already uses 4 of 4
 * nvidia.com/mig-3g.20gb").
 *
 *   gpuLimits:
 *     user: { gpu: 2, mig-3g.20gb: 2 }     # every user
 *     team: { gpu: 8 }                     # every team
 *     users: { alice: { gpu: 4 } }         # these users instead (per kind; others keep the default)
 *     teams: { vision: { mig-3g.20gb: 4 } }
 *
 * A kind (`gpu`, `mig-<profile>`, as in CELLPIPE_GPUS) a limit does not name is not limited. A job
 * counts toward its owner and toward the team it recorded when it was submitted (job.team).
 */
import { z } from 'zod';
import { TeamNameSchema } from '../auth/teams.js';
import { USER_NAME_PATTERN } from '../auth/token-authenticator.js';
import type { Need } from './allocator.js';
import { GPU_KIND, kindResource } from './inventory.js';

/** `{gpu: 2, mig-3g.20gb: 1}`: how many of each kind at once. A bad kind is named by its own path. */
const LimitSchema = z.record(z.string(), z.number().int().min(0)).superRefine((limits, ctx) => {
  for (const kind of Object.keys(limits)) {
    if (!GPU_KIND.test(kind))
      ctx.addIssue({
        code: 'custom',
        path: [kind],
        message: 'not a GPU kind: use gpu or mig-<profile> (e.g. mig-3g.20gb)',
      });
  }
});

export const GpuLimitsConfigSchema = z
  .object({
    /** Every user's limits, unless `users` names them. */
    user: LimitSchema.default({}),
    /** Every team's limits, unless `teams` names it. */
    team: LimitSchema.default({}),
    users: z.record(z.string().regex(USER_NAME_PATTERN, { message: 'not a valid user name' }), LimitSchema).default({}),
    teams: z.record(TeamNameSchema, LimitSchema).default({}),
  })
  .strict();
export type GpuLimitsConfig = z.infer<typeof GpuLimitsConfigSchema>;
export type GpuLimitsConfigInput = z.input<typeof GpuLimitsConfigSchema>;

/** Who a task's GPUs count toward. */
export interface Holder {
  owner: string;
  team?: string;
}

/** What the limits say of a task that needs GPUs. */
export type Verdict =
  | { ok: true }
  /** Over its owner's or team's share now: wait (the reason says whose share and how full it is). */
  | { ok: false; wait: string }
  /** More than its owner's or team's whole share: it can never start. */
  | { ok: false; never: string };

interface Limit {
  /** `user alice` / `team vision`, for messages. */
  who: string;
  /** Where the configuration sets it, for messages. */
  where: string;
  max: number;
}

/** The GPUs in-flight attempts hold per user and per team, by resource. */
export class GpuUsage {
  private readonly held = new Map<string, { holder: Holder; need: Need }>();
  private readonly totals = new Map<string, number>();

  private add(holder: Holder, need: Need, sign: 1 | -1): void {
    const keys = [`user\0${holder.owner}\0${need.resource}`];
    if (holder.team !== undefined) keys.push(`team\0${holder.team}\0${need.resource}`);
    for (const k of keys) {
      const n = (this.totals.get(k) ?? 0) + sign * need.count;
      if (n) this.totals.set(k, n);
      else this.totals.delete(k);
    }
  }

  /** An attempt (by key) holds `need` for `holder`; a key already held is left as it is. */
  hold(key: string, holder: Holder, need: Need | undefined): void {
    if (!need || this.held.has(key)) return;
    this.held.set(key, { holder, need });
    this.add(holder, need, 1);
  }

  release(key: string): void {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    this.add(h.holder, h.need, -1);
  }

  ofUser(user: string, resource: string): number {
    return this.totals.get(`user\0${user}\0${resource}`) ?? 0;
  }

  ofTeam(team: string, resource: string): number {
    return this.totals.get(`team\0${team}\0${resource}`) ?? 0;
  }
}

export class GpuLimits {
  private readonly config: GpuLimitsConfig;

  constructor(config: GpuLimitsConfigInput = {}) {
    this.config = GpuLimitsConfigSchema.parse(config);
  }

  /** True when no limit is set at all (the orchestrator then skips the bookkeeping). */
  get empty(): boolean {
    const c = this.config;
    return [c.user, c.team, ...Object.values(c.users), ...Object.values(c.teams)].every((l) => !Object.keys(l).length);
  }

  private limit(kind: 'user' | 'team', name: string, resource: string): Limit | undefined {
    const specific = kind === 'user' ? this.config.users : this.config.teams;
    const entry = Object.hasOwn(specific, name) ? specific[name]! : undefined;
    for (const [source, where] of [
      [entry, `gpuLimits.${kind}s.${name}`],
      [this.config[kind], `gpuLimits.${kind}`],
    ] as const) {
      if (!source) continue;
      for (const [k, max] of Object.entries(source)) {
        if (kindResource(k) === resource) return { who: `${kind} ${name}`, where, max };
      }
    }
    return undefined;
  }

  /** May a task of `holder` that needs `need` start now, given what is held? */
  check(holder: Holder, need: Need | undefined, usage: GpuUsage): Verdict {
    if (!need) return { ok: true };
    const limits: { limit: Limit; used: number }[] = [];
    const user = this.limit('user', holder.owner, need.resource);
    if (user) limits.push({ limit: user, used: usage.ofUser(holder.owner, need.resource) });
    if (holder.team !== undefined) {
      const team = this.limit('team', holder.team, need.resource);
      if (team) limits.push({ limit: team, used: usage.ofTeam(holder.team, need.resource) });
    }
    const never = limits.find(({ limit }) => need.count > limit.max);
    if (never) {
      const { who, where, max } = never.limit;
      return {
        ok: false,
        never: `needs ${need.count} ${need.resource} but ${who} may hold at most ${max} at once (${where})`,
      };
    }
    const full = limits.filter(({ limit, used }) => used + need.count > limit.max);
    if (!full.length) return { ok: true };
    const why = full.map(({ limit, used }) => `${limit.who} already uses ${used} of ${limit.max} ${need.resource}`);
    const more = need.count > 1 ? ` (this task needs ${need.count})` : '';
    return { ok: false, wait: `waiting: ${why.join('; ')}${more}` };
  }
}
