/**
 * Saved pipelines: save (a new immutable version unless the content is identical), list, versions,
 * show, diff, export to one self-contained YAML document, import it, and run any version.
 */
import {
  API_VERSION,
  PIPELINE_EXPORT_KIND,
  PipelineExportSchema,
  type Bundle,
  type ImportPipelineRequest,
  type Job,
  type PipelineDiff,
  type PipelineSummary,
  type PipelineVersion,
  type PipelineVersionDetail,
  type RunVersionRequest,
  type SavePipelineRequest,
  type SavePipelineResult,
  type Schedule,
} from '@cellpipe/schema';
import { parseDocument, stringify } from 'yaml';
import { ConflictError, NotFoundError, ValidationError } from '../jobs/errors.js';
import { freezeJob, type Compiler } from '../jobs/freeze.js';
import type { JobServiceApi, NotifyCheck } from '../jobs/job-service.js';
import type { NewVersion, PipelineStore, StoredVersionDetail } from '../store/pipeline-store.js';
import { bundleHash, bundleOfRequest } from './bundle.js';
import { diffBundles } from './diff.js';

/** Applies a saved bundle's `spec.schedule` (see README "Schedules"); returns what it did. */
export type SpecScheduleHook = (
  owner: string,
  pipeline: string,
  schedule: Schedule,
) => Promise<NonNullable<SavePipelineResult['schedule']>>;

export interface PipelineServiceOptions {
  store: PipelineStore;
  jobs: Pick<JobServiceApi, 'submit' | 'limits'>;
  compiler?: Compiler;
  now?: () => Date;
  /** Checks that `spec.notify` names only targets the saver may use. */
  checkNotify?: NotifyCheck;
}

export class PipelineService {
  private readonly store: PipelineStore;
  private readonly jobs: Pick<JobServiceApi, 'submit' | 'limits'>;
  private readonly compiler?: Compiler;
  private readonly now: () => Date;
  private readonly checkNotify: NotifyCheck;
  /** Set by the schedule service once both exist. */
  specScheduleHook?: SpecScheduleHook;
  /** The names of `owner`'s schedules that run pipeline `name` (set with the schedule service). */
  schedulesUsing?: (owner: string, name: string) => string[];

  constructor(options: PipelineServiceOptions) {
    this.store = options.store;
    this.jobs = options.jobs;
    this.compiler = options.compiler;
    this.now = options.now ?? (() => new Date());
    this.checkNotify = options.checkNotify ?? (() => undefined);
  }

  /** Checks the bundle the way a run would (compile, graph, task code) before storing it. */
  async save(owner: string, request: SavePipelineRequest): Promise<SavePipelineResult> {
    const { name: requested, message, labels, dryRun, ...content } = request;
    const frozen = freezeJob(content, {
      limits: this.jobs.limits,
      ...(this.compiler ? { compiler: this.compiler } : {}),
    });
    const bundle = bundleOfRequest(frozen.pipeline, content);
    this.checkNotify(
      owner,
      bundle.pipeline.spec.notify,
      content.notebook ? ['notebook', 'content', 'metadata', 'cellpipe', 'notify'] : ['pipeline', 'spec', 'notify'],
    );
    const name = requested ?? bundle.pipeline.metadata.name;
    const next = {
      hash: bundleHash(bundle),
      author: owner,
      createdAt: this.now().toISOString(),
      message: message ?? '',
      tasks: bundle.pipeline.spec.tasks.map((t) => t.name),
      bundle,
    };
    if (dryRun) return this.dryRun(owner, name, next, labels);
    const { version, created } = this.store.saveVersion(owner, name, next, labels);
    const result: SavePipelineResult = { version, created };
    const saved = this.store.labels(owner, name);
    if (saved) result.labels = saved;
    const schedule = bundle.pipeline.spec.schedule;
    if (schedule && this.specScheduleHook) result.schedule = await this.specScheduleHook(owner, name, schedule);
    return result;
  }

  /** What a save would do: the version it would make (or match), the labels, the change from the latest. */
  private dryRun(owner: string, name: string, next: NewVersion, labels?: Record<string, string>): SavePipelineResult {
    const kept = labels ?? this.store.labels(owner, name);
    const result = (version: PipelineVersion, created: boolean): SavePipelineResult => ({
      version,
      created,
      dryRun: true,
      ...(kept && Object.keys(kept).length ? { labels: kept } : {}),
    });
    const existing = this.store.findByHash(owner, name, next.hash);
    if (existing) return result(existing, false);
    const latest = this.store.getVersion(owner, name, 'latest');
    const { bundle, ...fields } = next;
    const out = result({ ...fields, name, owner, version: (latest?.version ?? 0) + 1 }, true);
    if (latest) out.diff = diffBundles(name, latest.version, latest.bundle, latest.version + 1, bundle);
    return out;
  }

