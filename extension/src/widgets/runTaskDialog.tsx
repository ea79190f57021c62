/**
 * "Run as Cellpipe Task": a whole notebook or script as a one-task pipeline, with the resources the
 * user picks in a dialog (prefilled from the settings' defaults).
 */
import {
  API_VERSION,
  PipelineSchema,
  pipelineNameFromPath,
  type Pipeline,
  type PipelineInput,
} from '@cellpipe/schema';
import { ReactWidget } from '@jupyterlab/apputils';
import * as React from 'react';
import type { ResourceDefaults } from './taskEditor.js';

export interface RunTaskForm {
  name: string;
  gpus: string;
  mig: string;
  cpu: string;
  memory: string;
  image: string;
  timeout: string;
  retries: string;
}

export function initialRunTaskForm(path: string, defaults: ResourceDefaults): RunTaskForm {
  return {
    name: pipelineNameFromPath(path),
    gpus: defaults.gpu !== undefined && defaults.gpu > 0 ? String(defaults.gpu) : '',
    mig: defaults.mig ?? '',
    cpu: defaults.cpu ?? '',
    memory: defaults.memory ?? '',
    image: defaults.image ?? '',
    timeout: '',
    retries: '',
  };
}

/** The one-task pipeline for a file, or the validation problems (field path: message). */
export function singleTaskPipeline(
  path: string,
  form: RunTaskForm,
): { pipeline: Pipeline; file: string } | { errors: string[] } {
  const file = path.split('/').pop() ?? path;
  const kind = file.endsWith('.py') ? 'script' : 'notebook';
  const int = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s.trim()));
  const str = (s: string): string | undefined => (s.trim() === '' ? undefined : s.trim());
  const resources = { gpu: int(form.gpus), mig: str(form.mig), cpu: str(form.cpu), memory: str(form.memory) };
  const input: PipelineInput = {
    apiVersion: API_VERSION,
    kind: 'Pipeline',
    metadata: { name: form.name.trim() || pipelineNameFromPath(path) },
    spec: {
      tasks: [
        {
          name: form.name.trim() || pipelineNameFromPath(path),
          source: { kind, path: file },
          resources: Object.fromEntries(Object.entries(resources).filter(([, v]) => v !== undefined)),
          image: str(form.image),
          retries: int(form.retries),
          timeout: str(form.timeout),
        },
      ],
    },
  };
  // Drop undefined keys: the schema is strict about unknown keys only, but keep the wire JSON clean.
  const parsed = PipelineSchema.safeParse(JSON.parse(JSON.stringify(input)));
  if (!parsed.success) {
    return { errors: parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`) };
  }
  return { pipeline: parsed.data, file };
}

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

  constructor(
    private readonly path: string,
    initial: RunTaskForm,
    private readonly migProfiles: readonly string[],
  ) {
    super();
    this._form = { ...initial };
    this.addClass(CLASS);
  }

  getValue(): RunTaskForm {
    return { ...this._form };
  }

  protected render(): React.ReactElement {
    return <RunTaskFields path={this.path} initial={this._form} migProfiles={this.migProfiles} onChange={(f) => (this._form = f)} />;
  }
}

function RunTaskFields(props: {
  path: string;
  initial: RunTaskForm;
  migProfiles: readonly string[];
  onChange: (f: RunTaskForm) => void;
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
    </div>
  );
}
