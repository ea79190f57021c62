/**
 * Right sidebar "Cellpipe Task": edits the active cell's task tags, and says where the cell stands
 * ("Cell 4 · task histogram · depends on generate via samples"). The form maps to tags in `tags.ts`;
 * Apply and Clear write through the cell's shared model as one step of the cell's undo history
 * (`undoableTags.ts`), so Ctrl+Z / Edit > Undo in the notebook reverts them and collaborators see them.
 * Edits are never dropped silently: leaving the form or the cell applies them when they are valid, and
 * says so when they are not.
 */
import { cellSettings, type Inventory, type NotebookCompileResult } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { ICellModel } from '@jupyterlab/cells';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import * as React from 'react';
import { unsatisfiable } from '../inventoryCheck.js';
import {
  applyFormToTags,
  clearFormTags,
  formFromTags,
  parseDependsOn,
  strayTags,
  tagsFromForm,
  type TaskForm,
} from '../tags.js';
import type { ICellpipeJobs, ICellpipePipeline } from '../tokens.js';
import { TransContext, useTrans } from '../translation.js';
import { writeTagsUndoable } from '../undoableTags.js';

const CLASS = 'jp-cellpipe-TaskEditor';

function tagsOf(cell: ICellModel): unknown {
  return cell.getMetadata('tags');
}

/** True for a tag the compiler rejects on its own (a misspelt Cellpipe keyword). */
function invalidTag(tag: string): boolean {
  return cellSettings({ tags: [tag] }).errors.length > 0;
}

export function writeTags(cell: ICellModel, tags: string[]): void {
  writeTagsUndoable(cell.sharedModel, tags);
}

/** The problems that stop a form from being applied (empty: it can be). */
export function formProblems(form: TaskForm): string[] {
  return cellSettings({ tags: tagsFromForm(form) }).errors.map((e) => e.message);
}

/** Applies the form to a cell, keeping the tags the form does not own and dropping unreadable ones. */
export function applyForm(cell: ICellModel, form: TaskForm): void {
  const current = tagsOf(cell);
  const stray = strayTags(current, invalidTag);
  const kept = Array.isArray(current) ? current.filter((t) => !stray.includes(t)) : current;
  writeTags(cell, applyFormToTags(kept, form));
}

/** Where a cell stands in the compiled notebook: its role, its task and what that task depends on, and why. */
export function cellContext(
  result: NotebookCompileResult | null,
  index: number,
  trans: TranslationBundle,
): { role: string; dependsOn: string | null; tasks: string[] } {
  const tasks = [...new Set((result?.cells ?? []).filter((c) => c.role === 'task').map((c) => c.task ?? ''))].filter(
    Boolean,
  );
  const role = result?.cells.find((c) => c.index === index);
  const head = trans.__('Cell %1', index + 1);
  if (!role) return { role: `${head} · ${trans.__('not part of a task')}`, dependsOn: null, tasks };
  if (role.role === 'setup')
    return { role: `${head} · ${trans.__('setup: runs before every task')}`, dependsOn: null, tasks };
  if (role.role === 'parameters') return { role: `${head} · ${trans.__('parameters')}`, dependsOn: null, tasks };
  if (role.role === 'skipped') return { role: `${head} · ${trans.__('skipped')}`, dependsOn: null, tasks };
  const task = result?.pipeline?.spec.tasks.find((t) => t.name === role.task);
  const line = `${head} · ${trans.__('task %1', role.task ?? '')}`;
  if (!task) return { role: line, dependsOn: null, tasks };
  const deps = task.dependsOn.map((d) => {
    const vars = Object.entries(task.inputsFrom)
      .filter(([, from]) => from === d)
      .map(([name]) => name);
    return vars.length ? trans.__('%1 via %2', d, vars.join(', ')) : trans.__('%1 (after:)', d);
  });
  return {
    role: line,
    dependsOn: deps.length ? trans.__('depends on %1', deps.join('; ')) : trans.__('depends on no other task'),
    tasks,
  };
}

