/**
 * Page objects for the Cellpipe parts of JupyterLab. Every id, accessible name and data attribute the
 * tests rely on lives here; they follow the extension's contract (team CONTRACTS.md, "JupyterLab
 * extension ↔ ui-tests").
 */
import { expect, type IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

export const PLUGIN_PREFIX = '@cellpipe/jupyterlab:';

export const Ids = {
  taskEditor: 'cellpipe-task-editor',
  pipeline: 'cellpipe-pipeline',
  monitor: 'cellpipe-monitor',
} as const;

export const Commands = {
  runPipeline: 'cellpipe:run-pipeline',
  openMonitor: 'cellpipe:open-monitor',
  runFileAsTask: 'cellpipe:run-file-as-task',
  openInventory: 'cellpipe:open-inventory',
  cancelJob: 'cellpipe:cancel-job',
  rerunJob: 'cellpipe:rerun-job',
  rerunFailed: 'cellpipe:rerun-failed',
} as const;

/** Task states that end a task or a job. */
export const FINAL_STATES = ['succeeded', 'failed', 'cancelled', 'skipped'] as const;

/** The badge JupyterLab shows on a tagged cell. */
export const BADGE = '.jp-cellpipe-Badge';

/**
 * Shows a sidebar panel through its tab (by accessible name). A click on the current tab would
 * collapse the sidebar, so a tab that is already selected with its panel visible is left alone.
 */
async function openSidebarTab(page: IJupyterLabPageFixture, name: string, panel: Locator): Promise<void> {
  const tab = page.getByRole('tab', { name, exact: true });
  if ((await tab.getAttribute('aria-selected')) === 'true' && (await panel.isVisible())) return;
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
  await expect(panel).toBeVisible();
}

/** The right-sidebar "Cellpipe Task" form for the active cell. */
export class TaskEditor {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get panel(): Locator {
    return this.page.locator(`#${Ids.taskEditor}`);
  }

  async open(): Promise<void> {
    await openSidebarTab(this.page, 'Cellpipe Task', this.panel);
  }

  field(
    name: 'Task name' | 'Depends on' | 'GPUs' | 'MIG profile' | 'CPU' | 'Memory' | 'Image' | 'Retries' | 'Timeout',
  ): Locator {
    return this.panel.getByLabel(name, { exact: true });
  }

  checkbox(name: 'Setup cell' | 'Skip cell'): Locator {
    return this.panel.getByRole('checkbox', { name, exact: true });
  }

  get apply(): Locator {
    return this.panel.getByRole('button', { name: 'Apply', exact: true });
  }

  get clear(): Locator {
    return this.panel.getByRole('button', { name: 'Clear', exact: true });
  }

  /** "Cell 5 · task stats · depends on generate via samples" */
  get context(): Locator {
    return this.panel.locator('.jp-cellpipe-TaskEditor-context');
  }

  /** The panel's confirmation line (Apply, edits applied when leaving a cell). */
  get status(): Locator {
    return this.panel.getByRole('status');
  }

  /** Fills the form for the active cell and applies it. */
  async tag(
    values: Partial<Record<'Task name' | 'Depends on' | 'GPUs' | 'CPU' | 'Memory' | 'Timeout', string>>,
  ): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      await this.field(name as keyof typeof values).fill(value);
    }
    await this.apply.click();
  }
}

/** The left-sidebar "Cellpipe Pipeline" panel: DAG, Problems, parameters, Run. */
export class PipelinePanel {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get panel(): Locator {
    return this.page.locator(`#${Ids.pipeline}`);
  }

  async open(): Promise<void> {
    await openSidebarTab(this.page, 'Cellpipe Pipeline', this.panel);
  }

  /** One node of the pipeline graph (`data-state` carries its last run's state). */
  task(name: string): Locator {
    return this.graph.locator(`svg g[data-task="${name}"]`);
  }

  get tasks(): Locator {
    return this.graph.locator('svg g[data-task]');
  }

  /** An edge of the graph, as "from->to". */
  edge(name: string): Locator {
    return this.graph.locator(`svg g[data-edge="${name}"]`);
  }

  /** The label drawn on an edge (the variables that flow along it). */
  edgeLabel(name: string): Locator {
    return this.edge(name).locator('text.jp-cellpipe-Dag-edgeLabel');
  }

  get graph(): Locator {
    return this.panel.getByRole('region', { name: 'Pipeline graph', exact: true });
  }

  /** The graph's SVG drawing (`data-direction`: TB in the sidebar, LR in the main area). */
  get drawing(): Locator {
    return this.graph.locator('svg.jp-cellpipe-Dag');
  }

  get problems(): Locator {
    return this.panel.getByRole('region', { name: 'Problems', exact: true });
  }

  /** A problem entry (a button carrying its message). */
  problem(message: string | RegExp): Locator {
    return this.problems.getByRole('button', { name: message });
  }

  get run(): Locator {
    return this.panel.getByRole('button', { name: 'Run as Pipeline', exact: true });
  }

