/**
 * Teams: names the configuration (`teams:`) maps to groups and/or user names. Under JupyterHub the
 * groups are Hub groups; in token mode they are the groups the configuration gives each token.
 *
 *   teams:
 *     vision: { groups: [vision], users: [carol], visibility: team }
 *     nlp:    { groups: [nlp] }
 *
 * A user belongs to every team that names them or one of their groups. Their work counts toward
 * their *primary* team, the first of those in the configuration's order; a job records it when it is
 * created (job.team), so what a job counts toward never changes while it runs. `visibility: team`
 * lets the members of a team see (not change) each other's jobs.
 *
 * This module is the one place that resolves teams: the HTTP layer (visibility), the job service
 * (job.team), the executors (namespaces, labels) and per-team limits all ask it.
 */
import { z } from 'zod';
import { USER_NAME_PATTERN } from './token-authenticator.js';

/** A team name doubles as a Kubernetes label value and namespace suffix, so it is a DNS label. */
export const TeamNameSchema = z
  .string()
  .max(40)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message: 'team names are lower-case letters, digits and "-" (at most 40), starting and ending alphanumerically',
  });

export const TeamSchema = z
  .object({
    /** Members by group (Hub groups under JupyterHub, the tokens' groups otherwise). */
    groups: z.array(z.string().min(1).max(255)).default([]),
    /** Members by user name. */
    users: z.array(z.string().regex(USER_NAME_PATTERN, { message: 'not a valid user name' })).default([]),
    /** `team`: members see each other's jobs, logs and files (read-only); `private` (default): only their own. */
    visibility: z.enum(['private', 'team']).default('private'),
    /** The Kubernetes namespace of the team's Jobs when `kubernetes.namespacePerTeam` is on (default `cellpipe-<team>`). */
    namespace: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS label (a namespace name)' })
      .optional(),
  })
  .strict()
  .refine((t) => t.groups.length > 0 || t.users.length > 0, {
    message: 'a team needs at least one group or user',
  });

export const TeamsConfigSchema = z.record(TeamNameSchema, TeamSchema);
export type TeamsConfigInput = z.input<typeof TeamsConfigSchema>;
export type TeamsConfig = z.infer<typeof TeamsConfigSchema>;
export type TeamConfig = z.infer<typeof TeamSchema>;

/** What team resolution needs of a caller: their name and groups (a Principal is one). */
export interface Identity {
  user: string;
  groups: readonly string[];
}

/**
 * The last groups each user was seen with (kept by the store as users authenticate), so the teams of
 * someone who is not calling right now (a job's owner, a schedule firing) can be resolved.
 */
export interface GroupDirectory {
  groupsOf(user: string): readonly string[] | undefined;
  /** Every known user in any of these groups. */
  usersInGroups(groups: readonly string[]): string[];
}

export class Teams {
  private readonly config: TeamsConfig;

  constructor(
    config: TeamsConfigInput = {},
    private readonly directory?: GroupDirectory,
  ) {
    this.config = TeamsConfigSchema.parse(config);
  }

  /** Team names in configuration order. */
  names(): string[] {
    return Object.keys(this.config);
  }

  get(team: string): TeamConfig | undefined {
    return Object.hasOwn(this.config, team) ? this.config[team] : undefined;
  }

  private isMember(team: TeamConfig, who: Identity): boolean {
    return team.users.includes(who.user) || team.groups.some((g) => who.groups.includes(g));
  }

  /** The teams of a caller, in configuration order. */
  of(who: Identity): string[] {
    return Object.entries(this.config)
      .filter(([, team]) => this.isMember(team, who))
      .map(([name]) => name);
  }

  /** The teams of a user by name, from the groups they were last seen with. */
  ofUser(user: string): string[] {
    return this.of({ user, groups: this.directory?.groupsOf(user) ?? [] });
  }

  /** The team a caller's work counts toward: the first of theirs in configuration order. */
  primary(who: Identity): string | undefined {
    return this.of(who)[0];
  }

  /** The primary team of a user by name (a job's owner, a schedule firing for them). */
  primaryOfUser(user: string): string | undefined {
    return this.ofUser(user)[0];
  }

  /** Every user known to belong to a team: those it names, and those seen with one of its groups. */
  members(team: string): string[] {
    const t = this.get(team);
    if (!t) return [];
    const found = new Set(t.users);
    for (const u of this.directory?.usersInGroups(t.groups) ?? []) found.add(u);
    return [...found];
  }

  /**
   * Whose work a caller may see besides their own: the members of their teams with
   * `visibility: team`. Admins see everyone's; that is the access rules' business, not this one's.
   */
  sharedOwners(who: Identity): string[] {
    const owners = new Set<string>();
    for (const name of this.of(who)) {
      if (this.config[name]!.visibility !== 'team') continue;
      for (const u of this.members(name)) if (u !== who.user) owners.add(u);
    }
    return [...owners];
  }

  /** Whether `owner`'s work is visible to `who` through a shared team. */
  shares(who: Identity, owner: string): boolean {
    if (owner === who.user) return true;
    const ownerTeams = new Set(this.ofUser(owner));
    return this.of(who).some((name) => this.config[name]!.visibility === 'team' && ownerTeams.has(name));
  }

  /** The Kubernetes namespace of a team's Jobs when each team has its own. */
  namespaceOf(team: string): string {
    return this.get(team)?.namespace ?? `cellpipe-${team}`;
  }
}
