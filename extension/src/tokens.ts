/** Tokens other plugins (and other extensions) depend on. */
import type { Activity, Inventory, Job, JobSummary, Me, NotebookCompileResult } from '@cellpipe/schema';
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { CellpipeClient } from './api/client.js';
import type { JobsState } from './jobs/state.js';
import type { IJobSection } from './monitor/jobSections.js';
import type { IMonitorTab } from './monitor/tabs.js';

export type { IJobSection, IMonitorTab };

/** The Cellpipe HTTP API (through the Jupyter server proxy, or a configured server URL). */
export interface ICellpipeAPI {
  readonly client: CellpipeClient;
  /** URL of the server-sent event stream (`/api/events`), authenticated for EventSource. */
  eventsUrl(query?: Record<string, string>): string;
  /** Emitted when the connection settings change (serverUrl edited). */
  readonly changed: ISignal<ICellpipeAPI, void>;
}

export const ICellpipeAPI = new Token<ICellpipeAPI>(
  '@cellpipe/jupyterlab:ICellpipeAPI',
  'The Cellpipe companion server API client.',
);

export type ConnectionStatus =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'error'; message: string; unreachable: boolean; unauthorized: boolean; noApi: boolean };

/** Jobs as the browser knows them, kept live from `/api/events`. */
export interface ICellpipeJobs {
  readonly state: JobsState;
  readonly connection: ConnectionStatus;
  /** The user's running and waiting tasks and running and pending jobs (null until first loaded). */
  readonly activity: Activity | null;
  /** Who holds and who waits for each GPU/MIG resource, live (null until first loaded). */
  readonly inventory: Inventory | null;
  /** Who the server says this user is (null until connected). */
  readonly me: Me | null;
  /** Emitted on every change of `state`, `connection`, `activity` or `inventory`. */
  readonly changed: ISignal<ICellpipeJobs, void>;
  /** Emitted when a job this page saw unfinished ends (succeeded, failed or cancelled). */
  readonly jobEnded: ISignal<ICellpipeJobs, JobSummary>;
  /** Fetches (and from then on keeps live) one job's detail. */
  loadJob(id: string): Promise<Job>;
  /** Refetches the newest jobs, the held details, the activity and the inventory. */
  refresh(): Promise<void>;
  /** Refetches the inventory. */
  refreshInventory(): Promise<void>;
  /** Records the notebook a job was submitted from, to open it at a failing cell later. */
  rememberSource(jobId: string, notebookPath: string): void;
  sourceOf(jobId: string): string | undefined;
  /** Adds a job the caller just created (before its first event arrives). */
  add(job: Job): void;
  summaries(): readonly JobSummary[];
}

export const ICellpipeJobs = new Token<ICellpipeJobs>(
  '@cellpipe/jupyterlab:ICellpipeJobs',
  'Live list of Cellpipe jobs and their tasks.',
);

/** The current notebook's pipeline as compiled live (the task editor reads where a cell stands from it). */
export interface ICellpipePipeline {
  readonly path: string | null;
  readonly result: NotebookCompileResult | null;
  readonly changed: ISignal<unknown, void>;
}

export const ICellpipePipeline = new Token<ICellpipePipeline>(
  '@cellpipe/jupyterlab:ICellpipePipeline',
  "The current notebook's pipeline, compiled live.",
);

/** Opens the job monitor (optionally on one job), and takes the tabs other plugins add to it. */
export interface ICellpipeMonitor {
  /** Shows the monitor's Jobs tab, with `jobId` selected when given. */
  open(jobId?: string): Promise<void>;
  /** Shows the monitor on one of its tabs (`jobs`, `resources`, or a tab another plugin added). */
  openTab(tabId: string): Promise<void>;
  /**
   * Adds a tab (e.g. schedules, pipelines). Tabs are ordered by rank: Jobs is 100, Resources 200.
   * Dispose the result to remove the tab.
   */
  addTab(tab: IMonitorTab): IDisposable;
  /** Adds a section to every job's view, below its tasks (results, notifications). Dispose it to remove it. */
  addJobSection(section: IJobSection): IDisposable;
}

export const ICellpipeMonitor = new Token<ICellpipeMonitor>(
  '@cellpipe/jupyterlab:ICellpipeMonitor',
  'Opens the Cellpipe job monitor.',
);

export const CommandIDs = {
  runPipeline: 'cellpipe:run-pipeline',
  openMonitor: 'cellpipe:open-monitor',
  runFileAsTask: 'cellpipe:run-file-as-task',
  cancelJob: 'cellpipe:cancel-job',
  cancelTask: 'cellpipe:cancel-task',
  rerunJob: 'cellpipe:rerun-job',
  rerunFailed: 'cellpipe:rerun-failed',
  rerunWithChanges: 'cellpipe:rerun-with-changes',
  openTaskEditor: 'cellpipe:open-task-editor',
  makeCellTask: 'cellpipe:make-cell-task',
  openPipelineGraph: 'cellpipe:open-pipeline-graph',
  openInventory: 'cellpipe:open-inventory',
  openAtCell: 'cellpipe:open-notebook-at-cell',
  scheduleNotebook: 'cellpipe:schedule-notebook',
  openJobLink: 'cellpipe:open-job-link',
  compareResults: 'cellpipe:compare-results',
} as const;

export const PLUGIN_PREFIX = '@cellpipe/jupyterlab';