  list(owner?: string): PipelineSummary[] {
    return this.store.listPipelines(owner).map((p) => ({
      name: p.name,
      owner: p.owner,
      versions: p.versions,
      latest: p.latest,
      createdAt: p.createdAt,
      ...(p.labels ? { labels: p.labels } : {}),
    }));
  }

  /**
   * Deletes a pipeline with all its versions (jobs keep what they ran). Refused while a schedule runs
   * it: the schedules are named, to delete or change first.
   */
  remove(owner: string, name: string): void {
    const users = this.schedulesUsing?.(owner, name) ?? [];
    if (users.length) {
      throw new ConflictError(
        `pipeline '${name}' is run by schedule${users.length > 1 ? 's' : ''} ${users.join(', ')}: delete ${users.length > 1 ? 'them' : 'it'} first`,
      );
    }
    if (!this.store.deletePipeline(owner, name)) throw new NotFoundError(`no saved pipeline '${name}'`);
  }

  versions(owner: string, name: string): PipelineVersion[] {
    const versions = this.store.versions(owner, name);
    if (!versions.length) throw new NotFoundError(`no saved pipeline '${name}'`);
    return versions;
  }

  /** NotFoundError naming the missing pipeline or version. */
  version(owner: string, name: string, version: number | 'latest'): PipelineVersionDetail {
    return this.mustGet(owner, name, version);
  }

  private mustGet(owner: string, name: string, version: number | 'latest'): StoredVersionDetail {
    const v = this.store.getVersion(owner, name, version);
    if (v) return v;
    const newest = this.store.getVersion(owner, name, 'latest');
    if (!newest) throw new NotFoundError(`no saved pipeline '${name}'`);
    throw new NotFoundError(`pipeline '${name}' has no version ${version} (versions 1 to ${newest.version})`);
  }

  diff(owner: string, name: string, from: number | 'latest', to: number | 'latest'): PipelineDiff {
    const a = this.mustGet(owner, name, from);
    const b = this.mustGet(owner, name, to);
    return diffBundles(name, a.version, a.bundle, b.version, b.bundle);
  }

  /** One YAML document holding the spec and the text of every file it runs. */
  export(owner: string, name: string, version: number | 'latest'): string {
    const v = this.mustGet(owner, name, version);
    const doc = {
      apiVersion: API_VERSION,
      kind: PIPELINE_EXPORT_KIND,
      metadata: {
        name: v.name,
        version: v.version,
        hash: v.hash,
        author: v.author,
        createdAt: v.createdAt,
        message: v.message,
      },
      pipeline: v.bundle.pipeline,
      files: v.bundle.files,
    };
    // Block scalars keep notebooks and scripts readable (and diffable) inside the document.
    return stringify(doc, { blockQuote: 'literal', lineWidth: 0 });
  }

  /** Save an exported document as a version of `name` (default: the name it was exported under). */
  async import(owner: string, request: ImportPipelineRequest): Promise<SavePipelineResult> {
    const doc = parseDocument(request.yaml);
    if (doc.errors.length) {
      throw new ValidationError(`not valid YAML: ${doc.errors[0]!.message}`, ['yaml']);
    }
    const parsed = PipelineExportSchema.safeParse(doc.toJS());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = ['yaml', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      throw new ValidationError(`${path.slice(1).join('.') || 'document'}: ${issue.message}`, path);
    }
    const { metadata, pipeline, files } = parsed.data;
    const from = metadata.version !== undefined ? ` version ${metadata.version}` : '';
    return this.save(owner, {
      pipeline,
      files,
      name: request.name ?? metadata.name,
      message: request.message ?? `imported ${metadata.name}${from}${metadata.message ? `: ${metadata.message}` : ''}`,
    });
  }

  async run(owner: string, name: string, version: number | 'latest', request: RunVersionRequest): Promise<Job> {
    const v = this.mustGet(owner, name, version);
    return this.jobs.submit(owner, runRequest(v.bundle, request), {
      pipelineRef: { name: v.name, version: v.version, hash: v.hash },
    });
  }
}

export function runRequest(bundle: Bundle, request: RunVersionRequest) {
  return {
    pipeline: bundle.pipeline,
    files: bundle.files,
    ...(request.parameters && Object.keys(request.parameters).length ? { parameters: request.parameters } : {}),
    ...(request.name ? { name: request.name } : {}),
    ...(request.notify?.length ? { notify: request.notify } : {}),
  };
}
