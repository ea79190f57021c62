/**
 * Right sidebar "Cellpipe Task": edits the active cell's task tags. The form maps to tags in
 * `tags.ts`; Apply and Clear write through the cell's shared model as one step of the cell's undo
 * history (`undoableTags.ts`), so Ctrl+Z / Edit > Undo in the notebook reverts them and
 * collaborators see them.
 */
import { cellSettings, type Inventory } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { ICellModel } from '@jupyterlab/cells';
import type { INotebookTracker } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';
import * as React from 'react';
import { describeError } from '../api/client.js';
import { unsatisfiable } from '../inventoryCheck.js';
import { applyFormToTags, clearFormTags, formFromTags, strayTags, tagsFromForm, type TaskForm } from '../tags.js';
import type { ICellpipeAPI } from '../tokens.js';
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
        onChange={(e) => props.onChange(e.currentTarget.value)}
      />
      {props.hint ? <span className={`${CLASS}-hint`}>{props.hint}</span> : null}
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

function TaskEditorForm(props: {
  cell: ICellModel;
  inventory: Inventory | null;
  inventoryError: string | null;
}): React.ReactElement {
  const { cell } = props;
  const [form, setForm] = React.useState<TaskForm>(() => formFromTags(tagsOf(cell)));
  const [errors, setErrors] = React.useState<string[]>([]);
  const [saved, setSaved] = React.useState(false);
  const set =
    <K extends keyof TaskForm>(key: K) =>
    (value: TaskForm[K]) => {
      setForm((f) => ({ ...f, [key]: value }));
      setSaved(false);
    };

  const migProfiles = (props.inventory?.resources ?? [])
    .filter((r) => r.resource.startsWith('nvidia.com/mig-'))
    .map((r) => ({ profile: r.resource.slice('nvidia.com/mig-'.length), free: r.free, total: r.allocatable }));
  const gpus = props.inventory?.resources.find((r) => r.resource === 'nvidia.com/gpu');

  const warning = unsatisfiable(props.inventory, form);
  const current = tagsOf(cell);
  const stray = strayTags(current, invalidTag);
  const withoutStray = Array.isArray(current) ? current.filter((t) => !stray.includes(t)) : current;

  const apply = (): void => {
    const problems = cellSettings({ tags: tagsFromForm(form) }).errors.map((e) => e.message);
    setErrors(problems);
    if (problems.length > 0) return;
    writeTags(cell, applyFormToTags(withoutStray, form));
    setSaved(true);
  };
  const clear = (): void => {
    writeTags(cell, clearFormTags(withoutStray));
    setErrors([]);
  };
  return (
    <form
      className={`${CLASS}-form`}
      aria-label="Cellpipe task settings"
      onSubmit={(e) => {
        e.preventDefault();
        apply();
      }}
    >
      <Field
        id="cellpipe-task-name"
        label="Task name"
        value={form.task}
        onChange={set('task')}
        placeholder="e.g. train"
      />
      <Field
        id="cellpipe-task-after"
        label="Depends on"
        value={form.dependsOn}
        onChange={set('dependsOn')}
        placeholder="task names, comma-separated"
      />
      <Field
        id="cellpipe-task-gpus"
        label="GPUs"
        value={form.gpus}
        onChange={set('gpus')}
        inputMode="numeric"
        placeholder="whole GPUs, e.g. 1"
        hint={gpus ? `${gpus.free} of ${gpus.allocatable} free` : undefined}
      />
      <Field
        id="cellpipe-task-mig"
        label="MIG profile"
        value={form.mig}
        onChange={set('mig')}
        list="cellpipe-task-mig-options"
        placeholder="e.g. 3g.20gb"
      />
      <datalist id="cellpipe-task-mig-options">
        {migProfiles.map((m) => (
          <option key={m.profile} value={m.profile}>{`${m.profile} (${m.free} of ${m.total} free)`}</option>
        ))}
      </datalist>
      <Field id="cellpipe-task-cpu" label="CPU" value={form.cpu} onChange={set('cpu')} placeholder="e.g. 2 or 500m" />
      <Field
        id="cellpipe-task-memory"
        label="Memory"
        value={form.memory}
        onChange={set('memory')}
        placeholder="e.g. 16Gi"
      />
      <Field
        id="cellpipe-task-image"
        label="Image"
        value={form.image}
        onChange={set('image')}
        placeholder="e.g. registry/team/image:tag"
      />
      <Field
        id="cellpipe-task-retries"
        label="Retries"
        value={form.retries}
        onChange={set('retries')}
        inputMode="numeric"
      />
      <Field
        id="cellpipe-task-timeout"
        label="Timeout"
        value={form.timeout}
        onChange={set('timeout')}
        placeholder="e.g. 90m"
      />
      <Check id="cellpipe-task-setup" label="Setup cell" checked={form.setup} onChange={set('setup')} />
      <Check id="cellpipe-task-skip" label="Skip cell" checked={form.skip} onChange={set('skip')} />
      {stray.length > 0 ? (
        <p className={`${CLASS}-stray`}>Tags Cellpipe cannot read: {stray.join(', ')}. Apply or Clear removes them.</p>
      ) : null}
      {warning ? <p className={`${CLASS}-warning`}>{warning}</p> : null}
      {errors.length > 0 ? (
        <ul className={`${CLASS}-errors`} role="alert">
          {errors.map((e, i) => (
            <li key={i}>{e}</li>
          ))}
        </ul>
      ) : null}
      {props.inventoryError ? (
        <p className={`${CLASS}-offline`}>
          GPU inventory unavailable ({props.inventoryError}); values can still be typed.
        </p>
      ) : null}
      <div className={`${CLASS}-buttons`}>
        <button type="submit" className="jp-mod-styled jp-mod-accept">
          Apply
        </button>
        <button type="button" className="jp-mod-styled" onClick={clear}>
          Clear
        </button>
        {saved ? <span className={`${CLASS}-saved`}>Saved to the cell's tags</span> : null}
      </div>
    </form>
  );
}

export class TaskEditorPanel extends ReactWidget {
  private readonly _changed = new Signal<this, void>(this);
  private _cell: ICellModel | null = null;
  private _version = 0;
  private _inventory: Inventory | null = null;
  private _inventoryError: string | null = null;

  constructor(
    private readonly tracker: INotebookTracker,
    private readonly api: ICellpipeAPI,
  ) {
    super();
    this.addClass(CLASS);
    tracker.activeCellChanged.connect(this._onActiveCell, this);
    tracker.currentChanged.connect(this._onActiveCell, this);
    this._onActiveCell();
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this._cell?.metadataChanged.disconnect(this._onMetadata, this);
    Signal.clearData(this);
    super.dispose();
  }

  protected override onAfterShow(): void {
    void this.loadInventory();
  }

  async loadInventory(): Promise<void> {
    try {
      this._inventory = await this.api.client.inventory();
      this._inventoryError = null;
    } catch (err) {
      this._inventoryError = describeError(err);
    }
    this._changed.emit();
  }

  private _onActiveCell(): void {
    const cell = this.tracker.activeCell?.model ?? null;
    if (cell === this._cell) return;
    this._cell?.metadataChanged.disconnect(this._onMetadata, this);
    this._cell = cell;
    this._cell?.metadataChanged.connect(this._onMetadata, this);
    this._version++;
    this._changed.emit();
  }

  private _onMetadata(): void {
    // Tags changed (here, in the tag editor, by undo or by a collaborator): reload the form.
    this._version++;
    this._changed.emit();
  }

  protected render(): React.ReactElement {
    return (
      <UseSignal signal={this._changed}>
        {() => {
          const cell = this._cell;
          return (
            <div className={`${CLASS}-body`}>
              <h2 className={`${CLASS}-title`}>Cellpipe Task</h2>
              {!cell ? (
                <p className={`${CLASS}-empty`}>Select a cell of a notebook to make it a Cellpipe task.</p>
              ) : cell.type !== 'code' ? (
                <p className={`${CLASS}-empty`}>Only code cells can be tasks; select a code cell.</p>
              ) : (
                <TaskEditorForm
                  key={`${cell.id}:${this._version}`}
                  cell={cell}
                  inventory={this._inventory}
                  inventoryError={this._inventoryError}
                />
              )}
            </div>
          );
        }}
      </UseSignal>
    );
  }
}
