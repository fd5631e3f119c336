/**
 * The smallest parts of the config schema (variable names, secret references), apart so the
 * schemas of config sections in their own files can use them without an import circle.
 */
import { z } from 'zod';

/** Environment variable names as POSIX shells accept them. */
export const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name: letters, digits and _, not starting with a digit')
  .describe('an environment variable name');

/** Where a secret comes from: exactly one of an environment variable or a file. */
export const SecretRef = z
  .strictObject({
    env: EnvName.optional().describe('read from this environment variable'),
    file: z
      .string()
      .min(1)
      .optional()
      .describe('read from this file (relative to the config file); one trailing newline is dropped'),
  })
  .refine((r) => (r.env === undefined) !== (r.file === undefined), 'give exactly one of env or file')
  .describe('a value read at start from the environment or a file');
export type SecretRef = z.infer<typeof SecretRef>;

/** A string written inline, or a reference to one held elsewhere (and so treated as secret). */
export const StringOrRef = z
  .union([z.string().min(1), SecretRef], { error: 'expected a string, { env: VAR } or { file: path }' })
  .describe('a string, or { env: VAR } / { file: path } to keep it out of the file');
export type StringOrRef = z.infer<typeof StringOrRef>;
