/**
 * The one HTTP client of the extension. Every call goes through `requestAPI`, which sends the request
 * through an injected `Fetcher` (in JupyterLab: `ServerConnection.makeRequest`, which adds Jupyter's
 * auth and XSRF headers), turns a non-OK reply into the shared `ApiError` (from @cellpipe/schema) carrying the server's message
 * and field details
 * and parses every JSON body with the schema the server itself uses.
 *
 * No JupyterLab imports: the plugin wires the fetcher, tests pass a fake one.
 */
import {
  ActivitySchema,
  ApiError,
  apiErrorFromReply,
  RerunPlanSchema,
  InventorySchema,
  JobListSchema,
  JobSchema,
  MeSchema,
  type Activity,
  type Inventory,
  type Job,
  type JobList,
  type JobState,
  type Me,
  type RerunPlan,
  type SubmitJobRequest,
} from '@cellpipe/schema';
import { z } from 'zod';

export { ApiError };

/**
 * Sends one request. `path` is relative to the Cellpipe server root (`api/jobs`); the fetcher maps it
 * onto the proxy (`<baseUrl>cellpipe/api/jobs`) or onto a configured server URL.
 *
 * @throws {NetworkError} when the request could not be sent at all.
 */
export type Fetcher = (path: string, init: RequestInit) => Promise<Response>;

/** The request never got an HTTP reply (offline, DNS, CORS, Jupyter server down). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A reply that does not have the shape the API promises (version skew between extension and server). */
export class InvalidResponseError extends Error {
  override readonly name = 'InvalidResponseError';
  constructor(
    readonly path: string,
    readonly issues: string,
  ) {
    super(`unexpected reply from the Cellpipe server for ${path}: ${issues}`);
  }
}

/** Human-readable text for any error the client throws, for dialogs and the monitor's banner. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.unauthorized) return `The Cellpipe server refused the token (401): ${err.message}`;
    if (err.unreachable) return `The Cellpipe server is unreachable: ${err.message}`;
    if (err.noApi) {
      return 'No Cellpipe API at this address: is the cellpipe_jupyterlab server extension enabled in this Jupyter server (jupyter server extension list), or is the serverUrl setting right?';
    }
    return err.message;
  }
  if (err instanceof NetworkError) return `Cannot reach the Jupyter server: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** The shared ApiError for a non-OK reply (the server's code, message and field details when it sent them). */
