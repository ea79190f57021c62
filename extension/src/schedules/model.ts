/**
 * What the Schedules and Pipelines tabs show, kept fresh: the schedules (on a Poll, and at once when
 * a job a schedule started changes), the selected schedule's history, the pipelines and a diff.
 */
import type { PipelineDiff, PipelineSummary, PipelineVersion, ScheduleDetail, ScheduleRun } from '@cellpipe/schema';
import { Poll } from '@lumino/polling';
import { Signal, type ISignal } from '@lumino/signaling';
import { describeError } from '../api/client.js';
import type { CatalogClient } from '../api/catalog.js';
import type { ICellpipeJobs } from '../tokens.js';

const REFRESH_MS = 5000;

export class SchedulesModel {
  schedules: ScheduleDetail[] = [];
  selected: string | null = null;
  history: ScheduleRun[] = [];
  pipelines: PipelineSummary[] = [];
  pipeline: string | null = null;
  versions: PipelineVersion[] = [];
  diff: PipelineDiff | null = null;
  error: string | null = null;
  busy = false;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _poll: Poll;
  private _jobsSeen = '';

  constructor(
    readonly catalog: CatalogClient,
    jobs: ICellpipeJobs,
  ) {
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: REFRESH_MS, backoff: true, max: 60_000 },
      standby: 'when-hidden',
    });
    // A job a schedule started appeared or changed state: the schedules' last outcomes changed.
    jobs.changed.connect(() => {
      const seen = jobs
        .summaries()
        .filter((j) => j.scheduleId)
        .map((j) => `${j.id}:${j.state}`)
        .join(',');
      if (seen !== this._jobsSeen) {
        this._jobsSeen = seen;
        void this._poll.refresh();
      }
    }, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  async refresh(): Promise<void> {
    try {
      const [schedules, pipelines] = await Promise.all([this.catalog.listSchedules(), this.catalog.listPipelines()]);
      this.schedules = schedules.items;
      this.pipelines = pipelines.items;
      if (this.selected) this.history = (await this.catalog.history(this.selected)).items;
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    }
    this._changed.emit();
  }

  async select(id: string | null): Promise<void> {
    this.selected = id;
    this.history = [];
    this._changed.emit();
    if (id) await this.run(async () => void (this.history = (await this.catalog.history(id)).items));
  }

  async selectPipeline(name: string | null): Promise<void> {
    this.pipeline = name;
    this.versions = [];
    this.diff = null;
    this._changed.emit();
    if (name) await this.run(async () => void (this.versions = (await this.catalog.versions(name)).items));
  }

  async showDiff(from: number, to: number): Promise<void> {
    const name = this.pipeline;
    if (!name) return;
    await this.run(async () => void (this.diff = await this.catalog.diff(name, from, to)));
  }

  /** Runs an action, shows its error, and refreshes. */
  async run(action: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    this._changed.emit();
    try {
      await action();
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }
}
