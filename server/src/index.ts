/** @cellpipe/server: embed the Cellpipe server or talk to one. */
export { startServer, liveServer, acquireHomeLock, HomeLockedError } from './main.js';
export type { RunningServer, StartServerOptions } from './main.js';
export { createApp } from './http/app.js';
export type { AppOptions, CellpipeApp } from './http/app.js';
export { HttpError } from './http/errors.js';
export type { Authenticator, AuthRequest, Principal } from './auth/authenticator.js';
export { TokenAuthenticator, parseTokenList } from './auth/token-authenticator.js';
export { ensureHomeToken, readHomeToken } from './auth/home-token.js';
export { loadConfig, ServerConfigSchema, ConfigError, defaultHome } from './config.js';
export type { ServerConfig, ServerConfigInput } from './config.js';
export { CellpipeClient, ApiError } from './client/api-client.js';
export type { ServerEvent, ClientOptions } from './client/api-client.js';
export { readServerFile } from './client/server-file.js';
export { JobService } from './jobs/job-service.js';
export type { JobServiceApi, JobServiceOptions } from './jobs/job-service.js';
