/** The "Run as Cellpipe Task" dialog body: resources for the one task, prefilled from the settings. */
import { ReactWidget } from '@jupyterlab/apputils';
import type { NotifyRule, TargetList } from '@cellpipe/schema';
import * as React from 'react';
import { NotifyField } from '../notifications/NotifyField.js';
import type { RunTaskForm } from '../runTask.js';

const CLASS = 'jp-cellpipe-RunTask';

const FIELDS: { key: keyof RunTaskForm; label: string; placeholder?: string }[] = [
  { key: 'name', label: 'Task name' },
  { key: 'gpus', label: 'GPUs', placeholder: 'whole GPUs, e.g. 1' },
  { key: 'mig', label: 'MIG profile', placeholder: 'e.g. 3g.20gb' },
  { key: 'cpu', label: 'CPU', placeholder: 'e.g. 2 or 500m' },
  { key: 'memory', label: 'Memory', placeholder: 'e.g. 16Gi' },
  { key: 'image', label: 'Image' },
  { key: 'timeout', label: 'Timeout', placeholder: 'e.g. 2h' },
  { key: 'retries', label: 'Retries', placeholder: '0' },
];

/** Dialog body; `getValue` hands the form to `showDialog`. */
export class RunTaskBody extends ReactWidget {
  private _form: RunTaskForm;
  /** Where the run's end is sent (the Notify field; none without `notifyTargets`). */
  notify: NotifyRule[] = [];

  constructor(
    private readonly path: string,
    initial: RunTaskForm,
    private readonly migProfiles: readonly string[],
    private readonly notifyTargets?: () => Promise<TargetList>,
  ) {
    super();
    this._form = { ...initial };
    this.addClass(CLASS);
  }

  getValue(): RunTaskForm {
    return { ...this._form };
  }

  protected render(): React.ReactElement {
    return (
      <RunTaskFields
        path={this.path}
        initial={this._form}
        migProfiles={this.migProfiles}
        onChange={(f) => (this._form = f)}
      >
        {this.notifyTargets ? (
          <NotifyField
            load={this.notifyTargets}
            value={this.notify}
            idPrefix="cellpipe-run-task"
            onChange={(rules) => (this.notify = rules)}
          />
        ) : null}
      </RunTaskFields>
    );
  }
}

function RunTaskFields(props: {
  path: string;
  initial: RunTaskForm;
  migProfiles: readonly string[];
  onChange: (f: RunTaskForm) => void;
  children?: React.ReactNode;
}): React.ReactElement {
  const [form, setForm] = React.useState(props.initial);
  return (
    <div className={`${CLASS}-fields`}>
      <p className={`${CLASS}-file`}>Runs {props.path} as one task.</p>
      {FIELDS.map((f) => {
        const id = `cellpipe-run-task-${f.key}`;
        return (
          <div key={f.key} className={`${CLASS}-field`}>
            <label htmlFor={id}>{f.label}</label>
            <input
              id={id}
              className="jp-mod-styled"
              type="text"
              value={form[f.key]}
              placeholder={f.placeholder}
              list={f.key === 'mig' ? 'cellpipe-run-task-mig-options' : undefined}
              onChange={(e) => {
                const next = { ...form, [f.key]: e.currentTarget.value };
                setForm(next);
                props.onChange(next);
              }}
            />
          </div>
        );
      })}
      <datalist id="cellpipe-run-task-mig-options">
        {props.migProfiles.map((p) => (
          <option key={p} value={p} />
        ))}
      </datalist>
      {props.children}
    </div>
  );
}
