/**
 * One request to an intake source, from raw bytes to tasks: check the credential (the signature
 * over the raw body, or a bearer token with the intake role when the source has no secret), read
 * the payload, split it into units (the alerts of an Alertmanager group, else the payload itself),
 * map each unit with the source's CEL mapping, and submit it through the ordinary intake, so a
 * source-made task is deduplicated, validated and guarded exactly as a submitted one. A resolved
 * unit cancels its task when the source says so and the task has not started.
 *
 * Every request is recorded in the intake log with what each unit became, refused ones included:
 * a mapping that matches nothing, or a sender with the wrong secret, shows there instead of
 * vanishing.
 */
import type { DeploymentConfig } from '../config/index.js';
import type { ResolvedIntakeSource } from '../config/intake-sources.js';
import { isRunwardenError, RunwardenError } from '../errors.js';
import { newId } from '../ids.js';
import { checkRequestLimits, formatBytes } from '../orchestrator/intake-limits.js';
import { submitTask, type IntakeRunbooks, type TaskRequest } from '../orchestrator/intake.js';
import { cancel, type ActionContext } from '../orchestrator/operator.js';
import type { IntakeVars } from '../runbook/cel.js';
import type { Db } from '../store/db.js';
import { insertIntakeEvent, insertTaskOrigin, taskOrigin, type IntakeEventRow, type IntakeUnitResult } from '../store/intake-log.js';
import { taskByExternalRef } from '../store/intake.js';
import type { TaskRow } from '../store/tasks.js';
import { originTarget } from './origin.js';
import { deliveryIdOf, signatureProblem, type Headers } from './verify.js';
import { enqueueOutcome } from './writeback.js';

export interface IntakeDeps {
  db: Db;
  config: DeploymentConfig;
  runbooks: IntakeRunbooks;
  now: () => Date;
  /** The operator-action hook (packets resolved when a source cancels a task). */
  onAction?: ActionContext['onAction'];
  /** Base URL of the console, for the links written back. */
  publicUrl?: string;
}

export interface IntakeRequest {
  body: Buffer;
  /** Header names in lower case. */
  headers: Headers;
  /** Whether the request carried a bearer token with the intake (or admin) role. */
  bearerOk: boolean;
}

export interface IntakeResponse {
  /** 200 processed (whatever each unit became), 400 unreadable, 401 no valid credential, 404 no such source, 413 too large. */
  status: 200 | 400 | 401 | 404 | 413;
  event?: IntakeEventRow;
  error?: string;
}

const SUMMARY_KEYS = ['created', 'deduplicated', 'rejected', 'refused', 'excluded', 'cancelled', 'ignored'] as const;

function summarise(results: IntakeUnitResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of SUMMARY_KEYS) {
    const n = results.filter((r) => r.result === k).length;
    if (n) out[k] = n;
  }
  return out;
}

/** The units of a payload: the alerts of an Alertmanager group, else the payload as one. */
function unitsOf(source: ResolvedIntakeSource, payload: unknown): { units: Array<{ name: string; event: unknown }> } | { error: string } {
  const obj = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  switch (source.type) {
    case 'alertmanager':
      if (!obj || obj.version !== '4' || !Array.isArray(obj.alerts)) return { error: 'not an Alertmanager webhook (version "4" with an alerts list)' };
      return { units: obj.alerts.map((a, i) => ({ name: `alerts[${i}]`, event: a })) };
    case 'pagerduty':
      if (!obj || typeof obj.event !== 'object' || obj.event === null) return { error: 'not a PagerDuty v3 webhook (an object with event)' };
      return { units: [{ name: 'payload', event: payload }] };
    case 'jira':
      if (!obj || typeof obj.webhookEvent !== 'string') return { error: 'not a Jira webhook (an object with webhookEvent)' };
      return { units: [{ name: 'payload', event: payload }] };
    case 'github':
      if (!obj) return { error: 'not a GitHub webhook (a JSON object)' };
      return { units: [{ name: 'payload', event: payload }] };
    case 'webhook':
      return { units: [{ name: 'payload', event: payload }] };
  }
}

