/**
 * Server configuration: flags > environment (CELLPIPE_*) > config file (YAML or JSON) > defaults.
 * Every layer is validated on its own first so an error names where the bad value came from, and
 * unknown keys fail fast instead of being silently ignored.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DurationSchema } from '@cellpipe/schema';
import { z } from 'zod';
import { HubConfigSchema } from './auth/hub-authenticator.js';
import { AUTHENTICATOR_NAMES, HUB_ENV } from './auth/registry.js';
import { TeamsConfigSchema } from './auth/teams.js';
import { parseTokenList, USER_NAME_PATTERN } from './auth/token-authenticator.js';
import { EXECUTOR_NAMES, type ExecutorName } from './executors/registry.js';
import { GpuLimitsConfigSchema } from './gpu/fair-share.js';
import { LIMIT_ENV, LimitsLayerSchema, resolveLimits } from './limits.js';

export const DEFAULT_PORT = 8765;

export const NOTIFICATION_DEFAULTS = {
  privateNetworks: 'admins',
  timeout: '10s',
  firstRetry: '10s',
  maxRetryDelay: '15m',
  giveUpAfter: '24h',
} as const;

const NotificationsConfigSchema = z
  .object({
    /** `admins`: only targets admins created may reach loopback and private addresses; `all`: any target may. */
    privateNetworks: z.enum(['admins', 'all']).default(NOTIFICATION_DEFAULTS.privateNetworks),
    /** How long one delivery attempt waits for an answer. */
    timeout: DurationSchema.default(NOTIFICATION_DEFAULTS.timeout),
    /** The wait before the second attempt; each later wait doubles, up to maxRetryDelay. */
    firstRetry: DurationSchema.default(NOTIFICATION_DEFAULTS.firstRetry),
    maxRetryDelay: DurationSchema.default(NOTIFICATION_DEFAULTS.maxRetryDelay),
    /** No attempt starts later than this after the job ended; the delivery is then failed. */
    giveUpAfter: DurationSchema.default(NOTIFICATION_DEFAULTS.giveUpAfter),
  })
  .strict();
export type NotificationsConfig = z.infer<typeof NotificationsConfigSchema>;

const TokenEntrySchema = z
  .object({
    token: z.string().min(8, { message: 'tokens must be at least 8 characters' }),
    user: z.string().regex(USER_NAME_PATTERN, { message: 'not a valid user name' }),
    admin: z.boolean().default(false),
    /** The user's groups (what Hub groups are under JupyterHub): teams are made of them. */
    groups: z.array(z.string().min(1).max(255)).default([]),
  })
  .strict();

/** Who sees the holders' names in /api/inventory: everyone, the holder's team only, or nobody. */
export const INVENTORY_HOLDERS = ['all', 'team', 'anonymous'] as const;

/** Each executor's own section (`kubernetes:`, `local:`), checked by that executor when it is built. */
const ExecutorSection = z.record(z.string(), z.unknown());
const executorSections = Object.fromEntries(EXECUTOR_NAMES.map((name) => [name, ExecutorSection])) as Record<
  ExecutorName,
  typeof ExecutorSection
>;

