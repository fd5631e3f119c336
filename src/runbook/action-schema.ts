/**
 * The `with` shape of each built-in action (runbook-format.md, "Actions"), and the small field
 * schemas the runbook schema shares. The descriptions are the reference documentation: the docs
 * generator reads them, and editors show them through the JSON Schema.
 */
import { z } from 'zod';
import { BUILTIN_ACTIONS, type BuiltinAction } from '../lifecycle/vocabulary.js';
import { DURATION_HINT, DURATION_PATTERN } from './duration.js';

/** HTTP methods an `http` action may use. */
export const HTTP_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Methods that change nothing: an `http` step using one needs no `repeat`. */
export const READ_ONLY_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'OPTIONS'];

/** Step, check and runbook ids: kebab-case, so they read the same in YAML, CEL and URLs. */
export const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Names of captured values: they are read back in CEL as `steps.<id>.<name>`. */
export const CAPTURE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** A duration string (`500ms`, `10s`, `2m`, `1h`, `1d`), converted to milliseconds by the compiler. */
// A bare number (`within: 5`) is the usual slip: its message names the unit it lacks.
export const Duration = z.string({ error: `expected a duration with its unit (5s, not 5): ${DURATION_HINT}` }).regex(DURATION_PATTERN, { error: `expected a duration: ${DURATION_HINT}` });

/** A CEL expression over `input`, `task`, `steps`, `env`, `secrets`. */
export const CelExpr = z.string().min(1, { error: 'expected a CEL expression, got an empty string' });

/** A CEL expression that also sees `result`, the action's result. */
export const ResultCelExpr = CelExpr;

/** A string that may interpolate CEL with `${...}` (`$${` is a literal `${`). */
export const TemplateString = z.string();

/** A captured or computed value's name. */
export const CaptureName = z.string().regex(CAPTURE_NAME, { error: 'expected a name of letters, digits and _, starting with a letter' });

/** A runbook, step, check or option id. */
export const KebabId = z.string().regex(KEBAB_CASE, { error: 'expected a kebab-case id (lower-case letters, digits and single dashes, starting with a letter)' });

const TemplateMap = z.record(z.string(), TemplateString);

export const HttpWith = z
  .strictObject({
    system: z.string().min(1).optional().describe('Name of a system under `systems`; the request goes to its `baseUrl` + `path` with its headers and timeout. Give `system` or `url`, not both.'),
    url: TemplateString.optional().describe('Absolute URL, for calls outside the named systems (template). Give `system` or `url`, not both.'),
    path: TemplateString.optional().describe("Path appended to the system's `baseUrl` (template), e.g. `/services/${input.service}/health`. Only with `system`; default: none."),
    method: z.enum(HTTP_METHODS).optional().describe('HTTP method. Default `GET`. Anything but GET, HEAD and OPTIONS changes state, so the step needs `repeat`.'),
    headers: TemplateMap.optional().describe("Request headers (templates), added to the system's headers; a header named here wins."),
    query: TemplateMap.optional().describe('Query parameters (templates).'),
    body: z.unknown().optional().describe('JSON request body; every string in it is a template, and a string that is exactly one `${expr}` keeps the value\'s type.'),
    idempotencyKey: TemplateString.optional().describe('Sent as the `Idempotency-Key` header (template), e.g. `${task.id}:restart`. Stable across retries and crash recovery, which is what makes `repeat: keyed` safe.'),
  })
  .describe('`http`: one HTTP request. Result: `status`, `headers`, `body` (parsed JSON when the response is JSON).');

export const ExecWith = z
  .strictObject({
    program: z.string().min(1).describe('Program to run; must be listed in `policy.allowExec`. Not a template: what may run is fixed at review.'),
    args: z.array(TemplateString).optional().describe('Arguments as an argv list (templates); never a shell string. Default: none.'),
    env: TemplateMap.optional().describe("Extra environment variables (templates). Nothing of the executor's own environment is passed on except PATH."),
    cwd: TemplateString.optional().describe("Working directory (template). Default: the executor's."),
  })
  .describe('`exec`: runs a program. Result: `exitCode`, `stdout`, `stderr`. An exec step changes state, so it needs `repeat`.');

export const WaitWith = z
  .strictObject({
    within: Duration.optional().describe('How long to wait for the callback before failing as `callback_timeout`. Default: the rest of the task deadline.'),
  })
  .describe('`wait`: waits for an external callback (`POST /v1/callbacks/<token>` or `runwarden callback`). Result: the callback\'s JSON body.');

