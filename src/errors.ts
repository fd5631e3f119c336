/**
 * runwarden's errors: a stable string code, a message that says what was wrong, what is allowed
 * and what was received, and whether retrying can help. Every code is listed in ERROR_CODES (and
 * in docs/errors.md, kept complete by a test). Escalation is a returned decision, not an error.
 */

export const ERROR_CODES = {
  RUNBOOK_INVALID: { exit: 1, http: 422, retryable: false, doc: 'A runbook failed validation, or a task request names a class whose runbook did not load (nothing is stored; the same request works once it is fixed); each problem names file:line:col.' },
  RUNBOOK_NOT_FOUND: { exit: 1, http: 404, retryable: false, doc: 'No runbook with that id, or none handles that task class.' },
  CONFIG_INVALID: { exit: 1, http: 500, retryable: false, doc: 'The deployment config (runwarden.yaml) failed validation.' },
  REQUEST_INVALID: { exit: 1, http: 400, retryable: false, doc: 'A request (task intake, operator action, callback) is malformed.' },
  REQUEST_TOO_LARGE: { exit: 1, http: 413, retryable: false, doc: 'A task request is larger, or nested deeper, than the intake limits (`intake:` in runwarden.yaml; default 256 KiB and 32 levels); nothing of it is stored.' },
  EXTERNAL_REF_CONFLICT: { exit: 1, http: 409, retryable: false, doc: 'The externalRef already names a task created from a different request; the message names the fields that differ. The same request again returns that task.' },
  TASK_NOT_FOUND: { exit: 1, http: 404, retryable: false, doc: 'No task with that id or externalRef.' },
  ILLEGAL_TRANSITION: { exit: 1, http: 409, retryable: false, doc: 'The transition table does not allow the task to move from its current state to the requested one.' },
  ACTION_NOT_ALLOWED: { exit: 1, http: 409, retryable: false, doc: 'The operator action is not allowed from the task\'s current state.' },
  CONFIRMATION_REQUIRED: { exit: 1, http: 409, retryable: false, doc: 'The action would repeat steps that changed something; confirm with --yes.' },
  TASK_CHANGED: { exit: 1, http: 409, retryable: true, doc: 'The task changed while you acted (a worker or another operator wrote to it after your action read it); nothing was written. Read it again and decide again.' },
  LEASE_LOST: { exit: 1, http: 409, retryable: true, doc: 'Another worker holds the task now; this worker stopped touching it.' },
  EXPRESSION_FAILED: { exit: 1, http: 422, retryable: false, doc: 'A runbook expression could not be evaluated at run time (a missing key, a wrong type).' },
  CALLBACK_UNKNOWN: { exit: 1, http: 404, retryable: false, doc: 'No task is waiting on that callback token.' },
  UNAUTHORIZED: { exit: 1, http: 401, retryable: false, doc: 'The API request carries no valid bearer token (`Authorization: Bearer <token>`; create one with `runwarden tokens add`).' },
  FORBIDDEN: { exit: 1, http: 403, retryable: false, doc: "The bearer token's role does not grant this route (intake submits; viewer reads; operator reads and acts; admin does all)." },
  ROUTE_NOT_FOUND: { exit: 1, http: 404, retryable: false, doc: 'No API route with that method and path (GET /v1/openapi.json lists them).' },
  DATABASE_UNAVAILABLE: { exit: 1, http: 503, retryable: true, doc: 'The database could not be reached or opened.' },
  USAGE: { exit: 2, http: 400, retryable: false, doc: 'The command line was not understood.' },
  INTERNAL: { exit: 1, http: 500, retryable: false, doc: 'A bug: an unexpected exception inside runwarden.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem inside a larger refusal (a runbook field, a JSON path of a request). */
export interface Problem {
  /** JSON path of the offending value, e.g. `steps[2].repeat` or `input.environment`. */
  path: string;
  message: string;
  file?: string;
  line?: number;
  col?: number;
}

export class RunwardenError extends Error {
  readonly isRunwardenError = true as const;
  readonly code: ErrorCode;
  readonly problems: Problem[];
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { problems?: Problem[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RunwardenError';
    this.code = code;
    this.problems = opts.problems ?? [];
    this.details = opts.details ?? {};
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): Record<string, unknown> {
    return {
      error: {
        code: this.code,
        message: this.message,
        retryable: this.retryable,
        ...(this.problems.length ? { problems: this.problems } : {}),
        ...(Object.keys(this.details).length ? { details: this.details } : {}),
      },
    };
  }
}

export function isRunwardenError(err: unknown): err is RunwardenError {
  return typeof err === 'object' && err !== null && (err as { isRunwardenError?: unknown }).isRunwardenError === true;
}

/** Formats a problem the way editors jump to it: `file:line:col: path: message`. */
export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}:${p.line ?? 1}:${p.col ?? 1}: ` : '';
  const path = p.path ? `${p.path}: ` : '';
  return `${where}${path}${p.message}`;
}