const ConfigFields = {
  /** CELLPIPE_HOME: database, job files, token, server.json. */
  home: z.string().min(1),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  executor: z.enum(EXECUTOR_NAMES),
  /** Python interpreter for the local executor. */
  python: z.string().min(1),
  /** Local GPU inventory declaration ("gpu:2,mig-3g.20gb:1"). */
  gpus: z.string(),
  maxParallelPerUser: z.number().int().min(1),
  /** How many GPUs and MIG slices each user's and team's tasks may hold at once (gpu/fair-share.ts). */
  gpuLimits: GpuLimitsConfigSchema,
  /** Largest accepted JSON body (express/bytes syntax: "20mb"). */
  bodyLimit: z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)$/i, { message: 'must look like "20mb"' }),
  /** Who may call: `token` (tokens, the home token) or `jupyterhub` (a Hub service; see auth/registry.ts). */
  auth: z.enum(AUTHENTICATOR_NAMES),
  tokens: z.array(TokenEntrySchema),
  /** Accept the generated `$home/token` as the OS user (admin). */
  homeToken: z.boolean(),
  /** The Hub service settings (auth: jupyterhub); JUPYTERHUB_* variables fill them. */
  jupyterhub: HubConfigSchema.partial(),
  /**
   * Where everything is served: `/` standalone; under JupyterHub the service prefix
   * (JUPYTERHUB_SERVICE_PREFIX, default `/services/<serviceName>/`), since the Hub's proxy passes
   * the whole path on.
   */
  basePath: z.string().regex(/^\/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)*[A-Za-z0-9._~!$&'()*+,;=:@%-]*$/, {
    message: 'must be an absolute URL path such as /services/cellpipe/',
  }),
  /** Teams: names mapped to groups and/or users (auth/teams.ts). */
  teams: TeamsConfigSchema,
  /** What /api/inventory shows of who holds a GPU: names to everyone, names within one's teams, or no names. */
  inventoryHolders: z.enum(INVENTORY_HOLDERS),
  /** Days the audit log keeps an entry (every state-changing call). */
  auditRetentionDays: z.number().int().min(1).max(36500),
  ...executorSections,
  /** What one request, task or connection may cost (limits.ts: every limit and its default). */
  limits: LimitsLayerSchema,
  /**
   * Where job files live (default `<home>/jobs`). Tasks run as other OS users (`local.runAs`) need it
   * outside the home, which stays readable by the server only.
   */
  jobsDir: z.string().min(1),
  /**
   * Where JupyterLab is served, for links that open the monitor on a job (`<labUrl>/lab?cellpipe-job=<id>`,
   * links.ts): a server's base URL, or under JupyterHub `https://<hub>/hub/user-redirect`.
   */
  labUrl: z.string().refine(
    (s) => {
      try {
        return /^https?:$/.test(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http(s) URL such as https://hub.example.org/hub/user-redirect' },
  ),
  /** How notifications of job ends are delivered (notifications/). */
  notifications: NotificationsConfigSchema,
  /**
   * Server environment variables passed on to every task, by name (proxies, licence servers). Nothing
   * else of the server's environment reaches a task; its own CELLPIPE_* variables never do.
   */
  passEnv: z.array(
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'not an environment variable name' })
      .refine((name) => !name.startsWith('CELLPIPE_'), {
        message:
          "the server's CELLPIPE_* variables are its own configuration (user tokens among them) and never reach tasks",
      }),
  ),
};

/** One layer (file, env or flags): every field optional, unknown keys rejected. */
export const ConfigLayerSchema = z.object(ConfigFields).partial().strict();
export type ConfigLayer = z.infer<typeof ConfigLayerSchema>;

export const ServerConfigSchema = z
  .object({
    ...ConfigFields,
    host: ConfigFields.host.default('127.0.0.1'),
    port: ConfigFields.port.default(DEFAULT_PORT),
    executor: ConfigFields.executor.default('local'),
    python: ConfigFields.python.optional(),
    gpus: ConfigFields.gpus.optional(),
    maxParallelPerUser: ConfigFields.maxParallelPerUser.optional(),
    gpuLimits: ConfigFields.gpuLimits.optional(),
    bodyLimit: ConfigFields.bodyLimit.default('20mb'),
    auth: ConfigFields.auth.default('token'),
    tokens: ConfigFields.tokens.default([]),
    homeToken: ConfigFields.homeToken.default(true),
    jupyterhub: ConfigFields.jupyterhub.optional(),
    basePath: ConfigFields.basePath.optional(),
    teams: ConfigFields.teams.default({}),
    inventoryHolders: ConfigFields.inventoryHolders.default('all'),
    auditRetentionDays: ConfigFields.auditRetentionDays.default(90),
    passEnv: ConfigFields.passEnv.default([]),
    limits: ConfigFields.limits.default({}).transform(resolveLimits),
    jobsDir: ConfigFields.jobsDir.optional(),
    labUrl: ConfigFields.labUrl.optional(),
    notifications: ConfigFields.notifications.default(NOTIFICATION_DEFAULTS),
    ...(Object.fromEntries(EXECUTOR_NAMES.map((name) => [name, ExecutorSection.optional()])) as Record<
      ExecutorName,
      z.ZodOptional<typeof ExecutorSection>
    >),
  })
  .strict()
  .superRefine((c, ctx) => {
    // A limit for a team the configuration does not define would never apply: most likely a typo.
    for (const team of Object.keys(c.gpuLimits?.teams ?? {})) {
      if (!Object.hasOwn(c.teams, team))
        ctx.addIssue({ code: 'custom', path: ['gpuLimits', 'teams', team], message: `no team "${team}" in teams:` });
    }
  })
  .transform((c) => ({ ...c, basePath: normalizeBasePath(c.basePath ?? defaultBasePath(c)) }));
