/** Types of hub.js (a real JupyterHub with Cellpipe as its service, for tests). */
export interface HubOptions {
  root: string;
  work: string;
  /** user -> Hub groups */
  users: Record<string, string[]>;
  admins?: string[];
  /** The project venv (default: scripts/python-env.sh's). */
  venv?: string;
  /** Extra Cellpipe server configuration (teams, inventoryHolders, ...). */
  cellpipeConfig?: Record<string, unknown>;
  /** Extra environment of the Cellpipe server. */
  cellpipeEnv?: Record<string, string>;
  /** Cellpipe's Hub answer cache in seconds (default 2). */
  cacheSeconds?: number;
  spawnerArgs?: string[];
  spawnerEnv?: Record<string, string>;
}

export interface Hub {
  proxyUrl: string;
  hubApiUrl: string;
  serviceUrl: string;
  directServiceUrl: string;
  serviceName: string;
  serviceToken: string;
  adminToken: string;
  password: string;
  venv: string;
  logs: { cellpipe: string; hub: string };
  /** Hub user -> the OS account their tasks run as. */
  accounts: Record<string, string>;
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  token(user: string, scopes?: string[]): Promise<string>;
  spawn(user: string, timeoutMs?: number): Promise<{ url: string; ready: boolean }>;
  addToGroup(group: string, user: string): Promise<void>;
  removeFromGroup(group: string, user: string): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number>;
export const TASK_PYTHON: string;
/** Why this machine cannot run a hub test (undefined when it can). */
export function hubSkipReason(): string | undefined;
export function startHub(options: HubOptions): Promise<Hub>;
