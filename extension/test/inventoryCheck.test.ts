import type { Inventory } from '@cellpipe/schema';
import { migProfiles, unsatisfiable } from '../src/inventoryCheck.js';

const inv = (executor: string, resources: [string, number][]): Inventory => ({
  executor,
  resources: resources.map(([resource, allocatable]) => ({
    resource,
    allocatable,
    used: 0,
    free: allocatable,
    holders: [],
  })),
});

describe('unsatisfiable', () => {
  const cluster = inv('kubernetes', [
    ['nvidia.com/gpu', 2],
    ['nvidia.com/mig-1g.10gb', 7],
    ['nvidia.com/mig-3g.40gb', 2],
  ]);

  it.each<[string, Inventory | null, { gpus: string; mig: string }, RegExp | null]>([
    ['no inventory (offline): no warning', null, { gpus: '9', mig: '' }, null],
    ['fits', cluster, { gpus: '2', mig: '' }, null],
    [
      'too many GPUs',
      cluster,
      { gpus: '3', mig: '' },
      /kubernetes cluster has 2 whole GPUs; a task asking for 3 can never start/,
    ],
    ['no GPUs on this machine', inv('local', []), { gpus: '1', mig: '' }, /this machine has 0 whole GPUs/],
    ['known MIG profile', cluster, { gpus: '', mig: '3g.40gb' }, null],
    [
      'unknown MIG profile lists what exists',
      cluster,
      { gpus: '', mig: '3g.20gb' },
      /no MIG 3g.20gb slices \(it has 1g.10gb, 3g.40gb\)/,
    ],
    ['half-typed numbers are not judged', cluster, { gpus: 'x', mig: '' }, null],
  ])('%s', (_name, inventory, request, expected) => {
    const warning = unsatisfiable(inventory, request);
    if (expected === null) expect(warning).toBeNull();
    else expect(warning).toMatch(expected);
  });

  it('lists MIG profiles', () => {
    expect(migProfiles(cluster)).toEqual(['1g.10gb', '3g.40gb']);
  });
});
