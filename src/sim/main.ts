/**
 * Runs the simulated operations API as its own process, so it outlives a worker that a crash test
 * kills: `node dist/sim/main.js [--port N] [--host H] [--token T]`. Prints `{"url":"..."}` on one
 * stdout line once listening; stops on SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import { startSim } from './server.js';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
  }
  const sim = await startSim({ port, host: values.host, ...(values.token ? { token: values.token } : {}) });
  process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`runwarden sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