function Field(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  placeholder?: string;
  list?: string;
  hint?: string;
  inputMode?: 'numeric' | 'text';
}): React.ReactElement {
  return (
    <div className={`${CLASS}-field`}>
      <label htmlFor={props.id} className={`${CLASS}-label`}>
        {props.label}
      </label>
      <input
        id={props.id}
        className={`${CLASS}-input jp-mod-styled`}
        type="text"
        value={props.value}
        placeholder={props.placeholder}
        list={props.list}
        inputMode={props.inputMode}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
        onChange={(e) => props.onChange(e.currentTarget.value)}
      />
      {props.hint ? (
        <span id={`${props.id}-hint`} className={`${CLASS}-hint`}>
          {props.hint}
        </span>
      ) : null}
    </div>
  );
}

function Check(props: {
  id: string;
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
}): React.ReactElement {
  return (
    <div className={`${CLASS}-check`}>
      <input
        id={props.id}
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange(e.currentTarget.checked)}
      />
      <label htmlFor={props.id}>{props.label}</label>
    </div>
  );
}

/** Task names to add to "Depends on" with one click (the others of the notebook). */
function DependsOnSuggestions(props: { tasks: string[]; form: TaskForm; onAdd: (name: string) => void }) {
  const trans = useTrans();
  const chosen = parseDependsOn(props.form.dependsOn);
  const offered = props.tasks.filter((t) => t !== props.form.task && !chosen.includes(t));
  if (!offered.length) return null;
  return (
    <div className={`${CLASS}-suggest`} role="group" aria-label={trans.__('Add a task to depend on')}>
      {offered.map((t) => (
        <button key={t} type="button" className={`${CLASS}-chip`} onClick={() => props.onAdd(t)}>
          + {t}
        </button>
      ))}
    </div>
  );
}

export interface PendingEdit {
  cell: ICellModel;
  cellNumber: number;
  form: TaskForm;
}

