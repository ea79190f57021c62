/** pipeline.schema.json is generated from the zod schemas; this fails when the committed copy is stale. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatJsonSchema, pipelineJsonSchema, parsePipelineYaml } from '../src/index.js';

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
    const r = parsePipelineYaml('apiVersion: cellpipe.io/v1\nkind: Pipeline\nmetadata: {name: x}\nspec:\n  tasks:\n    - {name: a, source: {kind: script, path: a.py}}\n');
    expect(r.diagnostics).toEqual([]);
    const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as {
      properties: { spec: { required: string[]; properties: { tasks: { items: { required: string[] } } } } };
    };
    expect(schema.properties.spec.required).toEqual(['tasks']);
    expect(schema.properties.spec.properties.tasks.items.required).toEqual(['name']);
  });
});
