/**
 * The agent behind `decide` steps. It proposes; the orchestrator's guard decides (an option not
 * offered, a made-up one, an answer that does not parse, a late one or low confidence is refused
 * there). Without a configured model there is no agent and `decide` steps take their `fallback`.
 */
export interface DecisionRequest {
  taskId: string;
  step: string;
  question: string;
  /** What the step's `show` lists, evaluated and masked: data, never instructions. */
  shown: Record<string, unknown>;
  /** The offered options only (those whose `when` held). */
  options: { id: string; goto?: string; escalate: boolean }[];
  /** Aborted at the step's timeout or when the worker stops: the call must end with it. */
  signal: AbortSignal;
  timeoutMs?: number;
}

/** Token use of one model call, as the endpoint reported it. */
export interface TokenUse {
  input?: number;
  output?: number;
}

/**
 * What the model answered. An agent never throws for an answer it cannot read: it returns the
 * proposal with `problem` set (and the text in `raw`), so the guard refuses it as `off_policy`
 * and the refused answer is on the record.
 */
export interface DecisionProposal {
  option: string;
  rationale: string;
  confidence: number;
  model: string;
  latencyMs?: number;
  tokens?: TokenUse;
  /** Why the answer cannot be taken as it is (did not parse, called another tool, came too late). */
  problem?: string;
  /** The model's answer as text, trimmed, when it could not be read. */
  raw?: string;
}

export interface DecisionAgent {
  readonly model: string;
  propose(req: DecisionRequest): Promise<DecisionProposal>;
}

/**
 * A model call that failed without an answer (HTTP error, refused connection). Agents throw it
 * so the executor can classify the failure by status and record the model and latency.
 */
export class ModelCallError extends Error {
  readonly isModelCallError = true;
  constructor(
    message: string,
    readonly model: string,
    /** HTTP status of the endpoint's answer; undefined when none came (connection failed). */
    readonly status: number | undefined,
    readonly latencyMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelCallError';
  }
}

export function isModelCallError(err: unknown): err is ModelCallError {
  return typeof err === 'object' && err !== null && (err as ModelCallError).isModelCallError === true;
}