function errorText(err: unknown): string {
  return isRunwardenError(err) || err instanceof Error ? err.message : String(err);
}

/** Maps one unit: undefined when `when` excludes it, else the request (or why it could not be made). */
export function mapUnit(source: ResolvedIntakeSource, vars: IntakeVars): { resolved: boolean; request?: TaskRequest & { externalRef?: string } ; excluded?: true } {
  const m = source.mapping;
  const bool = (field: 'when' | 'resolved'): boolean => {
    const e = m[field];
    if (!e) return field === 'when';
    const v = e.evaluate(vars);
    if (typeof v !== 'boolean') throw new RunwardenError('EXPRESSION_FAILED', `mapping.${field} must give a bool, gave ${JSON.stringify(v)}`);
    return v;
  };
  const resolved = bool('resolved');
  if (!resolved && !bool('when')) return { resolved, excluded: true };
  const value = (field: 'taskClass' | 'externalRef' | 'input' | 'requestedBy' | 'priority') => m[field]?.evaluate(vars);
  const requestedBy = value('requestedBy') ?? `${source.type}:${source.name}`;
  const externalRef = value('externalRef');
  // The request goes to submitTask as mapped: a wrong type there is a rejection with its path.
  const request = {
    taskClass: value('taskClass'),
    ...(externalRef !== undefined && externalRef !== null ? { externalRef } : {}),
    requestedBy,
    input: value('input') ?? {},
    priority: value('priority') ?? 0,
  } as TaskRequest & { externalRef?: string };
  return { resolved, request };
}

/** True for a task no worker has begun: queued, every step still pending. */
function notStarted(t: TaskRow): boolean {
  return t.state === 'queued' && Object.values(t.steps).every((s) => s.status === 'pending' && s.attempts === 0);
}

async function resolveUnit(deps: IntakeDeps, source: ResolvedIntakeSource, unit: string, externalRef: unknown, now: Date): Promise<IntakeUnitResult> {
  if (typeof externalRef !== 'string' || !externalRef) return { unit, result: 'ignored', reason: 'resolved, but the mapping gives no externalRef to find its task by' };
  const base = { unit, externalRef };
  const task = await taskByExternalRef(deps.db, externalRef);
  const origin = task ? await taskOrigin(deps.db, task.id) : undefined;
  if (!task) return { ...base, result: 'ignored', reason: 'resolved; no task has this externalRef' };
  if (origin?.source !== source.name) return { ...base, taskId: task.id, result: 'ignored', reason: `resolved; task ${task.id} did not come from source ${source.name}` };
  if (source.onResolved === 'ignore') return { ...base, taskId: task.id, result: 'ignored', reason: 'resolved; onResolved is ignore' };
  if (!notStarted(task)) return { ...base, taskId: task.id, result: 'ignored', reason: `resolved; task ${task.id} has started (${task.state}), so it runs on` };
  try {
    await cancel(
      { db: deps.db, runbooks: deps.runbooks, now, ...(deps.onAction ? { onAction: deps.onAction } : {}) },
      task.id,
      { operator: `source:${source.name}`, reason: `resolved at the ${source.type} source ${source.name} before the task started` },
    );
    return { ...base, taskId: task.id, result: 'cancelled' };
  } catch (err) {
    // A worker took it meanwhile: it has started, and runs on.
    return { ...base, taskId: task.id, result: 'ignored', reason: `resolved; not cancelled: ${errorText(err)}` };
  }
}