export type ServerConfig = z.infer<typeof ServerConfigSchema>;

/** Without an explicit basePath: the service prefix under JupyterHub, else the root. */
function defaultBasePath(c: { auth: string; jupyterhub?: { serviceName?: string } }): string {
  return c.auth === 'jupyterhub' ? `/services/${c.jupyterhub?.serviceName ?? 'cellpipe'}/` : '/';
}

/** `/services/cellpipe/` and `/services/cellpipe` alike become `/services/cellpipe` (the root stays `/`). */
export function normalizeBasePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function layerError(source: string, err: z.ZodError): ConfigError {
  const lines = err.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  return new ConfigError(`invalid configuration in ${source}:\n${lines.join('\n')}`);
}

function parseLayer(source: string, value: unknown): ConfigLayer {
  const r = ConfigLayerSchema.safeParse(value);
  if (!r.success) throw layerError(source, r.error);
  return r.data;
}

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.CELLPIPE_HOME || join(homedir(), '.cellpipe'));
}

/** Read a YAML or JSON config file (by extension; YAML is a superset, so anything else is read as YAML). */
export function readConfigFile(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  return parseLayer(`config file ${path}`, value);
}

const ENV_KEYS: Record<string, keyof ConfigLayer> = {
  CELLPIPE_HOME: 'home',
  CELLPIPE_HOST: 'host',
  CELLPIPE_PORT: 'port',
  CELLPIPE_EXECUTOR: 'executor',
  CELLPIPE_PYTHON: 'python',
  CELLPIPE_GPUS: 'gpus',
  CELLPIPE_MAX_PARALLEL_PER_USER: 'maxParallelPerUser',
  CELLPIPE_BODY_LIMIT: 'bodyLimit',
  CELLPIPE_PASS_ENV: 'passEnv',
  CELLPIPE_JOBS_DIR: 'jobsDir',
  CELLPIPE_LAB_URL: 'labUrl',
  CELLPIPE_AUTH: 'auth',
  CELLPIPE_BASE_PATH: 'basePath',
  CELLPIPE_INVENTORY_HOLDERS: 'inventoryHolders',
  CELLPIPE_AUDIT_RETENTION_DAYS: 'auditRetentionDays',
};
const NUMERIC_KEYS = new Set<keyof ConfigLayer>(['port', 'maxParallelPerUser', 'auditRetentionDays']);
/** Lists given in the environment as comma-separated values. */
const LIST_KEYS = new Set<keyof ConfigLayer>(['passEnv']);

function toNumber(text: string): number | string {
  // Leave non-numbers as strings so the schema reports them with the variable's name.
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : text;
}

