import { PipelineSchema, PythonNameSchema, API_VERSION } from '../src/spec.js';
import { cpuMillicores, memoryBytes } from '../src/quantity.js';

describe('PipelineSchema', () => {
  const base = { apiVersion: API_VERSION, kind: 'Pipeline', metadata: { name: 'demo' } };

  it('fills defaults for a minimal task', () => {
    const p = PipelineSchema.parse({ ...base, spec: { tasks: [{ name: 'train' }] } });
    expect(p.spec.tasks[0]).toMatchObject({
      name: 'train',
      dependsOn: [],
      resources: {},
      source: { kind: 'cells' },
    });
    expect(p.spec.failurePolicy).toBe('continue');
    // Unset, not 0: a pipeline default then applies (an explicit 0 does not take it).
    expect(p.spec.tasks[0]?.retries).toBeUndefined();
  });

  it.each([
    ['365d', true],
    ['8760h', true],
    ['366d', false],
    ['25d', true],
    ['99999999999999999999d', false],
  ])('a timeout of %s is accepted: %s', (timeout, ok) => {
    const r = PipelineSchema.safeParse({ ...base, spec: { timeout, tasks: [{ name: 't', timeout }] } });
    expect(r.success).toBe(ok);
    if (!ok) expect(r.error?.issues[0]?.message).toBe('duration must be at most 365d');
  });

  it.each([
    [{ gpu: -1 }, ['spec', 'tasks', 0, 'resources', 'gpu']],
    [{ mig: 'huge' }, ['spec', 'tasks', 0, 'resources', 'mig']],
    [{ gpu: 1, mig: '3g.20gb' }, ['spec', 'tasks', 0, 'resources', 'mig']],
    [{ memory: 'lots' }, ['spec', 'tasks', 0, 'resources', 'memory']],
  ])('rejects resources %j at %j', (resources, path) => {
    const r = PipelineSchema.safeParse({ ...base, spec: { tasks: [{ name: 't', resources }] } });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path)).toContainEqual(path);
  });

  it.each(['x', '_private', 'Π', 'δx', 'π', 'データ'])('accepts the Python name %s', (name) => {
    expect(PythonNameSchema.safeParse(name).success).toBe(true);
  });

  it.each<[string, string]>([
    ['1x', 'not a Python identifier'],
    ['a-b', 'not a Python identifier'],
    ['', 'not a Python identifier'],
    ['𝜋', "Python reads this name as 'π': write it that way"],
    ['ﬁle', "Python reads this name as 'file': write it that way"],
  ])('rejects the name %j: %s', (name, message) => {
    const r = PythonNameSchema.safeParse(name);
    expect(r.error?.issues.map((i) => i.message)).toEqual([message]);
  });
});

describe('quantities', () => {
  it.each([
    ['512Mi', 512 * 2 ** 20],
    ['64Mi', 64 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1G', 1e9],
    ['500M', 5e8],
    ['100k', 1e5],
    ['123', 123],
  ])('memory %s is %d bytes', (q, bytes) => expect(memoryBytes(q)).toBe(bytes));
  it.each([
    ['2', 2000],
    ['0.5', 500],
    ['250m', 250],
    ['1.125', 1125],
  ])('cpu %s is %d millicores', (q, m) => expect(cpuMillicores(q)).toBe(m));
  it('anything else is not a quantity', () => {
    expect(memoryBytes('12X')).toBeUndefined();
    expect(cpuMillicores('1.2345')).toBeUndefined();
  });
});
