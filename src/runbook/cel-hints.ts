/**
 * Words for the CEL errors a runbook author meets most, where the library's own message leaves
 * them guessing: a hyphenated id after a dot (`steps.check-health.x` reads as a subtraction), and
 * an `env.NAME` that is not there at run time (runbooks see only the variables runwarden.yaml
 * lists under `env:`, and only those that are set).
 */

/** `steps.check-health` and the like: a dotted name with a hyphen, as written. */
const HYPHENATED = /\b([A-Za-z_]\w*)\.([A-Za-z_]\w*(?:-\w+)+)/;

/**
 * A hint for a parse or type error, or undefined. `steps.chek-health.x` parses as
 * `steps.chek - health.x`, so the library reports an unknown variable `health`.
 */
export function compileHint(summary: string, source: string): string | undefined {
  const m = HYPHENATED.exec(source);
  if (!m || !/unknown variable|no such|undeclared/i.test(summary)) return undefined;
  const [, root, name] = m;
  return `a name with \`-\` cannot follow a dot (\`${root}.${name}\` reads as a subtraction): write ${root}['${name}']`;
}

/**
 * The key under which an `env` map carries the names runwarden.yaml lists (set or not), so a
 * missing `env.NAME` can be told apart: not listed, or listed and unset. A non-enumerable symbol:
 * it is no variable a runbook can read, and JSON, `Object.keys` and equality checks skip it.
 */
export const LISTED_ENV: unique symbol = Symbol.for('runwarden.listedEnv') as never;

/** The names listed under `env:`, when `env` carries them. */
function listedNames(env: object | undefined): readonly string[] | undefined {
  const names = env ? (env as { [LISTED_ENV]?: unknown })[LISTED_ENV] : undefined;
  return Array.isArray(names) ? (names as string[]) : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A message for an evaluation error, or undefined: `env.NAME` missing at run time says which
 * variable, and how to make it visible.
 */
export function evalHint(err: { code?: string; message?: string; summary?: string }, source: string, env: Readonly<Record<string, string>> | undefined): string | undefined {
  const why = err.summary ?? err.message ?? '';
  const key = /No such key: (.+)$/m.exec(why)?.[1]?.trim();
  if (!key || (env && Object.prototype.hasOwnProperty.call(env, key))) return undefined;
  const k = escapeRegExp(key);
  if (!new RegExp(`\\benv\\s*(\\.\\s*${k}\\b|\\[\\s*['"]${k}['"]\\s*\\])`).test(source)) return undefined;
  const listed = listedNames(env);
  if (listed && !listed.includes(key)) {
    return (
      `env.${key} is not listed under \`env:\` in runwarden.yaml, and runbooks see only the variables listed there ` +
      `(listed now: ${listed.length ? listed.join(', ') : 'none'}). Add it (env: [${[...listed, key].join(', ')}]) and set ${key} where the worker runs`
    );
  }
  if (listed) {
    return `env.${key} is listed under \`env:\` in runwarden.yaml but not set where the worker runs: set ${key} in the worker's environment, or test it first with has(env.${key}) where it may be unset`;
  }
  return (
    `env.${key} is not available: runbooks see only the environment variables runwarden.yaml lists under \`env:\` that are set where the worker runs. ` +
    `List it (env: [${key}]) and set ${key} in the worker's environment; for a variable that may be unset, test it first with has(env.${key})`
  );
}
