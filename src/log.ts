/**
 * Logging. Library code receives a pino logger and makes one child per unit of work (`taskId`,
 * `step`, `attempt`); messages are constant, data goes in the object, errors under `err`.
 * Secrets never reach a log: known secret keys are redacted here, and secret values are masked
 * by the caller before anything that could hold them is logged.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'secrets',
  '*.secrets',
  'token',
  '*.token',
  'callbackToken',
  '*.callbackToken',
];

/**
 * The process logger: to stderr, level from RUNWARDEN_LOG_LEVEL (default `info`; `silent` to
 * mute). JSON lines for machines; on a terminal one readable line each (`RUNWARDEN_LOG_FORMAT`
 * `json` or `pretty` chooses either way).
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream; format?: 'json' | 'pretty' } = {}): Logger {
  const level = opts.level ?? process.env.RUNWARDEN_LOG_LEVEL ?? 'info';
  const envFormat = process.env.RUNWARDEN_LOG_FORMAT;
  const format = opts.format ?? (envFormat === 'json' || envFormat === 'pretty' ? envFormat : !opts.destination && process.stderr.isTTY ? 'pretty' : 'json');
  const out = opts.destination ?? (format === 'pretty' ? process.stderr : pino.destination(2));
  const destination = format === 'pretty' ? { write: (line: string) => void out.write(prettyLine(line)) } : out;
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { name: 'runwarden' } }, destination as pino.DestinationStream);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Shown in that order first; the rest follow as they come. */
const FIRST_KEYS = ['taskId', 'runbook', 'step', 'from', 'state', 'reason', 'workerId'];
const SKIP_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/**
 * One JSON log line as a person reads it on a terminal:
 * `14:02:11 INFO  task state changed taskId=tsk_… runbook=service-restart state=escalated reason="…"`.
 * Redaction happened before this (it formats what pino wrote), so it shows nothing JSON does not.
 */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '';
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const keys = [...FIRST_KEYS.filter((k) => k in o), ...Object.keys(o).filter((k) => !FIRST_KEYS.includes(k) && !SKIP_KEYS.has(k))];
  const fields = keys.map((k) => `${k}=${prettyValue(k, o[k])}`);
  return `${[time, level, String(o.msg ?? ''), ...fields].filter(Boolean).join(' ')}\n`;
}

function prettyValue(key: string, v: unknown): string {
  if (key === 'err' && v && typeof v === 'object') {
    const e = v as { message?: unknown; code?: unknown };
    return JSON.stringify(`${String(e.message ?? '')}${e.code ? ` (${String(e.code)})` : ''}`);
  }
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** A logger that writes nothing (library defaults and tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
