// Writes pipeline.schema.json from the zod schemas (run `npm run gen -w schema`; a test checks it is in sync).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipelineJsonSchema, formatJsonSchema } from '../dist/jsonschema.js';

const out = fileURLToPath(new URL('../pipeline.schema.json', import.meta.url));
writeFileSync(out, formatJsonSchema(pipelineJsonSchema()));
console.log(`wrote ${out}`);
