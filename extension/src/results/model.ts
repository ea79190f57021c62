/**
 * What the Results tab shows: the pipelines one can compare (saved ones and those the user's jobs
 * ran), the chosen one, and the results of its runs from the server.
 */
import type { PipelineResults, ResultValue } from '@cellpipe/schema';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError } from '../api/client.js';
import type { CatalogClient } from '../api/catalog.js';
import type { ResultsClient } from '../api/results.js';
import type { ICellpipeJobs } from '../tokens.js';

export class ResultsModel {
  pipelines: string[] = [];
  selected: string | null = null;
  results: PipelineResults | null = null;
  error: string | null = null;
  loading = false;
  private readonly _changed = new Signal<this, void>(this);
  private _seen = '';

  constructor(
    private readonly client: ResultsClient,
    private readonly catalog: CatalogClient,
    private readonly jobs: ICellpipeJobs,
  ) {
    // A run of the chosen pipeline ended: its results are new.
    jobs.jobEnded.connect((_, job) => {
      if (job.pipelineRef?.name === this.selected) void this.load();
    }, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  dispose(): void {
    Signal.clearData(this);
  }

  /** Saved pipelines and the pipelines of the jobs this page knows, by name. */
  async refresh(): Promise<void> {
    const names = new Set(this.jobs.summaries().flatMap((j) => (j.pipelineRef ? [j.pipelineRef.name] : [])));
    try {
      for (const p of (await this.catalog.listPipelines()).items) names.add(p.name);
    } catch (err) {
      this.error = describeError(err);
    }
    const seen = [...names].sort().join(',');
    if (seen !== this._seen) {
      this._seen = seen;
      this.pipelines = [...names].sort();
      this._changed.emit();
    }
    if (this.selected) await this.load();
  }

  async select(name: string | null): Promise<void> {
    this.selected = name;
    this.results = null;
    if (name && !this.pipelines.includes(name)) this.pipelines = [...this.pipelines, name].sort();
    this._changed.emit();
    if (name) await this.load();
  }

  private async load(): Promise<void> {
    const name = this.selected;
    if (!name) return;
    this.loading = true;
    this._changed.emit();
    try {
      const results = await this.client.pipelineResults(name);
      if (this.selected === name) {
        this.results = results;
        this.error = null;
      }
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.loading = false;
      this._changed.emit();
    }
  }

  /** One result's values over the runs, oldest first (undefined where a run has none). */
  series(task: string, name: string): (ResultValue | undefined)[] {
    return [...(this.results?.runs ?? [])].reverse().map((r) => r.results[task]?.[name]);
  }
}
