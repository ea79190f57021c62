/**
 * "Run as Cellpipe Task": a whole notebook or script as a one-task pipeline. Pure (tested on its
 * own); the dialog lives in widgets/runTaskDialog.tsx.
 */
import { API_VERSION, PipelineSchema, pipelineNameFromPath, type Pipeline, type PipelineInput } from '@cellpipe/schema';
import type { ResourceDefaults } from './plugins/settings.js';

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
  const notWhole = (['gpus', 'retries'] as const).filter((k) => form[k].trim() !== '' && !/^\d+$/.test(form[k].trim()));
  if (notWhole.length > 0) {
    return {
      errors: notWhole.map((k) => `${k === 'gpus' ? 'GPUs' : 'Retries'}: use a whole number, not "${form[k].trim()}"`),
    };
  }
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
