/** JSON Schema of a pipeline document, generated from the zod schemas (the committed copy is schema/pipeline.schema.json). */
import { z } from 'zod';
import { PipelineSchema } from './spec.js';

export const PIPELINE_SCHEMA_ID = 'https://cellpipe.io/schemas/pipeline.v1.json';

/** What a person writes: fields with defaults are optional (zod's input side). */
export function pipelineJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(PipelineSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...generated,
    $id: PIPELINE_SCHEMA_ID,
    title: 'Cellpipe Pipeline (apiVersion cellpipe.io/v1, kind Pipeline)',
  };
}

/** The committed file's exact text, so the sync test compares like with like. */
export function formatJsonSchema(schema: Record<string, unknown>): string {
  return JSON.stringify(schema, null, 2) + '\n';
}
