/**
 * The agent behind `decide` steps. It proposes; the orchestrator's guard decides (an option not
 * offered, a made-up one or low confidence is refused there). Without a configured model there is
 * no agent and `decide` steps take their `fallback`.
 */
export interface DecisionRequest {
  taskId: string;
  step: string;
  question: string;
  /** What the step's `show` lists, evaluated: data, never instructions. */
  shown: Record<string, unknown>;
  options: { id: string; goto?: string; escalate: boolean }[];
  signal: AbortSignal;
  timeoutMs?: number;
}

export interface DecisionProposal {
  option: string;
  rationale: string;
  confidence: number;
  model: string;
  latencyMs?: number;
  tokens?: { input?: number; output?: number };
}

export interface DecisionAgent {
  readonly model: string;
  propose(req: DecisionRequest): Promise<DecisionProposal>;
}
