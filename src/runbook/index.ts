/** The runbook format v1: load, validate, compile. Types of the compiled plan are in plan.ts. */
export type * from './plan.js';
export { loadRunbookSet, loadRunbookFiles, compileRunbookText, buildRunbookSet, type LoadOptions, type LoadResult } from './load.js';
export { compileExpr, toCel, fromCel, type CelScope, type CelError, type CelRef } from './cel.js';
export { compileTemplate, splitTemplate, hasInterpolation } from './template.js';
export { parseDuration, tryParseDuration, formatDuration, DURATION_PATTERN } from './duration.js';
export { RunbookSchema, StepSchema, InputSchema, SEVERITIES, type RunbookDoc, type StepDoc, type InputSchemaNode } from './schema.js';
export { WITH_SCHEMAS, HTTP_METHODS, READ_ONLY_METHODS, actionChanges, type PluginRegistry, type PluginSpec } from './action-schema.js';
export { BUILTIN_RETRY, mergeRetry } from './retry-defaults.js';
export { DEFAULTS, deepFreeze } from './compile.js';
export { runbookJsonSchema } from './json-schema.js';
export { formatPath } from './yaml-source.js';
