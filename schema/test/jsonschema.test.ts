/** pipeline.schema.json is generated from the zod schemas; this fails when the committed copy is stale. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatJsonSchema, pipelineJsonSchema, parsePipelineYaml, PipelineSchema } from '../src/index.js';

const committedPath = fileURLToPath(new URL('../pipeline.schema.json', import.meta.url));

describe('pipeline.schema.json', () => {
  it('is in sync with the zod schemas (regenerate with `npm run gen -w schema`)', () => {
    expect(readFileSync(committedPath, 'utf8')).toBe(formatJsonSchema(pipelineJsonSchema()));
  });

  it('describes the documented shape', () => {
    const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as {
      $id: string;
      required: string[];
      properties: { apiVersion: { const: string }; spec: { properties: Record<string, unknown> } };
    };
    expect(schema.$id).toMatch(/pipeline/);
    expect(schema.properties.apiVersion.const).toBe('cellpipe.io/v1');
    expect(schema.required).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(Object.keys(schema.properties.spec.properties)).toEqual(
      expect.arrayContaining(['tasks', 'parameters', 'setupCells', 'defaults', 'failurePolicy', 'schedule']),
    );
  });

  it('does not require fields that have defaults', () => {
    const r = parsePipelineYaml(
      'apiVersion: cellpipe.io/v1\nkind: Pipeline\nmetadata: {name: x}\nspec:\n  tasks:\n    - {name: a, source: {kind: script, path: a.py}}\n',
    );
    expect(r.diagnostics).toEqual([]);
    const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as {
      properties: { spec: { required: string[]; properties: { tasks: { items: { required: string[] } } } } };
    };
    expect(schema.properties.spec.required).toEqual(['tasks']);
    expect(schema.properties.spec.properties.tasks.items.required).toEqual(['name']);
  });
});

describe('pipeline.schema.json validates documents like the zod schema does', () => {
  // Loaded lazily so the sync test above still reports when the validator is missing.
  let compiled: Promise<(doc: unknown) => boolean> | undefined;
  const load = () =>
    (compiled ??= import('ajv/dist/2020.js').then((mod) => {
      // A CommonJS module: its default export is module.exports, whose `default` is the class.
      const Ajv2020 = mod.default.default;
      const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as Record<string, unknown>;
      const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
      return (doc: unknown) => validate(doc);
    }));
  const { parse } = JSON;
  const base = { apiVersion: 'cellpipe.io/v1', kind: 'Pipeline', metadata: { name: 'p' } };

  it.each<[string, unknown, boolean]>([
    ['minimal', { ...base, spec: { tasks: [{ name: 'a' }] } }, true],
    [
      'resources',
      { ...base, spec: { tasks: [{ name: 'a', resources: { gpu: 1, cpu: '500m', memory: '1Gi' } }] } },
      true,
    ],
    ['script source', { ...base, spec: { tasks: [{ name: 'a', source: { kind: 'script', path: 'a.py' } }] } }, true],
    ['negative gpu', { ...base, spec: { tasks: [{ name: 'a', resources: { gpu: -1 } }] } }, false],
    ['bad mig', { ...base, spec: { tasks: [{ name: 'a', resources: { mig: 'huge' } }] } }, false],
    ['unknown field', { ...base, spec: { tasks: [{ name: 'a', gpus: 1 }] } }, false],
    ['no tasks', { ...base, spec: { tasks: [] } }, false],
    ['wrong kind', { ...base, kind: 'Job', spec: { tasks: [{ name: 'a' }] } }, false],
  ])('%s', async (_name, doc, valid) => {
    const validate = await load();
    expect(validate(parse(JSON.stringify(doc)))).toBe(valid);
    expect(PipelineSchema.safeParse(doc).success).toBe(valid);
  });
});