async function responseError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  return apiErrorFromReply(response.status, response.statusText, text);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Serialised as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** The job list's filters, in the API's terms (`state=a,b`, `q`, `user`, `since`/`until` ISO times). */
export interface JobListFilter {
  states?: readonly JobState[];
  user?: string;
  q?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export class CellpipeClient {
  constructor(private readonly fetcher: Fetcher) {}

  /** The raw reply of a request (already checked to be OK), for text and streamed bodies. */
  async requestRaw(path: string, options: RequestOptions = {}): Promise<Response> {
    const init: RequestInit = { method: options.method ?? 'GET', signal: options.signal };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await this.fetcher(path, init);
    } catch (err) {
      if (err instanceof NetworkError || (err instanceof Error && err.name === 'AbortError')) throw err;
      throw new NetworkError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (!response.ok) throw await responseError(response);
    return response;
  }

  /**
   * A JSON request whose reply is parsed with `schema` (`null` for replies without a body, 204).
   *
   * @throws {ApiError} on a non-OK reply, with the server's message and code.
   * @throws {NetworkError} when no reply came.
   * @throws {InvalidResponseError} when the reply does not match `schema`.
   */
  async requestAPI<S extends z.ZodType>(path: string, schema: S, options?: RequestOptions): Promise<z.output<S>>;
  async requestAPI(path: string, schema: null, options?: RequestOptions): Promise<void>;
  async requestAPI<S extends z.ZodType>(
    path: string,
    schema: S | null,
    options: RequestOptions = {},
  ): Promise<z.output<S> | void> {
    const response = await this.requestRaw(path, options);
    if (schema === null) return;
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidResponseError(path, 'the body is not JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new InvalidResponseError(path, formatIssues(parsed.error));
    return parsed.data;
  }

  me(): Promise<Me> {
    return this.requestAPI('api/me', MeSchema);
  }

  /** A page of jobs, newest first, filtered on the server (the query's names are the API's). */
  listJobs(query: JobListFilter = {}): Promise<JobList> {
    const params = new URLSearchParams();
    if (query.states?.length) params.set('state', query.states.join(','));
    if (query.user) params.set('user', query.user);
    if (query.q?.trim()) params.set('q', query.q.trim());
    if (query.since) params.set('since', query.since);
    if (query.until) params.set('until', query.until);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    const qs = params.toString();
    return this.requestAPI(`api/jobs${qs ? `?${qs}` : ''}`, JobListSchema);
  }

  activity(): Promise<Activity> {
    return this.requestAPI('api/activity', ActivitySchema);
  }

  /** What a re-run of `jobId` with this notebook would reuse, and why the other tasks run again. */
  rerunPlan(jobId: string, request: SubmitJobRequest): Promise<RerunPlan> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(jobId)}/rerun-plan`, RerunPlanSchema, {
      method: 'POST',
      body: request,
    });
  }

  /** Re-runs `jobId` with this notebook, reusing the tasks the plan says are unchanged. */
  rerunWithChanges(jobId: string, request: SubmitJobRequest): Promise<Job> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(jobId)}/rerun-changes`, JobSchema, {
      method: 'POST',
      body: request,
    });
  }

  getJob(id: string): Promise<Job> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(id)}`, JobSchema);
  }

  submitJob(request: SubmitJobRequest): Promise<Job> {
    return this.requestAPI('api/jobs', JobSchema, { method: 'POST', body: request });
  }

  cancelJob(id: string): Promise<Job> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(id)}/cancel`, JobSchema, { method: 'POST', body: {} });
  }

  /** Cancels one task of a job; its downstream is skipped, the rest goes on under the failure policy. */
  cancelTask(id: string, task: string): Promise<Job> {
    return this.requestAPI(this.taskPath(id, task, 'cancel'), JobSchema, { method: 'POST', body: {} });
  }

  rerunJob(id: string, mode: 'all' | 'failed'): Promise<Job> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(id)}/rerun`, JobSchema, { method: 'POST', body: { mode } });
  }

  deleteJob(id: string): Promise<void> {
    return this.requestAPI(`api/jobs/${encodeURIComponent(id)}`, null, { method: 'DELETE' });
  }

  inventory(): Promise<Inventory> {
    return this.requestAPI('api/inventory', InventorySchema);
  }

  /** Path of a task's sub-resource: `logs`, `notebook`, `result`, `artifacts/<path>`. */
  taskPath(jobId: string, task: string, what: string): string {
    return `api/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(task)}/${what}`;
  }

  /** A task's executed notebook as nbformat JSON. */
  async executedNotebook(jobId: string, task: string): Promise<Record<string, unknown>> {
    const response = await this.requestRaw(this.taskPath(jobId, task, 'notebook'));
    const parsed = z.record(z.string(), z.unknown()).safeParse(await response.json().catch(() => null));
    if (!parsed.success) throw new InvalidResponseError('notebook', 'the executed notebook is not JSON');
    return parsed.data;
  }

  /** A file a task wrote, as a Blob. */
  async artifact(jobId: string, task: string, path: string): Promise<Blob> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    const response = await this.requestRaw(this.taskPath(jobId, task, `artifacts/${encoded}`));
    return response.blob();
  }

  /**
   * Streams a task's log: calls `onText` with each decoded chunk until the server ends the reply
   * (with `follow`, when the task ends) or `signal` aborts.
   */
  async streamLogs(
    jobId: string,
    task: string,
    options: { follow: boolean; signal?: AbortSignal; onText: (text: string) => void },
  ): Promise<void> {
    const path = this.taskPath(jobId, task, options.follow ? 'logs?follow=1' : 'logs');
    const response = await this.requestRaw(path, { signal: options.signal });
    const decoder = new TextDecoder();
    if (!response.body) {
      options.onText(await response.text());
      return;
    }
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        options.onText(decoder.decode(value, { stream: true }));
      }
      const rest = decoder.decode();
      if (rest) options.onText(rest);
    } finally {
      reader.releaseLock();
    }
  }
}
