/**
 * Saved pipelines and schedules over the extension's one HTTP client: every reply is parsed with the
 * schema the server answers with.
 */
import {
  JobSchema,
  PipelineDiffSchema,
  PipelineListSchema,
  PipelineVersionListSchema,
  SavePipelineResultSchema,
  ScheduleDetailSchema,
  ScheduleHistorySchema,
  ScheduleListSchema,
  SchedulePreviewSchema,
  type CreateScheduleInput,
  type Job,
  type PipelineDiff,
  type PipelineList,
  type PipelineVersionList,
  type SavePipelineRequest,
  type SavePipelineResult,
  type ScheduleDetail,
  type ScheduleHistory,
  type ScheduleList,
  type SchedulePreview,
  type SchedulePreviewRequest,
  type UpdateScheduleRequest,
} from '@cellpipe/schema';
import type { CellpipeClient } from './client.js';

const enc = encodeURIComponent;

export class CatalogClient {
  constructor(private readonly client: CellpipeClient) {}

  savePipeline(request: SavePipelineRequest): Promise<SavePipelineResult> {
    return this.client.requestAPI('api/pipelines', SavePipelineResultSchema, { method: 'POST', body: request });
  }

  listPipelines(): Promise<PipelineList> {
    return this.client.requestAPI('api/pipelines', PipelineListSchema);
  }

  versions(name: string): Promise<PipelineVersionList> {
    return this.client.requestAPI(`api/pipelines/${enc(name)}/versions`, PipelineVersionListSchema);
  }

  diff(name: string, from: number, to: number): Promise<PipelineDiff> {
    return this.client.requestAPI(`api/pipelines/${enc(name)}/diff?from=${from}&to=${to}`, PipelineDiffSchema);
  }

  runVersion(name: string, version: number): Promise<Job> {
    return this.client.requestAPI(`api/pipelines/${enc(name)}/versions/${version}/run`, JobSchema, {
      method: 'POST',
      body: {},
    });
  }

  listSchedules(): Promise<ScheduleList> {
    return this.client.requestAPI('api/schedules', ScheduleListSchema);
  }

  createSchedule(request: CreateScheduleInput): Promise<ScheduleDetail> {
    return this.client.requestAPI('api/schedules', ScheduleDetailSchema, { method: 'POST', body: request });
  }

  updateSchedule(id: string, patch: UpdateScheduleRequest): Promise<ScheduleDetail> {
    return this.client.requestAPI(`api/schedules/${enc(id)}`, ScheduleDetailSchema, { method: 'PATCH', body: patch });
  }

  pauseSchedule(id: string): Promise<ScheduleDetail> {
    return this.client.requestAPI(`api/schedules/${enc(id)}/pause`, ScheduleDetailSchema, { method: 'POST', body: {} });
  }

  resumeSchedule(id: string): Promise<ScheduleDetail> {
    return this.client.requestAPI(`api/schedules/${enc(id)}/resume`, ScheduleDetailSchema, {
      method: 'POST',
      body: {},
    });
  }

  deleteSchedule(id: string): Promise<void> {
    return this.client.requestAPI(`api/schedules/${enc(id)}`, null, { method: 'DELETE' });
  }

  history(id: string, limit = 50): Promise<ScheduleHistory> {
    return this.client.requestAPI(`api/schedules/${enc(id)}/history?limit=${limit}`, ScheduleHistorySchema);
  }

  /** Fire times from the scheduler's own function. */
  preview(request: Partial<SchedulePreviewRequest>): Promise<SchedulePreview> {
    return this.client.requestAPI('api/schedules/preview', SchedulePreviewSchema, { method: 'POST', body: request });
  }
}
