/** The one defaults rule, as the compiler and the server both apply it. */
import { compileNotebook, effectiveTask, mergeDefaults, parseDuration, PipelineSchema } from '../src/index.js';
import { notebook } from './helpers.js';

describe('mergeDefaults', () => {
  it.each([
    ['an explicit retries 0 wins over a default', { retries: 3 }, { retries: 0 }, { retries: 0 }],
    ['an unset retries takes the default', { retries: 3 }, {}, { retries: 3 }],
    [
      'resources merge key by key',
      { resources: { gpu: 1, memory: '16Gi' } },
      { resources: { cpu: '2' } },
      { resources: { gpu: 1, memory: '16Gi', cpu: '2' } },
    ],
    [
      "a task's MIG slice replaces the default's whole GPUs",
      { resources: { gpu: 1, memory: '16Gi' } },
      { resources: { mig: '3g.20gb' } },
      { resources: { mig: '3g.20gb', memory: '16Gi' } },
    ],
    [
      'an explicit gpu 0 drops the default GPU and MIG',
      { resources: { mig: '1g.10gb', cpu: '1' } },
      { resources: { gpu: 0 } },
      { resources: { gpu: 0, cpu: '1' } },
    ],
    ['env merges per name', { env: { A: '1', B: '2' } }, { env: { B: '3' } }, { env: { A: '1', B: '3' } }],
    ['an empty env value wins', { env: { A: '1' } }, { env: { A: '' } }, { env: { A: '' } }],
    ['the image and timeout fall back', { image: 'py:3', timeout: '1h' }, {}, { image: 'py:3', timeout: '1h' }],
  ])('%s', (_what, defaults, task, expected) => {
    expect(mergeDefaults(defaults, task)).toMatchObject(expected);
  });

  it('keeps an environment variable named __proto__ as a variable', () => {
    const env = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
    const merged = mergeDefaults({ env: { A: '1' } }, { env }).env;
    expect(Object.keys(merged).sort()).toEqual(['A', '__proto__', 'constructor']);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });
});

describe('the compiler and the server apply defaults the same way', () => {
  const base = { apiVersion: 'cellpipe.io/v1', kind: 'Pipeline', metadata: { name: 'p' } };

  it('a cell tagged retries:0 under a notebook default of 3 runs with 0 retries', () => {
    const nb = notebook(
      [
        [['task:a', 'retries:0'], 'x = 1'],
        [['task:b'], 'print(x)'],
      ],
      {
        cellpipe: { defaults: { retries: 3 } },
      },
    );
    const p = compileNotebook(nb, { path: 'n.ipynb' }).pipeline!;
    expect(p.spec.tasks.map((t) => t.retries)).toEqual([0, 3]);
    expect(p.spec.tasks.map((t) => effectiveTask(p, t).retries)).toEqual([0, 3]);
  });

  it('a YAML task asking for cpu keeps the default GPU and memory', () => {
    const p = PipelineSchema.parse({
      ...base,
      spec: {
        defaults: { resources: { gpu: 1, memory: '16Gi' }, retries: 2, timeout: '30d' },
        tasks: [{ name: 't', source: { kind: 'script', path: 't.py' }, resources: { cpu: '2' } }],
      },
    });
    const eff = effectiveTask(p, p.spec.tasks[0]!);
    expect(eff).toEqual({
      resources: { gpu: 1, memory: '16Gi', cpu: '2' },
      env: {},
      retries: 2,
      timeout: '30d',
      timeoutMs: 30 * 86_400_000,
    });
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['25d', 25 * 86_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '1x', '1h 30m', 'h'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(`bad duration "${text}"`);
  });
});