export const ApproveWith = z
  .strictObject({
    route: z.string().min(1).optional().describe("Escalation route of the people who approve. Default: the step's `route`, else the runbook's escalation route."),
    prompt: TemplateString.optional().describe('What the approver is asked (template).'),
  })
  .describe('`approve`: a planned human gate. Result: the approver and their note.');

export const DecideOption = z
  .strictObject({
    id: KebabId.describe('Option id, what the agent answers with.'),
    goto: z.string().min(1).optional().describe('Step to continue with: a later step id, or `end`. Default: the next step in order.'),
    escalate: z.boolean().optional().describe('Choosing this option escalates to a person. Default false.'),
    when: CelExpr.optional().describe('Offer this option only when this CEL condition holds. Default: always offered.'),
  })
  .describe('One choice the agent may make.');

export const DecideWith = z
  .strictObject({
    question: z.string().min(1).describe('The question the agent answers.'),
    show: z.array(CelExpr).optional().describe('What the agent may see, each a CEL expression (`input`, `"steps[\'check-health\']"`); nothing else is shown. Default: nothing.'),
    options: z.array(DecideOption).min(1).describe('The choices; only those whose `when` holds are offered.'),
    minConfidence: z.number().min(0).max(1).optional().describe('An answer with lower confidence escalates as `ambiguous`. Default 0.7.'),
  })
  .describe('`decide`: an agent chooses one of `options`. Result: the chosen option and rationale. Without a configured model the step takes its `fallback`.');

export const SetWith = z
  .record(CaptureName, CelExpr)
  .describe('`set`: computes values into the task context, each a CEL expression, readable later as `steps.<id>.<name>`. Result: the values.');

/** `with` schema of each built-in action. Plugins bring their own. */
export const WITH_SCHEMAS: Record<BuiltinAction, z.ZodType> = {
  http: HttpWith,
  exec: ExecWith,
  wait: WaitWith,
  approve: ApproveWith,
  decide: DecideWith,
  set: SetWith,
};

/** True for `http`, `exec`, `wait`, `approve`, `decide` and `set`; anything else names a plugin. */
export function isBuiltinAction(action: string): action is BuiltinAction {
  return (BUILTIN_ACTIONS as readonly string[]).includes(action);
}

/** Actions that may undo a step, probe it or verify it: they run unattended, possibly repeatedly. */
export const UNATTENDED_ACTIONS = ['http', 'exec'] as const;

export type HttpWithDoc = z.infer<typeof HttpWith>;
export type ExecWithDoc = z.infer<typeof ExecWith>;
export type WaitWithDoc = z.infer<typeof WaitWith>;
export type ApproveWithDoc = z.infer<typeof ApproveWith>;
export type DecideWithDoc = z.infer<typeof DecideWith>;
export type SetWithDoc = z.infer<typeof SetWith>;

/** What the loader needs to know of a plugin action (the agents' plugin objects fit this). */
export interface PluginSpec {
  /** Validates the action's `with`. */
  schema: z.ZodType;
  /** Whether the action changes something outside, so its steps need `repeat`. Default true. */
  changes?: boolean;
}

/** Plugin actions by name, as a Map or a plain object. */
export type PluginRegistry = ReadonlyMap<string, PluginSpec> | Readonly<Record<string, PluginSpec>>;

/** The plugin registered under `name`, if any. */
export function lookupPlugin(registry: PluginRegistry | undefined, name: string): PluginSpec | undefined {
  if (!registry) return undefined;
  if (registry instanceof Map) return registry.get(name);
  return Object.prototype.hasOwnProperty.call(registry, name) ? (registry as Record<string, PluginSpec>)[name] : undefined;
}

/** Names of the registered plugins (none without a registry). */
export function pluginNames(registry: PluginRegistry | undefined): string[] {
  if (!registry) return [];
  return registry instanceof Map ? [...registry.keys()] : Object.keys(registry);
}

/**
 * Whether an action changes something outside: http with a method other than GET, HEAD and
 * OPTIONS, every exec, and plugins that do not say otherwise. The built-in gates and `set` only
 * touch the task itself.
 */
export function actionChanges(action: string, withValue: unknown, plugins?: PluginRegistry): boolean {
  if (action === 'http') {
    const method = (withValue as { method?: unknown } | undefined)?.method;
    return !READ_ONLY_METHODS.includes((typeof method === 'string' ? method : 'GET') as HttpMethod);
  }
  if (action === 'exec') return true;
  if (isBuiltinAction(action)) return false;
  return lookupPlugin(plugins, action)?.changes ?? true;
}
