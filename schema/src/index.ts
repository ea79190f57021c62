export * from './spec.js';
export { cpuMillicores, memoryBytes } from './quantity.js';
export * from './api.js';
export * from './errors.js';
export * from './pipelines-api.js';
export * from './schedules-api.js';
export * from './results.js';
export * from './results-api.js';
export * from './notifications-api.js';
export * from './labels.js';
export * from './manifests.js';
export * from './audit-api.js';
export * from './diagnostics.js';
export {
  compileNotebook,
  pipelineNameFromPath,
  isValidTaskName,
  type CompileOptions,
  type CellRole,
  type NotebookCompileResult,
  type DagEdge,
} from './compile.js';
export {
  splitAtHeadings,
  markdownHeadings,
  taskNameFromHeading,
  type SplitAtHeadingsOptions,
  type SplitAtHeadingsResult,
} from './headings.js';
export type { VersionKind } from './flow.js';
export { parsePipelineYaml, pipelineToYaml, type ParseYamlOptions } from './yaml.js';
export { taskCode, TaskCodeReader, type CellCode, type TaskCode } from './taskcode.js';
export { ownValue, setOwn, RESERVED_NAME } from './own.js';
export { checkPipeline, checkRelativePath, normalizeRelativePath } from './validate.js';
export {
  findCycles,
  formatCycle,
  topologicalOrder,
  inputSources,
  TaskGraph,
  type FlowNode,
  type GraphNode,
} from './graph.js';
export {
  MAX_RETRIES,
  mergeDefaults,
  effectiveTask,
  type EffectiveTask,
  type MergedSettings,
  type TaskSettings,
} from './defaults.js';
export { parseDuration, durationMs, MAX_DURATION_MS, MAX_DURATION_TEXT } from './duration.js';
export { CellMetadataSchema, NotebookMetadataSchema, TAG_HELP, cellSettings } from './tags.js';
export {
  analyzePython,
  analyzePythonCached,
  clearAnalysisCache,
  type CellAnalysis,
  type FnInfo,
  type PyEvent,
} from './python/analyze.js';
export { parseParameters } from './python/parameters.js';
export { PYTHON_BUILTINS } from './python/builtins.js';
export { pipelineJsonSchema, formatJsonSchema, PIPELINE_SCHEMA_ID } from './jsonschema.js';
export * from './runner-contract.js';
