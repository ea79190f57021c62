export * from './spec.js';
export * from './api.js';
export * from './diagnostics.js';
export { compileNotebook, type CompileOptions } from './compile.js';
export { parsePipelineYaml, pipelineToYaml, type ParseYamlOptions } from './yaml.js';
export { taskCode, type CellCode, type TaskCode } from './taskcode.js';
