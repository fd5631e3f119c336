/**
 * The shape of `runwarden.yaml` (interfaces.md, "Deployment config") and of the API tokens file,
 * as written on disk, before secrets are resolved. Every object is strict: an unknown key is a
 * typo until proven otherwise, and a silently ignored `rotues:` would leave packets undelivered.
 */
import { z } from 'zod';
import { ROLES, WORK_ROLES } from '../lifecycle/vocabulary.js';

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

/**
 * A secret runbooks read as `secrets.NAME`: where it comes from, and the roles granted it
 * (`roles`; default every role). A worker loads only the secrets of the roles it serves, and a
 * runbook expression whose role is not granted the secret it reads does not load.
 */
export const SecretEntry = z
  .strictObject({
    env: EnvName.optional().describe('read from this environment variable'),
    file: z
      .string()
      .min(1)
      .optional()
      .describe('read from this file (relative to the config file); one trailing newline is dropped'),
    roles: z
      .array(z.enum(WORK_ROLES))
      .min(1)
      .optional()
      .describe(`the roles that may read it: ${WORK_ROLES.join(', ')}; default all`),
  })
  .refine((r) => (r.env === undefined) !== (r.file === undefined), 'give exactly one of env or file')
  .describe('a secret read at start from the environment or a file, granted to roles');
export type SecretEntry = z.infer<typeof SecretEntry>;

/** A string written inline, or a reference to one held elsewhere (and so treated as secret). */
export const StringOrRef = z
  .union([z.string().min(1), SecretRef], { error: 'expected a string, { env: VAR } or { file: path }' })
  .describe('a string, or { env: VAR } / { file: path } to keep it out of the file');
export type StringOrRef = z.infer<typeof StringOrRef>;

/** Default PagerDuty Events API v2 endpoint. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export const SINK_TYPES = ['webhook', 'pagerduty', 'slack', 'file'] as const;
export type SinkType = (typeof SINK_TYPES)[number];

export const WebhookSink = z
  .strictObject({
    type: z.literal('webhook').describe('JSON POST signed per Standard Webhooks'),
    url: StringOrRef.describe('where to POST the packet'),
    secret: StringOrRef.describe('signing secret, `whsec_` followed by base64'),
  })
  .describe('a signed JSON webhook');

export const PagerdutySink = z
  .strictObject({
    type: z.literal('pagerduty').describe('PagerDuty Events API v2'),
    routingKey: StringOrRef.describe('integration (routing) key of the PagerDuty service'),
    url: StringOrRef.optional().describe(`Events API endpoint; default ${PAGERDUTY_EVENTS_URL}`),
  })
  .describe('a PagerDuty alert, deduplicated by task id');

export const SlackSink = z
  .strictObject({
    type: z.literal('slack').describe('Slack incoming webhook'),
    url: StringOrRef.describe('incoming-webhook URL (it is a credential: prefer { env } or { file })'),
  })
  .describe('a Slack Block Kit message');

export const FileSink = z
  .strictObject({
    type: z.literal('file').describe('JSON lines appended to a file'),
    path: StringOrRef.describe('file to append to, relative to the config file'),
  })
  .describe('a JSON-lines archive');

/** The sink schemas by type, so an unknown key can be checked against the right set. */
export const SINK_SCHEMAS = { webhook: WebhookSink, pagerduty: PagerdutySink, slack: SlackSink, file: FileSink } as const;

export const Sink = z
  .discriminatedUnion('type', [WebhookSink, PagerdutySink, SlackSink, FileSink])
  .describe('where escalation packets are delivered');
export type Sink = z.infer<typeof Sink>;

const Name = z.string().min(1);

/** Secret names are read by runbooks as `secrets.NAME`, so they must be identifiers. */
const SecretName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier: letters, digits and _, not starting with a digit');

const BYTE_UNITS = { b: 1, kb: 1000, kib: 1024, mb: 1000 ** 2, mib: 1024 ** 2 } as const;

/** `262144`, `256KiB`, `300kB`, `1MiB`: a size in bytes. */
export const ByteSize = z
  .union([
    z.int().min(1),
    z
      .string()
      .regex(/^\d+(\.\d+)?\s*(B|kB|KB|KiB|MB|MiB)$/i, 'expected a size such as 262144, 256KiB or 1MiB')
      .transform((v) => {
        const [, n, unit] = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(v)!;
        return Math.floor(Number(n) * BYTE_UNITS[unit!.toLowerCase() as keyof typeof BYTE_UNITS]);
      }),
  ], { error: 'expected a size such as 262144, 256KiB or 1MiB' })
  .describe('a size: bytes, or a number with B, kB, KiB, MB or MiB');

/** Default cap on one task request, as JSON: far above any real request, far below harm. */
export const DEFAULT_MAX_REQUEST_BYTES = 256 * 1024;
/** Default cap on how deep a task request may nest (the request object itself is level 1). */
export const DEFAULT_MAX_REQUEST_DEPTH = 32;

/** Intake limits: what a task request may weigh before anything of it is stored. */
export const IntakeLimits = z
  .strictObject({
    maxRequestSize: ByteSize.default(DEFAULT_MAX_REQUEST_BYTES).describe('largest task request accepted, as JSON; default 256KiB'),
    maxDepth: z
      .int()
      .min(2)
      .max(1000)
      .default(DEFAULT_MAX_REQUEST_DEPTH)
      .describe(`deepest nesting accepted in a task request (the request object is level 1); default ${DEFAULT_MAX_REQUEST_DEPTH}`),
  })
  .describe('limits on task requests, checked before anything is stored');

/** `runwarden.yaml` as written. */
export const ConfigFile = z
  .strictObject({
    env: z
      .array(EnvName)
      .default([])
      .describe('environment variables runbooks may read as env.NAME; default none'),
    secrets: z
      .record(SecretName, SecretEntry)
      .default({})
      .describe('secrets runbooks may use as secrets.NAME, read at start, each granted to roles; default none'),
    sinks: z.record(Name, Sink).default({}).describe('delivery targets by name; default none (packets stored, not delivered)'),
    routes: z
      .record(Name, z.array(Name.describe('a sink name defined under sinks')))
      .default({})
      .describe('escalation route -> sink names; `default` catches routes not listed'),
    tokens: z
      .strictObject({ file: z.string().min(1).describe('tokens file, relative to the config file') })
      .optional()
      .describe('API bearer tokens with roles, hashed at rest; default none'),
    intake: IntakeLimits.default({ maxRequestSize: DEFAULT_MAX_REQUEST_BYTES, maxDepth: DEFAULT_MAX_REQUEST_DEPTH }).describe(
      'limits on task requests; default 256KiB and 32 levels',
    ),
  })
  .describe('runwarden deployment config');
export type ConfigFile = z.infer<typeof ConfigFile>;

/** One API token as stored: its name, role and the SHA-256 of the token (never the token). */
export const TokenEntry = z
  .strictObject({
    name: Name.describe('who or what holds the token; operator actions are recorded under it'),
    role: z.enum(ROLES).describe(`what it may do: ${ROLES.join(', ')}`),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits (the SHA-256 of the token; see hashApiToken)')
      .describe('hex SHA-256 of the token'),
  })
  .describe('an API token');
export type TokenEntry = z.infer<typeof TokenEntry>;

/** The tokens file: `tokens: [ { name, role, sha256 } ]`. */
export const TokensFile = z
  .strictObject({ tokens: z.array(TokenEntry).default([]).describe('the tokens; default none') })
  .describe('API tokens file');
