/**
 * What the ledger keeps of a result: enough for a responder to see what happened (status, a body
 * excerpt, exit code and output tails), never the whole source record, and never headers (they
 * carry credentials and are rarely evidence).
 */

/** Largest JSON excerpt of a body kept in the ledger, in characters. */
export const OBSERVED_BODY_LIMIT = 2000;

export function observe(result: unknown): unknown {
  if (result === null || result === undefined) return null;
  if (typeof result !== 'object') return clip(result);
  const r = result as Record<string, unknown>;
  if (typeof r.status === 'number' && 'body' in r) return { status: r.status, body: clip(r.body) };
  if (typeof r.exitCode === 'number') {
    return { exitCode: r.exitCode, stdout: tail(String(r.stdout ?? '')), stderr: tail(String(r.stderr ?? '')) };
  }
  return clip(result);
}

function clip(v: unknown): unknown {
  const s = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  if (s.length <= OBSERVED_BODY_LIMIT) return v;
  return { excerpt: s.slice(0, OBSERVED_BODY_LIMIT), truncated: s.length - OBSERVED_BODY_LIMIT };
}

function tail(s: string): string {
  return s.length <= 1000 ? s : `…${s.slice(-1000)}`;
}
