/**
 * GPU inventory of the machine the local executor runs on: discovered with `nvidia-smi -L`, or
 * declared (CELLPIPE_GPUS / config) so machines without GPUs can still run and test GPU pipelines.
 */
import { execFile } from 'node:child_process';

export interface Device {
  /** Kubernetes-style resource name: nvidia.com/gpu or nvidia.com/mig-<profile>. */
  resource: string;
  /** What goes into CUDA_VISIBLE_DEVICES: a GPU or MIG UUID (or a fake id for declared inventories). */
  id: string;
  /** Human description ("GPU 0: NVIDIA A100-SXM4-80GB"). */
  label: string;
}

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const migResource = (profile: string): string => `nvidia.com/mig-${profile}`;

/**
 * How configuration names a kind of device (declared inventories, GPU limits): `gpu` for whole GPUs,
 * `mig-<profile>` for one MIG profile's slices.
 */
export const GPU_KIND = /^(gpu|mig-[1-7]g\.\d{1,3}gb(?:\+me)?)$/;

/** The resource a kind names (`mig-3g.20gb` → nvidia.com/mig-3g.20gb). */
export function kindResource(kind: string): string {
  return kind === 'gpu' ? GPU_RESOURCE : migResource(kind.slice(4));
}

const GPU_LINE = /^GPU\s+(\d+):\s+(.*?)\s+\(UUID:\s*([^)\s]+)\)\s*$/;
// Newer drivers: "  MIG 3g.40gb     Device  0: (UUID: MIG-<uuid>)"; older: "  MIG 3g.20gb Device 0: (UUID: MIG-GPU-<uuid>/1/0)".
const MIG_LINE = /^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s+\(UUID:\s*([^)\s]+)\)\s*$/;

/**
 * Parse `nvidia-smi -L`. A GPU in MIG mode is only usable through its MIG devices, so it is not listed
 * as a whole GPU when it has any.
 */
export function parseNvidiaSmiList(text: string): Device[] {
  const gpus: { device: Device; migs: Device[] }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const g = GPU_LINE.exec(line);
    if (g) {
      gpus.push({ device: { resource: GPU_RESOURCE, id: g[3]!, label: `GPU ${g[1]}: ${g[2]}` }, migs: [] });
      continue;
    }
    const m = MIG_LINE.exec(line);
    const parent = gpus[gpus.length - 1];
    if (m && parent) {
      parent.migs.push({
        resource: migResource(m[1]!),
        id: m[3]!,
        label: `${parent.device.label.split(':')[0]} MIG ${m[1]} device ${m[2]}`,
      });
    }
  }
  return gpus.flatMap((g) => (g.migs.length ? g.migs : [g.device]));
}

/**
 * Parse a declared inventory: comma-separated entries, each either `<kind>:<count>` (fake devices) or
 * `<kind>=<uuid>` (a real device by UUID), where kind is `gpu` or `mig-<profile>`.
 * Example: "gpu:2,mig-3g.20gb:1,mig-1g.10gb:2". "none" or "" declares no GPUs.
 */
export function parseDeclaredGpus(spec: string): Device[] {
  const out: Device[] = [];
  const trimmed = spec.trim();
  if (trimmed === '' || trimmed === 'none') return out;
  const counters = new Map<string, number>();
  for (const raw of trimmed.split(/[,\s]+/).filter(Boolean)) {
    const m = /^([^:=]+)(?::(\d{1,3})|=([A-Za-z0-9][A-Za-z0-9_./-]{0,127}))$/.exec(raw);
    if (!m || !GPU_KIND.test(m[1]!)) {
      throw new Error(
        `bad GPU declaration "${raw}": use gpu:<count>, mig-<profile>:<count> or <kind>=<uuid> (e.g. "gpu:2,mig-3g.20gb:1")`,
      );
    }
    const kind = m[1]!;
    const resource = kindResource(kind);
    if (m[3]) {
      out.push({ resource, id: m[3], label: `${kind} ${m[3]}` });
      continue;
    }
    const count = Number(m[2]);
    for (let i = 0; i < count; i++) {
      const n = counters.get(kind) ?? 0;
      counters.set(kind, n + 1);
      out.push({ resource, id: `fake-${kind}-${n}`, label: `declared ${kind} #${n}` });
    }
  }
  return out;
}

/** Run `nvidia-smi -L`; no binary or no driver means no GPUs. */
export function discoverGpus(binary = 'nvidia-smi'): Promise<Device[]> {
  return new Promise((resolve) => {
    execFile(binary, ['-L'], { timeout: 10_000 }, (err, stdout) => {
      resolve(err ? [] : parseNvidiaSmiList(String(stdout)));
    });
  });
}

/** Declared (option, then CELLPIPE_GPUS) wins over discovery. */
export async function loadInventory(declared?: string, env: NodeJS.ProcessEnv = process.env): Promise<Device[]> {
  const spec = declared ?? env.CELLPIPE_GPUS;
  if (spec !== undefined) return parseDeclaredGpus(spec);
  return discoverGpus();
}