function TaskEditorForm(props: {
  cell: ICellModel;
  /** 1-based position of the cell, for the confirmations. */
  cellNumber: number;
  inventory: Inventory | null;
  tasks: string[];
  onPending: (edit: PendingEdit | null) => void;
  status: string | null;
  onStatus: (text: string | null) => void;
}): React.ReactElement {
  const trans = useTrans();
  const { cell } = props;
  const [form, setForm] = React.useState<TaskForm>(() => formFromTags(tagsOf(cell)));
  const [errors, setErrors] = React.useState<string[]>([]);
  const set =
    <K extends keyof TaskForm>(key: K) =>
    (value: TaskForm[K]) => {
      setForm((f) => {
        const next = { ...f, [key]: value };
        props.onPending({ cell, cellNumber: props.cellNumber, form: next });
        return next;
      });
      props.onStatus(null);
    };

  const migProfiles = (props.inventory?.resources ?? [])
    .filter((r) => r.resource.startsWith('nvidia.com/mig-'))
    .map((r) => ({ profile: r.resource.slice('nvidia.com/mig-'.length), free: r.free, total: r.allocatable }));
  const gpus = props.inventory?.resources.find((r) => r.resource === 'nvidia.com/gpu');
  const warning = unsatisfiable(props.inventory, form);
  const stray = strayTags(tagsOf(cell), invalidTag);

  const apply = (how: 'button' | 'blur'): void => {
    const problems = formProblems(form);
    setErrors(problems);
    if (problems.length > 0) return;
    applyForm(cell, form);
    props.onPending(null);
    props.onStatus(
      how === 'button'
        ? trans.__("Applied to cell %1's tags.", props.cellNumber)
        : trans.__('Your edits were applied to cell %1 when you left the form.', props.cellNumber),
    );
  };
  const clear = (): void => {
    const current = tagsOf(cell);
    const kept = Array.isArray(current) ? current.filter((t) => !stray.includes(t)) : current;
    writeTags(cell, clearFormTags(kept));
    props.onPending(null);
    setErrors([]);
    props.onStatus(trans.__("Cleared cell %1's task tags.", props.cellNumber));
  };
  const dirty = React.useRef(false);
  dirty.current = JSON.stringify(form) !== JSON.stringify(formFromTags(tagsOf(cell)));
  return (
    <form
      className={`${CLASS}-form`}
      aria-label={trans.__('Cellpipe task settings')}
      onSubmit={(e) => {
        e.preventDefault();
        apply('button');
      }}
      onBlur={(e) => {
        // Focus left the form (not moved between its fields): keep what was typed.
        if (dirty.current && !e.currentTarget.contains(e.relatedTarget as Node | null)) apply('blur');
      }}
    >
      <Field
        id="cellpipe-task-name"
        label={trans.__('Task name')}
        value={form.task}
        onChange={set('task')}
        placeholder={trans.__('e.g. train')}
      />
      <Field
        id="cellpipe-task-after"
        label={trans.__('Depends on')}
        value={form.dependsOn}
        onChange={set('dependsOn')}
        placeholder={trans.__('task names, comma-separated')}
        hint={trans.__('Besides the tasks it reads variables from (found by itself).')}
      />
      <DependsOnSuggestions
        tasks={props.tasks}
        form={form}
        onAdd={(name) => set('dependsOn')([...parseDependsOn(form.dependsOn), name].join(', '))}
      />
      <Field
        id="cellpipe-task-gpus"
        label={trans.__('GPUs')}
        value={form.gpus}
        onChange={set('gpus')}
        inputMode="numeric"
        placeholder={trans.__('whole GPUs, e.g. 1')}
        hint={gpus ? trans.__('%1 of %2 free', gpus.free, gpus.allocatable) : undefined}
      />
      <Field
        id="cellpipe-task-mig"
        label={trans.__('MIG profile')}
        value={form.mig}
        onChange={set('mig')}
        list="cellpipe-task-mig-options"
        placeholder={trans.__('e.g. 3g.20gb')}
      />
      <datalist id="cellpipe-task-mig-options">
        {migProfiles.map((m) => (
          <option key={m.profile} value={m.profile}>
            {trans.__('%1 (%2 of %3 free)', m.profile, m.free, m.total)}
          </option>
        ))}
      </datalist>
      <Field
        id="cellpipe-task-cpu"
        label={trans.__('CPU')}
        value={form.cpu}
        onChange={set('cpu')}
        placeholder={trans.__('e.g. 2 or 500m')}
      />
      <Field
        id="cellpipe-task-memory"
        label={trans.__('Memory')}
        value={form.memory}
        onChange={set('memory')}
        placeholder={trans.__('e.g. 16Gi')}
      />
      <Field
        id="cellpipe-task-image"
        label={trans.__('Image')}
        value={form.image}
        onChange={set('image')}
        placeholder={trans.__('e.g. registry/team/image:tag')}
      />
      <Field
        id="cellpipe-task-retries"
        label={trans.__('Retries')}
        value={form.retries}
        onChange={set('retries')}
        inputMode="numeric"
      />
      <Field
        id="cellpipe-task-timeout"
        label={trans.__('Timeout')}
        value={form.timeout}
        onChange={set('timeout')}
        placeholder={trans.__('e.g. 90m')}
      />
      <Check id="cellpipe-task-setup" label={trans.__('Setup cell')} checked={form.setup} onChange={set('setup')} />
      <Check id="cellpipe-task-skip" label={trans.__('Skip cell')} checked={form.skip} onChange={set('skip')} />
      {stray.length > 0 ? (
        <p className={`${CLASS}-stray`}>
          {trans.__('Tags Cellpipe cannot read: %1. Apply or Clear removes them.', stray.join(', '))}
        </p>
      ) : null}
      {warning ? <p className={`${CLASS}-warning`}>{warning}</p> : null}
      {errors.length > 0 ? (
        <ul className={`${CLASS}-errors`} role="alert">
          {errors.map((e, i) => (
            <li key={i}>{e}</li>
          ))}
        </ul>
      ) : null}
      <div className={`${CLASS}-buttons`}>
        <button type="submit" className="jp-mod-styled jp-mod-accept">
          {trans.__('Apply')}
        </button>
        <button type="button" className="jp-mod-styled" onClick={clear}>
          {trans.__('Clear')}
        </button>
      </div>
      <p className={`${CLASS}-saved`} role="status" aria-live="polite">
        {props.status ?? ''}
      </p>
    </form>
  );
}

export class TaskEditorPanel extends ReactWidget {
  private readonly _changed = new Signal<this, void>(this);
  private _cell: ICellModel | null = null;
  private _version = 0;
  private _pending: PendingEdit | null = null;
  private _status: string | null = null;
  /** The cell's tags changed elsewhere (undo, a collaborator) while the form held unapplied edits. */
  private _conflict = false;

