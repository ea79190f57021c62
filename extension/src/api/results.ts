/** Task results across the runs of a pipeline, over the extension's one HTTP client. */
import { PipelineResultsSchema, type PipelineResults } from '@cellpipe/schema';
import type { CellpipeClient } from './client.js';

export class ResultsClient {
  constructor(private readonly client: CellpipeClient) {}

  /** The results of the caller's runs of pipeline `name`, newest first. */
  pipelineResults(name: string, limit = 50): Promise<PipelineResults> {
    return this.client.requestAPI(
      `api/pipelines/${encodeURIComponent(name)}/results?limit=${limit}`,
      PipelineResultsSchema,
    );
  }
}