  /** Clicks Run as Pipeline and returns the id of the job the server made. */
  async submit(): Promise<string> {
    const submitted = this.page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/cellpipe\/api\/jobs$/.test(new URL(r.url()).pathname),
    );
    await this.run.click();
    return ((await (await submitted).json()) as { id: string }).id;
  }

  get stayInNotebook(): Locator {
    return this.panel.getByRole('checkbox', { name: 'Stay in the notebook after Run' });
  }

  get schedule(): Locator {
    return this.panel.getByRole('button', { name: 'Schedule…', exact: true });
  }
}

/** The "Schedule…" dialog. */
export class ScheduleDialog {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get dialog(): Locator {
    return this.page.getByRole('dialog');
  }

  field(
    name: 'Name' | 'Runs' | 'Cron' | 'Time zone' | 'Every' | 'Version' | 'Pause after failed runs in a row',
  ): Locator {
    return this.dialog.getByLabel(name, { exact: true });
  }

  /** The next fire times the server computed. */
  get fires(): Locator {
    return this.dialog.getByRole('region', { name: 'Next fire times', exact: true }).getByRole('listitem');
  }

  get reading(): Locator {
    return this.dialog.getByLabel('In words', { exact: true });
  }

  get save(): Locator {
    return this.dialog.getByRole('button', { name: 'Save schedule', exact: true });
  }
}

/** The monitor's "Schedules" tab. */
export class SchedulesTab {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get tab(): Locator {
    return this.page.locator(`#${Ids.monitor} [data-tab="schedules"]`);
  }

  async open(): Promise<void> {
    await this.page.locator(`#${Ids.monitor}`).getByRole('tab', { name: 'Schedules', exact: true }).click();
    await this.tab.waitFor({ state: 'visible' });
  }

  row(name: string): Locator {
    return this.tab.locator(`tr[data-schedule="${name}"]`);
  }

  button(name: string, action: 'Pause' | 'Resume' | 'Edit' | 'Delete'): Locator {
    return this.row(name).getByRole('button', { name: action, exact: true });
  }
}

/** The monitor's "Resources" tab: who holds each GPU/MIG resource and who waits for one. */
export class ResourcesTab {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get tab(): Locator {
    return this.page.locator(`#${Ids.monitor} [data-tab="resources"]`);
  }

  async open(): Promise<void> {
    await this.page.evaluate(async (id) => {
      await window.jupyterapp.commands.execute(id);
    }, Commands.openInventory);
    await this.tab.waitFor({ state: 'visible' });
  }

  /** One resource's card, by its API name (`nvidia.com/mig-3g.20gb`). */
  resource(name: string): Locator {
    return this.tab.locator(`section[data-resource="${name}"]`);
  }

  holder(resource: string, jobId: string, task: string): Locator {
    return this.resource(resource).locator(`tr[data-holder="${jobId}/${task}"]`);
  }

  waiter(resource: string, jobId: string, task: string): Locator {
    return this.resource(resource).locator(`tr[data-waiter="${jobId}/${task}"]`);
  }
}

/** The main-area "Cellpipe Jobs" monitor. */
export class Monitor {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  get widget(): Locator {
    return this.page.locator(`#${Ids.monitor}`);
  }

  async open(): Promise<void> {
    await this.page.evaluate(async (id) => {
      await window.jupyterapp.commands.execute(id);
    }, Commands.openMonitor);
    await this.widget.waitFor({ state: 'visible' });
  }

  get jobList(): Locator {
    return this.widget.getByRole('region', { name: 'Jobs', exact: true });
  }

  /** The job list's region (filters, rows, bulk actions). */
  get list(): Locator {
    return this.jobList;
  }

  get search(): Locator {
    return this.jobList.getByRole('searchbox', { name: 'Search jobs by name, id or owner' });
  }

  /** A state toggle of the list's filters (its label is the state). */
  stateFilter(state: string): Locator {
    return this.jobList.getByRole('group', { name: 'States' }).getByRole('button', { name: state, exact: true });
  }

  /** The list's "Created" filter (Any time, Last hour, ...). */
  get createdFilter(): Locator {
    return this.jobList.getByRole('combobox', { name: 'Created' });
  }

  /** The list's owner filter (shown to admins). */
  get ownerFilter(): Locator {
    return this.jobList.getByRole('textbox', { name: 'Owner' });
  }

  /** "50 of 203 jobs" */
  get listSummary(): Locator {
    return this.jobList.locator('.jp-cellpipe-Monitor-listSummary [aria-live]');
  }

  /** The scrolling element of the (windowed) rows. */
  get rowList(): Locator {
    return this.jobList.getByRole('list', { name: 'Job list' });
  }

  /** The rows in the DOM (the list renders only those near the view). */
  get rows(): Locator {
    return this.jobList.locator('[data-job-id]');
  }

  /** A job's row in the list (`data-state` carries its state). */
  job(id: string): Locator {
    return this.widget.locator(`[data-job-id="${id}"]`);
  }

