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

/** The process logger: JSON to stderr, level from RUNWARDEN_LOG_LEVEL (default `info`; `silent` to mute). */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.RUNWARDEN_LOG_LEVEL ?? 'info';
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { name: 'runwarden' } },
    (opts.destination ?? pino.destination(2)) as pino.DestinationStream,
  );
}

/** A logger that writes nothing (library defaults and tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
