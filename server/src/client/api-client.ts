/**
 * Typed client of the Cellpipe HTTP API (used by the CLI). Every response is parsed with the wire
 * schemas from @cellpipe/schema, so a mismatched server fails loudly here rather than deep in a caller.
 */
import {
  ApiError,
  apiErrorFromReply,
  AuditListSchema,
  InventorySchema,
  JobListSchema,
  JobSchema,
  JobSummarySchema,
  MeSchema,
  PipelineDiffSchema,
  PipelineListSchema,
  PipelineResultsSchema,
  DeliveryListSchema,
  TargetListSchema,
  TargetTestResultSchema,
  TargetWithSecretSchema,
  PipelineVersionDetailSchema,
  PipelineVersionListSchema,
  SavePipelineResultSchema,
  ScheduleDetailSchema,
  ScheduleHistorySchema,
  ScheduleListSchema,
  SchedulePreviewSchema,
  TaskEventSchema,
  type AuditList,
  type AuditResult,
  type CreateScheduleInput,
  type ImportPipelineRequest,
  type PipelineDiff,
  type PipelineList,
  type PipelineResults,
  type CreateTargetInput,
  type DeliveryList,
  type TargetList,
  type TargetTestResult,
  type TargetWithSecret,
  type UpdateTargetRequest,
  type PipelineVersionDetail,
  type PipelineVersionList,
  type RunVersionRequest,
  type SavePipelineRequest,
  type SavePipelineResult,
  type ScheduleDetail,
  type ScheduleHistory,
  type ScheduleList,
  type SchedulePreview,
  type SchedulePreviewRequest,
  type UpdateScheduleRequest,
  type Inventory,
  type Job,
  type JobList,
  type JobState,
  type JobSummary,
  type Me,
  type SubmitJobRequest,
  type TaskEvent,
} from '@cellpipe/schema';
import { z } from 'zod';

export { ApiError };

/** Filters of the audit log (GET /api/audit). */
export type AuditParams = {
  user?: string;
  /** Text the action contains. */
  action?: string;
  result?: AuditResult;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
};

export type ServerEvent = { type: 'job'; job: JobSummary } | { type: 'task'; event: TaskEvent };

export interface ClientOptions {
  url: string;
  token?: string;
}

const HealthSchema = z.object({ ok: z.boolean(), version: z.string() });

