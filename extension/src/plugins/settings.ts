import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { PLUGIN_PREFIX } from '../tokens.js';

/** The plugin whose settings hold the task defaults (`schema/file-browser.json`). */
export const DEFAULTS_PLUGIN_ID = `${PLUGIN_PREFIX}:file-browser`;

/** Resources and image prefilled in "Run as Cellpipe Task". */
export interface ResourceDefaults {
  gpu?: number;
  mig?: string;
  cpu?: string;
  memory?: string;
  image?: string;
}

function toDefaults(value: unknown): ResourceDefaults {
  const out: ResourceDefaults = {};
  if (!value || typeof value !== 'object') return out;
  const v = value as Record<string, unknown>;
  if (typeof v.gpu === 'number') out.gpu = v.gpu;
  for (const key of ['mig', 'cpu', 'memory', 'image'] as const) {
    const s = v[key];
    if (typeof s === 'string' && s !== '') out[key] = s;
  }
  return out;
}

/** Calls `onChange` with the resource defaults now and whenever the settings change. */
export async function readResourceDefaults(
  registry: ISettingRegistry,
  onChange: (defaults: ResourceDefaults) => void,
): Promise<void> {
  try {
    const settings = await registry.load(DEFAULTS_PLUGIN_ID);
    const apply = (): void => onChange(toDefaults(settings.get('taskDefaults').composite));
    apply();
    settings.changed.connect(apply);
  } catch (reason) {
    console.error(`${DEFAULTS_PLUGIN_ID}: cannot load settings`, reason);
  }
}