  /** Rows of jobs a schedule started. */
  scheduledJobs(scheduleId: string): Locator {
    return this.widget.locator(`[data-schedule-id="${scheduleId}"]`);
  }

  /** Shows a job's detail. */
  async select(id: string): Promise<void> {
    await this.job(id).getByRole('button').first().click();
    await this.detail.getByText(id, { exact: true }).first().waitFor();
  }

  get detail(): Locator {
    return this.widget.getByRole('region', { name: 'Job detail', exact: true });
  }

  /** The banner saying the job's notebook changed since it ran. */
  get changes(): Locator {
    return this.detail.locator('[data-changed="true"]');
  }

  /** A task node in the detail's task graph (`data-state` carries its state). */
  graphTask(name: string): Locator {
    return this.detail.locator(`svg g[data-task="${name}"]`);
  }

  /** A task's row in the detail's task table. */
  taskRow(name: string): Locator {
    return this.detail.getByRole('row').filter({ has: this.page.getByRole('cell', { name, exact: true }) });
  }

  button(name: 'Cancel' | 'Re-run as submitted' | 'Re-run failed' | 'Re-run with my changes…'): Locator {
    return this.detail.getByRole('button', { name, exact: true });
  }

  /** A per-task button ("Logs", "Executed notebook") in the task's row. */
  taskButton(task: string, name: 'Logs' | 'Executed notebook'): Locator {
    return this.taskRow(task).getByRole('button', { name, exact: true });
  }

  /** The Cancel button of one task's row (named after the task it stops). */
  cancelTask(task: string): Locator {
    return this.taskRow(task).getByRole('button', { name: `Cancel task ${task}`, exact: true });
  }

  /** The log view of a task. */
  log(task: string): Locator {
    return this.detail.getByRole('region', { name: `Logs of ${task}`, exact: true });
  }
}

/** The cells of the notebook in the main area, as the user undoes and redoes on them. */
export class NotebookCells {
  constructor(private readonly page: IJupyterLabPageFixture) {}

  /** A cell of the current notebook (0-based). */
  cell(index: number): Locator {
    return this.page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').nth(index);
  }

  /** The Cellpipe badge of a cell. */
  badge(index: number): Locator {
    return this.cell(index).locator(BADGE);
  }

  /** Selects the cell (command mode, focus in the notebook) and presses Ctrl+Z as a user would. */
  async undoWithKeyboard(index: number): Promise<void> {
    await this.page.notebook.selectCells(index);
    await this.page.keyboard.press('Control+z');
  }

  /** Selects the cell, then Edit > Undo / Edit > Redo from the menu bar. */
  async fromEditMenu(index: number, item: 'Undo' | 'Redo'): Promise<void> {
    await this.page.notebook.selectCells(index);
    await this.page.menu.clickMenuItem(`Edit>${item}`);
  }
}

/** Everything Cellpipe in one place, for a test's `page`. */
export class Cellpipe {
  readonly taskEditor: TaskEditor;
  readonly pipeline: PipelinePanel;
  readonly monitor: Monitor;
  readonly cells: NotebookCells;
  readonly scheduleDialog: ScheduleDialog;
  readonly schedules: SchedulesTab;
  readonly resources: ResourcesTab;

  constructor(readonly page: IJupyterLabPageFixture) {
    this.resources = new ResourcesTab(page);
    this.taskEditor = new TaskEditor(page);
    this.cells = new NotebookCells(page);
    this.pipeline = new PipelinePanel(page);
    this.monitor = new Monitor(page);
    this.scheduleDialog = new ScheduleDialog(page);
    this.schedules = new SchedulesTab(page);
  }

  /** Ids of the registered Cellpipe plugins and whether each is activated. */
  async plugins(): Promise<Record<string, boolean>> {
    return this.page.evaluate((prefix) => {
      const app = window.jupyterapp;
      const out: Record<string, boolean> = {};
      for (const id of app.listPlugins()) {
        if (id.startsWith(prefix)) out[id] = app.isPluginActivated(id);
      }
      return out;
    }, PLUGIN_PREFIX);
  }

  /** A JupyterLab notification (toast) containing `text`. */
  toast(text: string): Locator {
    return this.page.locator('.Toastify__toast').filter({ hasText: text });
  }

  /** A button of the dialog on screen (a confirmation). */
  dialogButton(name: string): Locator {
    return this.page.getByRole('dialog').getByRole('button', { name, exact: true });
  }

  /** The status bar item ("Cellpipe: 1 task running, 2 waiting"); a click opens the monitor. */
  get statusItem(): Locator {
    return this.page.locator('#jp-main-statusbar').getByRole('button', { name: /^Cellpipe:/ });
  }
}

/** Where the browser can reach the companion server's API through the Jupyter server proxy. */
export function proxied(path: string): string {
  return `/cellpipe/api/${path.replace(/^\//, '')}`;
}