async function submitUnit(deps: IntakeDeps, source: ResolvedIntakeSource, unit: string, request: TaskRequest & { externalRef?: string }, vars: IntakeVars, now: Date): Promise<IntakeUnitResult> {
  const base = { unit, ...(typeof request.externalRef === 'string' ? { externalRef: request.externalRef } : {}) };
  try {
    const { task, created } = await deps.db.transaction(async (tx) => {
      const r = await submitTask(tx, deps.runbooks, request, {
        now,
        env: { ...deps.config.env },
        secrets: { ...deps.config.secrets },
        actor: `source:${source.name}`,
        limits: deps.config.intake,
      });
      if (r.created) {
        await insertTaskOrigin(tx, { taskId: r.task.id, source: source.name, sourceType: source.type, target: originTarget(source, vars) }, now);
        if (r.task.state === 'rejected' && source.writeBack) await enqueueOutcome(tx, deps, r.task, 'ended');
      }
      return r;
    });
    if (!created) return { ...base, taskId: task.id, result: 'deduplicated' };
    if (task.state === 'rejected') {
      const rej = task.rejection as { kind: string; problems: Array<{ path: string; message: string }> } | null;
      return { ...base, taskId: task.id, result: 'rejected', reason: `${rej?.kind ?? 'rejected'}: ${(rej?.problems ?? []).map((p) => `${p.path}: ${p.message}`).join('; ')}` };
    }
    return { ...base, taskId: task.id, result: 'created' };
  } catch (err) {
    return { ...base, result: 'refused', reason: errorText(err) };
  }
}

/** Handles one request to the source `name` (see the module comment). Never throws for bad input. */
export async function receiveIntake(deps: IntakeDeps, name: string, req: IntakeRequest): Promise<IntakeResponse> {
  const source = deps.config.intakeSources[name];
  if (!source) {
    const known = Object.keys(deps.config.intakeSources).sort();
    return { status: 404, error: `no intake source ${name}; configured: ${known.join(', ') || 'none (intake.sources in runwarden.yaml)'}` };
  }
  const now = deps.now();
  const record = async (outcome: IntakeEventRow['outcome'], results: IntakeUnitResult[], error: string | null): Promise<IntakeEventRow> => {
    const event: IntakeEventRow = {
      id: newId('iev'),
      source: name,
      sourceType: source.type,
      receivedAt: now,
      deliveryId: deliveryIdOf(source.type, req.headers)?.slice(0, 200) ?? null,
      outcome,
      summary: summarise(results),
      results,
      error,
    };
    await insertIntakeEvent(deps.db, event);
    return event;
  };

  // The credential first: nothing of an unauthenticated body is read.
  const why = source.secret ? signatureProblem(source.type, source.secret, req.body, req.headers, now) : req.bearerOk ? undefined : 'no bearer token with the intake role (the source has no secret, so a token is its credential)';
  if (why) return { status: 401, error: why, event: await record('unauthorized', [], why) };

  const limits = deps.config.intake;
  if (req.body.length > limits.maxRequestBytes) {
    const error = `the request is ${formatBytes(req.body.length)}; the limit is ${formatBytes(limits.maxRequestBytes)} (intake.maxRequestSize in runwarden.yaml)`;
    return { status: 413, error, event: await record('invalid', [], error) };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(req.body.toString('utf8'));
    checkRequestLimits(payload, limits);
  } catch (err) {
    const error = err instanceof SyntaxError ? `the body is not JSON: ${err.message}` : errorText(err);
    return { status: 400, error, event: await record('invalid', [], error) };
  }
  const split = unitsOf(source, payload);
  if ('error' in split) return { status: 400, error: split.error, event: await record('invalid', [], split.error) };

  const headers = Object.fromEntries(Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const results: IntakeUnitResult[] = [];
  for (const { name: unit, event } of split.units) {
    const vars: IntakeVars = { payload, event, headers, env: { ...deps.config.env } };
    let mapped: ReturnType<typeof mapUnit>;
    try {
      mapped = mapUnit(source, vars);
    } catch (err) {
      results.push({ unit, result: 'refused', reason: `mapping failed: ${errorText(err)}` });
      continue;
    }
    if (mapped.excluded) results.push({ unit, result: 'excluded', reason: 'the mapping\'s when is false' });
    else if (mapped.resolved) results.push(await resolveUnit(deps, source, unit, mapped.request?.externalRef, now));
    else results.push(await submitUnit(deps, source, unit, mapped.request!, vars, now));
  }
  return { status: 200, event: await record('processed', results, null) };
}
