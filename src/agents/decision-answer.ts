/**
 * Reads a model's answer to a decision: a call of the decision function, or (for endpoints
 * without function calling) a JSON object in the text. Anything else is returned as a problem
 * for the guard to refuse; this module never judges the option itself.
 */
import type { AIMessage } from '@langchain/core/messages';
import { z } from 'zod';
import { trim } from '../orchestrator/outcome.js';
import { DECISION_TOOL_NAME } from './decision-prompt.js';

const Answer = z.object({
  option: z.string().min(1),
  rationale: z.string(),
  confidence: z.number().min(0).max(1),
});

export type DecisionAnswer =
  | { ok: true; option: string; rationale: string; confidence: number }
  | { ok: false; problem: string; raw: string };

/** Longest rationale kept; the rest is cut (it goes to the ledger and packets). */
export const MAX_RATIONALE_CHARS = 1_000;
/** Longest unreadable answer kept for the record. */
export const MAX_RAW_CHARS = 500;

type AnswerMessage = Pick<AIMessage, 'content' | 'tool_calls' | 'invalid_tool_calls'>;

export function readDecisionAnswer(msg: AnswerMessage): DecisionAnswer {
  const calls = msg.tool_calls ?? [];
  const invalid = msg.invalid_tool_calls ?? [];
  if (calls.length || invalid.length) {
    const raw = JSON.stringify([...calls.map((c) => ({ name: c.name, args: c.args })), ...invalid.map((c) => ({ name: c.name, args: c.args }))]);
    // The only function offered is the decision; a call of any other is the model acting
    // outside its role (an injected instruction, most likely), never an answer.
    const other = [...calls, ...invalid].find((c) => c.name !== DECISION_TOOL_NAME);
    if (other) return refuse(`called a function that was not offered: ${JSON.stringify(other.name ?? null)}`, raw);
    if (invalid.length) return refuse(`the ${DECISION_TOOL_NAME} arguments are not JSON`, raw);
    if (calls.length > 1) return refuse(`answered ${calls.length} times; one answer is expected`, raw);
    return validate(calls[0]!.args, raw);
  }
  const text = contentText(msg.content).trim();
  if (!text) return refuse('the answer is empty', '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripFence(text));
  } catch {
    return refuse('the answer is not JSON', text);
  }
  return validate(parsed, text);
}

function validate(value: unknown, raw: string): DecisionAnswer {
  const r = Answer.safeParse(value);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ');
    return refuse(`the answer does not have the expected shape (${why})`, raw);
  }
  return { ok: true, option: r.data.option, rationale: trim(r.data.rationale, MAX_RATIONALE_CHARS), confidence: r.data.confidence };
}

function refuse(problem: string, raw: string): DecisionAnswer {
  return { ok: false, problem, raw: trim(raw, MAX_RAW_CHARS) };
}

/** Text of a message's content, whether a string or a list of content blocks. */
export function contentText(content: AnswerMessage['content']): string {
  if (typeof content === 'string') return content;
  return content
    .map((b) => (typeof b === 'string' ? b : b.type === 'text' && typeof (b as { text?: unknown }).text === 'string' ? (b as { text: string }).text : ''))
    .join('');
}

/** Models often wrap JSON in a Markdown code fence. */
function stripFence(s: string): string {
  const m = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(s);
  return m ? m[1]!.trim() : s;
}