export class CellpipeClient {
  readonly url: string;
  private readonly token?: string;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: this.headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(
        0,
        'unreachable',
        `cannot reach the cellpipe server at ${this.url}: ${(err as Error).message}`,
      );
    }
    if (!res.ok) throw await toApiError(res);
    return res;
  }

  private async json<T>(schema: z.ZodType<T>, method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    return schema.parse(await res.json());
  }

  health(): Promise<z.infer<typeof HealthSchema>> {
    return this.json(HealthSchema, 'GET', '/healthz');
  }
  me(): Promise<Me> {
    return this.json(MeSchema, 'GET', '/api/me');
  }
  submit(request: SubmitJobRequest): Promise<Job> {
    return this.json(JobSchema, 'POST', '/api/jobs', request);
  }
  listJobs(params: { state?: JobState; user?: string; limit?: number; cursor?: string } = {}): Promise<JobList> {
    return this.json(JobListSchema, 'GET', `/api/jobs${query(params)}`);
  }
  /** The audit log, newest first (admins only). */
  audit(params: AuditParams = {}): Promise<AuditList> {
    return this.json(AuditListSchema, 'GET', `/api/audit${query(params)}`);
  }
  getJob(id: string): Promise<Job> {
    return this.json(JobSchema, 'GET', `/api/jobs/${encodeURIComponent(id)}`);
  }
  cancel(id: string): Promise<Job> {
    return this.json(JobSchema, 'POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, {});
  }
  /** Cancel one task of a job; 409 when it already ended. */
  cancelTask(id: string, task: string): Promise<Job> {
    return this.json(
      JobSchema,
      'POST',
      `/api/jobs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/cancel`,
      {},
    );
  }
  rerun(id: string, mode: 'all' | 'failed'): Promise<Job> {
    return this.json(JobSchema, 'POST', `/api/jobs/${encodeURIComponent(id)}/rerun`, { mode });
  }
  async remove(id: string): Promise<void> {
    await this.request('DELETE', `/api/jobs/${encodeURIComponent(id)}`);
  }
  /** A job's notifications, each with its delivery attempts. */
  deliveries(id: string): Promise<DeliveryList> {
    return this.json(DeliveryListSchema, 'GET', `/api/jobs/${encodeURIComponent(id)}/notifications`);
  }
  listTargets(user?: string): Promise<TargetList> {
    return this.json(TargetListSchema, 'GET', `/api/notifications/targets${query({ user })}`);
  }
  createTarget(request: CreateTargetInput): Promise<TargetWithSecret> {
    return this.json(TargetWithSecretSchema, 'POST', '/api/notifications/targets', request);
  }
  updateTarget(ref: string, request: UpdateTargetRequest): Promise<TargetWithSecret> {
    return this.json(TargetWithSecretSchema, 'PATCH', `/api/notifications/targets/${encodeURIComponent(ref)}`, request);
  }
  async deleteTarget(ref: string): Promise<void> {
    await this.request('DELETE', `/api/notifications/targets/${encodeURIComponent(ref)}`);
  }
  testTarget(ref: string): Promise<TargetTestResult> {
    return this.json(TargetTestResultSchema, 'POST', `/api/notifications/targets/${encodeURIComponent(ref)}/test`, {});
  }
  /** Whether a task's executed notebook (or result) exists: false when the task never wrote one. */
  async hasTaskFile(id: string, task: string, which: 'notebook' | 'result'): Promise<boolean> {
    try {
      await this.request('HEAD', `/api/jobs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/${which}`);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }
  inventory(): Promise<Inventory> {
    return this.json(InventorySchema, 'GET', '/api/inventory');
  }

  // ---- saved pipelines

  savePipeline(request: SavePipelineRequest): Promise<SavePipelineResult> {
    return this.json(SavePipelineResultSchema, 'POST', '/api/pipelines', request);
  }
  importPipeline(request: ImportPipelineRequest): Promise<SavePipelineResult> {
    return this.json(SavePipelineResultSchema, 'POST', '/api/pipelines/import', request);
  }
  /** Deletes a saved pipeline and all its versions (refused while a schedule runs it). */
  async deletePipeline(name: string): Promise<void> {
    await this.request('DELETE', `/api/pipelines/${encodeURIComponent(name)}`);
  }
  listPipelines(user?: string): Promise<PipelineList> {
    return this.json(PipelineListSchema, 'GET', `/api/pipelines${query({ user })}`);
  }
  pipelineVersions(name: string): Promise<PipelineVersionList> {
    return this.json(PipelineVersionListSchema, 'GET', `/api/pipelines/${encodeURIComponent(name)}/versions`);
  }
  pipelineVersion(name: string, version: number | 'latest'): Promise<PipelineVersionDetail> {
    return this.json(PipelineVersionDetailSchema, 'GET', versionPath(name, version));
  }
  /** The results of a pipeline's runs side by side, newest run first. */
  pipelineResults(
    name: string,
    params: { user?: string; state?: string; version?: number; limit?: number } = {},
  ): Promise<PipelineResults> {
    const path = `/api/pipelines/${encodeURIComponent(name)}/results${query(params)}`;
    return this.json(PipelineResultsSchema, 'GET', path);
  }
  diffPipeline(name: string, from: number | 'latest', to: number | 'latest'): Promise<PipelineDiff> {
    const path = `/api/pipelines/${encodeURIComponent(name)}/diff${query({ from, to })}`;
    return this.json(PipelineDiffSchema, 'GET', path);
  }
  async exportPipeline(name: string, version: number | 'latest'): Promise<string> {
    return (await this.request('GET', `${versionPath(name, version)}/export`)).text();
  }
  runVersion(name: string, version: number | 'latest', request: RunVersionRequest = {}): Promise<Job> {
    return this.json(JobSchema, 'POST', `${versionPath(name, version)}/run`, request);
  }

  // ---- schedules (`ref`: an id, or the name of one of the caller's schedules)

  createSchedule(request: CreateScheduleInput): Promise<ScheduleDetail> {
    return this.json(ScheduleDetailSchema, 'POST', '/api/schedules', request);
  }
  previewSchedule(request: Partial<SchedulePreviewRequest>): Promise<SchedulePreview> {
    return this.json(SchedulePreviewSchema, 'POST', '/api/schedules/preview', request);
  }
  listSchedules(user?: string): Promise<ScheduleList> {
    return this.json(ScheduleListSchema, 'GET', `/api/schedules${query({ user })}`);
  }
  getSchedule(ref: string): Promise<ScheduleDetail> {
    return this.json(ScheduleDetailSchema, 'GET', `/api/schedules/${encodeURIComponent(ref)}`);
  }
  updateSchedule(ref: string, patch: UpdateScheduleRequest): Promise<ScheduleDetail> {
    return this.json(ScheduleDetailSchema, 'PATCH', `/api/schedules/${encodeURIComponent(ref)}`, patch);
  }
  pauseSchedule(ref: string): Promise<ScheduleDetail> {
    return this.json(ScheduleDetailSchema, 'POST', `/api/schedules/${encodeURIComponent(ref)}/pause`, {});
  }
  resumeSchedule(ref: string, catchUp?: 'latest' | 'all'): Promise<ScheduleDetail> {
    const body = catchUp ? { catchUp } : {};
    return this.json(ScheduleDetailSchema, 'POST', `/api/schedules/${encodeURIComponent(ref)}/resume`, body);
  }
  async deleteSchedule(ref: string): Promise<void> {
    await this.request('DELETE', `/api/schedules/${encodeURIComponent(ref)}`);
  }
  scheduleHistory(ref: string, options: { limit?: number; cursor?: string } = {}): Promise<ScheduleHistory> {
    const path = `/api/schedules/${encodeURIComponent(ref)}/history${query(options)}`;
    return this.json(ScheduleHistorySchema, 'GET', path);
  }

  /** Log text chunks of a task (until it ends with follow). */
  async *logs(
    id: string,
    task: string,
    options: { follow?: boolean; attempt?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<string> {
    const qs = new URLSearchParams();
    if (options.follow) qs.set('follow', '1');
    if (options.attempt) qs.set('attempt', String(options.attempt));
    const s = qs.toString();
    const res = await this.request(
      'GET',
      `/api/jobs/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/logs${s ? `?${s}` : ''}`,
      undefined,
      options.signal,
    );
    if (!res.body) return;
    const decoder = new TextDecoder();
    for await (const chunk of res.body) yield decoder.decode(chunk as Uint8Array, { stream: true });
    const rest = decoder.decode();
    if (rest) yield rest;
  }

  /** Server-sent events, parsed and validated; ends when the signal aborts or the server closes. */
  async *events(options: { job?: string; signal?: AbortSignal } = {}): AsyncGenerator<ServerEvent> {
    const qs = options.job ? `?job=${encodeURIComponent(options.job)}` : '';
    const res = await this.request('GET', `/api/events${qs}`, undefined, options.signal);
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true }).replace(/\r\n?/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const ev = parseEventBlock(block);
          if (ev) yield ev;
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, String(v));
  const s = qs.toString();
  return s ? `?${s}` : '';
}

function versionPath(name: string, version: number | 'latest'): string {
  return `/api/pipelines/${encodeURIComponent(name)}/versions/${version}`;
}

function parseEventBlock(block: string): ServerEvent | undefined {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  const payload: unknown = JSON.parse(data.join('\n'));
  if (type === 'job') return { type: 'job', job: JobSummarySchema.parse(payload) };
  if (type === 'task') return { type: 'task', event: TaskEventSchema.parse(payload) };
  return undefined;
}

async function toApiError(res: Response): Promise<ApiError> {
  return apiErrorFromReply(res.status, res.statusText, await res.text().catch(() => ''));
}
