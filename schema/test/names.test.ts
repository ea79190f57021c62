/** Names users choose that JavaScript objects also use: `constructor` and `toString` work, `__proto__` is refused. */
import { cellSettings, compileNotebook, parseParameters, parsePipelineYaml, pipelineToYaml } from '../src/index.js';
import { notebook } from './helpers.js';

test('a parameters cell may bind constructor and toString; __proto__ is reported, not dropped silently', () => {
  const r = parseParameters('constructor = 1\ntoString = "x"\n__proto__ = 2\nd = {"__proto__": 1, "k": 2}\n');
  expect(Object.keys(r.parameters)).toEqual(['constructor', 'toString', 'd']);
  expect(r.parameters.constructor).toMatchObject({ default: 1, type: 'integer' });
  expect(Object.keys(r.parameters.d!.default as object)).toEqual(['__proto__', 'k']);
  expect(r.warnings.map((w) => w.message)).toEqual([
    "'__proto__' is reserved: it runs as setup code but is not a parameter (rename it to override it per run)",
  ]);
});

test('an env tag named __proto__ is an error; one named constructor is a variable', () => {
  expect(cellSettings({ tags: ['env:constructor=1'] })).toMatchObject({ settings: { env: { constructor: '1' } } });
  const bad = cellSettings({ tags: ['env:__proto__=1'] });
  expect(bad.errors.map((e) => e.message)).toEqual(["invalid 'env:__proto__=1': write env:NAME=VALUE"]);
});

test('a compiled notebook keeps constructor and toString as parameters and environment names, through YAML too', () => {
  const nb = notebook([
    [['parameters'], 'constructor = 3'],
    [['task:a', 'env:toString=yes'], 'x = constructor'],
  ]);
  const p = compileNotebook(nb, { path: 'n.ipynb' }).pipeline!;
  expect(Object.keys(p.spec.parameters)).toEqual(['constructor']);
  expect(p.spec.tasks[0]!.env).toEqual({ toString: 'yes' });
  expect(parsePipelineYaml(pipelineToYaml(p)).pipeline).toEqual(p);
});