  constructor(
    private readonly tracker: INotebookTracker,
    private readonly jobs: ICellpipeJobs,
    private readonly pipeline: ICellpipePipeline | null,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
    tracker.activeCellChanged.connect(this._onActiveCell, this);
    tracker.currentChanged.connect(this._onActiveCell, this);
    jobs.changed.connect(this._emit, this);
    pipeline?.changed.connect(this._emit, this);
    this._onActiveCell();
  }

  /** Moves the keyboard to the task name, with `suggested` filled in when the cell has no task yet. */
  focusName(suggested?: string): void {
    const input = this.node.querySelector<HTMLInputElement>('#cellpipe-task-name');
    if (!input) return;
    input.focus();
    if (suggested && !input.value) {
      // Typed in as the user would, so the form (and its unapplied-edit tracking) sees it.
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
      setter?.call(input, suggested);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.select();
    }
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this._cell?.metadataChanged.disconnect(this._onMetadata, this);
    Signal.clearData(this);
    super.dispose();
  }

  private _emit(): void {
    this._changed.emit();
  }

  /** Edits left behind by a cell change are applied when valid, and reported when not. */
  private _settlePending(): void {
    const pending = this._pending;
    this._pending = null;
    this._conflict = false;
    if (!pending || pending.cell.isDisposed) return;
    const problems = formProblems(pending.form);
    if (problems.length) {
      this._status = this.trans.__(
        'Your edits to cell %1 were not applied: %2',
        pending.cellNumber,
        problems.join('; '),
      );
      return;
    }
    applyForm(pending.cell, pending.form);
    this._status = this.trans.__('Your edits were applied to cell %1, the cell you left.', pending.cellNumber);
  }

  private _onActiveCell(): void {
    const cell = this.tracker.activeCell?.model ?? null;
    if (cell === this._cell) return;
    this._cell?.metadataChanged.disconnect(this._onMetadata, this);
    // A confirmation names its cell, so it stays until the next edit.
    this._settlePending();
    this._cell = cell;
    this._cell?.metadataChanged.connect(this._onMetadata, this);
    this._version++;
    this._changed.emit();
  }

  private _onMetadata(): void {
    // Tags changed (here, in the tag editor, by undo or by a collaborator): reload the form, unless it
    // holds edits of its own, which are kept and flagged instead of lost.
    if (this._pending) {
      this._conflict = true;
      this._changed.emit();
      return;
    }
    this._version++;
    this._changed.emit();
  }

  private _reload(): void {
    this._pending = null;
    this._conflict = false;
    this._version++;
    this._changed.emit();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this._changed}>{() => this._body()}</UseSignal>
      </TransContext.Provider>
    );
  }

  private _body(): React.ReactElement {
    const trans = this.trans;
    const cell = this._cell;
    const notebook = this.tracker.currentWidget;
    const index = notebook && cell ? notebook.content.widgets.findIndex((w) => w.model === cell) : -1;
    const ctx = cellContext(this.pipeline?.result ?? null, index, trans);
    return (
      <div className={`${CLASS}-body`}>
        <h2 className={`${CLASS}-title`}>{trans.__('Cellpipe Task')}</h2>
        {!cell ? (
          <p className={`${CLASS}-empty`}>{trans.__('Select a cell of a notebook to make it a Cellpipe task.')}</p>
        ) : cell.type !== 'code' ? (
          <p className={`${CLASS}-empty`}>{trans.__('Only code cells can be tasks; select a code cell.')}</p>
        ) : (
          <>
            <p className={`${CLASS}-context`} data-cell={index + 1}>
              {ctx.role}
              {ctx.dependsOn ? ` · ${ctx.dependsOn}` : ''}
            </p>
            {this._conflict ? (
              <div className={`${CLASS}-conflict`} role="alert">
                {trans.__("The cell's tags changed elsewhere. Apply keeps your edits; Reload shows the cell's tags.")}{' '}
                <button type="button" className="jp-mod-styled" onClick={() => this._reload()}>
                  {trans.__('Reload')}
                </button>
              </div>
            ) : null}
            <TaskEditorForm
              key={`${cell.id}:${this._version}`}
              cell={cell}
              cellNumber={index + 1}
              inventory={this.jobs.inventory}
              tasks={ctx.tasks}
              onPending={(edit) => {
                this._pending = edit;
                if (!edit) this._conflict = false;
              }}
              status={this._status}
              onStatus={(text) => {
                this._status = text;
                this._changed.emit();
              }}
            />
          </>
        )}
      </div>
    );
  }
}