/** The CELLPIPE_* environment as a config layer. */
export function envLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const raw: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    raw[key] = NUMERIC_KEYS.has(key)
      ? toNumber(value)
      : LIST_KEYS.has(key)
        ? value
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean)
        : value;
  }
  const limits: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(LIMIT_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') limits[key] = toNumber(value);
  }
  if (Object.keys(limits).length) raw.limits = limits;
  if (env.CELLPIPE_TOKENS) {
    try {
      raw.tokens = parseTokenList(env.CELLPIPE_TOKENS, 'CELLPIPE_TOKENS');
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  const r = ConfigLayerSchema.safeParse(raw);
  if (!r.success) {
    const envName = (path: readonly PropertyKey[]): string => {
      if (path[0] === 'limits') return Object.entries(LIMIT_ENV).find(([, k]) => k === path[1])?.[0] ?? 'limits';
      const name = Object.entries(ENV_KEYS).find(([, k]) => k === path[0])?.[0] ?? String(path[0]);
      return path.length > 1 ? `${name} (item ${String(path[1])})` : name;
    };
    const lines = r.error.issues.map((i) => `  ${envName(i.path)}: ${i.message}`);
    throw new ConfigError(`invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  return r.data;
}

/**
 * What the Hub gives a service (or its deployment sets): read only when `auth` is `jupyterhub`, so a
 * `cellpipe run` in a user's JupyterLab terminal (whose environment has other JUPYTERHUB_* values)
 * is never affected by them. JUPYTERHUB_SERVICE_PREFIX becomes the base path.
 */
export function hubEnvLayer(env: NodeJS.ProcessEnv): ConfigLayer {
  const hub: Record<string, unknown> = {};
  for (const [field, name] of Object.entries(HUB_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    hub[field] = field === 'cacheSeconds' ? toNumber(value) : value;
  }
  const raw: Record<string, unknown> = {};
  if (Object.keys(hub).length) raw.jupyterhub = hub;
  if (env.JUPYTERHUB_SERVICE_PREFIX) raw.basePath = env.JUPYTERHUB_SERVICE_PREFIX;
  const r = ConfigLayerSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const name =
        i.path[0] === 'basePath' ? 'JUPYTERHUB_SERVICE_PREFIX' : (HUB_ENV[String(i.path[1])] ?? 'jupyterhub');
      return `  ${name}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  return r.data;
}

export interface LoadConfigOptions {
  /** Values from command-line flags (undefined entries are ignored). */
  flags?: Record<string, unknown>;
  /** --config; else CELLPIPE_CONFIG; else `$home/config.yaml|yml|json` when present. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
}

function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function mergeByKey<T extends object>(...layers: (T | undefined)[]): T | undefined {
  return layers.some(Boolean) ? (Object.assign({}, ...layers) as T) : undefined;
}

export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const env = options.env ?? process.env;
  const flags = parseLayer('command-line flags', defined(options.flags ?? {}));
  const fromEnv = envLayer(env);
  const explicitFile = options.configFile ?? (env.CELLPIPE_CONFIG || undefined);
  let file: ConfigLayer = {};
  if (explicitFile) {
    if (!existsSync(explicitFile)) throw new ConfigError(`config file ${explicitFile} does not exist`);
    file = readConfigFile(explicitFile);
  } else {
    const home = flags.home ?? fromEnv.home ?? defaultHome(env);
    const found = ['config.yaml', 'config.yml', 'config.json'].map((n) => join(home, n)).find((p) => existsSync(p));
    if (found) file = readConfigFile(found);
  }
  const auth = flags.auth ?? fromEnv.auth ?? file.auth;
  const fromHub = auth === 'jupyterhub' ? hubEnvLayer(env) : {};
  const merged = { ...file, ...fromHub, ...fromEnv, ...flags };
  // Sections merge key by key: a limit set in the environment, or --kubeconfig on the command line,
  // keeps the others the file sets.
  const limits = mergeByKey(file.limits, fromEnv.limits, flags.limits);
  if (limits) merged.limits = limits;
  const kubernetes = mergeByKey(file.kubernetes, fromEnv.kubernetes, flags.kubernetes);
  if (kubernetes) merged.kubernetes = kubernetes;
  const jupyterhub = mergeByKey(file.jupyterhub, fromHub.jupyterhub, fromEnv.jupyterhub, flags.jupyterhub);
  if (jupyterhub) merged.jupyterhub = jupyterhub;
  const home = resolve(merged.home ?? defaultHome(env));
  const r = ServerConfigSchema.safeParse({
    ...merged,
    home,
    ...(merged.jobsDir !== undefined ? { jobsDir: resolve(merged.jobsDir) } : {}),
  });
  if (!r.success) throw layerError('the merged configuration', r.error);
  return r.data;
}
