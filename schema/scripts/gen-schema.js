// Writes pipeline.schema.json and runner-contract.schema.json from the zod schemas (run `npm run gen -w schema`;
// tests check both are in sync).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipelineJsonSchema, formatJsonSchema } from '../dist/jsonschema.js';
import { runnerContractJsonSchema } from '../dist/runner-contract.js';

for (const [file, schema] of [
  ['pipeline.schema.json', pipelineJsonSchema()],
  ['runner-contract.schema.json', runnerContractJsonSchema()],
]) {
  const out = fileURLToPath(new URL(`../${file}`, import.meta.url));
  writeFileSync(out, formatJsonSchema(schema));
  console.log(`wrote ${out}`);
}
