/**
 * `runwarden sim [--port N] [--host H] [--token T]`: the simulated operations API
 * (docs/simulated-api.md) in the foreground, for trying the example runbooks by hand. It prints
 * the runwarden.yaml and the environment variables the example runbooks need to reach it, then
 * `ready:`, and runs until Ctrl-C. Two services start degraded so a tour has something to fix:
 * billing-api (a restart heals it) and search-api (it stays degraded until set healthy).
 */
import type { Command } from 'commander';
import { action } from '../common.js';

/** The deployment config the example runbooks expect, shipped beside them. */
export const EXAMPLE_CONFIG = new URL('../../../examples/runwarden.yaml', import.meta.url);

/** What `sim` sets up, and says it set up. */
export const SIM_SERVICES = {
  'billing-api': { state: { status: 'degraded' as const }, says: 'degraded; a restart makes it healthy' },
  'search-api': { state: { status: 'degraded' as const, stayDegraded: true }, says: 'degraded; stays so after a restart, until it is set healthy (below)' },
};

/** The curl line that sets a service healthy on a running sim. */
export function healCommand(url: string, service: string): string {
  return `curl -s -X POST ${url}/_sim/state -d '{"services": {"${service}": {"status": "healthy"}}}'`;
}

export function register(program: Command): void {
  program
    .command('sim')
    .description('run the simulated operations API in the foreground (for the example runbooks); prints the runwarden.yaml and environment they need')
    .option('--port <n>', 'port to listen on (0: any free one)', '4010')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--token <token>', 'bearer token the API requires (default: it accepts any)')
    .action(
      action(async (opts: Record<string, unknown>) => {
        const [{ RunwardenError }, { startSim }, { readFile }] = await Promise.all([import('../../errors.js'), import('../../sim/index.js'), import('node:fs/promises')]);
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RunwardenError('USAGE', `--port must be a whole number from 0 to 65535; got ${String(opts.port)}`);
        const token = opts.token === undefined ? undefined : String(opts.token);
        let sim: Awaited<ReturnType<typeof startSim>>;
        try {
          sim = await startSim({ port, host: String(opts.host), ...(token ? { token } : {}) });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE') throw new RunwardenError('USAGE', `port ${port} is in use (another sim?); pick another with --port, or --port 0 for any free one`);
          throw err;
        }
        for (const [name, s] of Object.entries(SIM_SERVICES)) sim.setService(name, s.state);
        const config = await readFile(EXAMPLE_CONFIG, 'utf8');
        const indent = (text: string) => text.trimEnd().split('\n').map((l) => (l ? `  ${l}` : '')).join('\n');
        const out = [
          `runwarden sim: the simulated operations API on ${sim.url}`,
          ...Object.entries(SIM_SERVICES).map(([name, s]) => `  ${name.padEnd(12)} ${s.says}`),
          '',
          'The example runbooks reach it through this runwarden.yaml (runwarden init writes it):',
          '',
          indent(config.replace(/^#.*\n/gm, '').replace(/^\n+/, '')),
          '',
          'and these variables, in the terminal where you run runwarden work:',
          '',
          `  export OPS_API_URL=${sim.url}`,
          `  export OPS_API_TOKEN=${token ?? 'sim-token'}${token ? '' : '    # any value: this API accepts any token (--token makes it check one)'}`,
          '',
          'To make search-api healthy again (what a responder would fix by hand):',
          '',
          `  ${healCommand(sim.url, 'search-api')}`,
          '',
          `ready: the simulated API is listening on ${sim.url}; Ctrl-C stops it`,
          '',
        ];
        process.stdout.write(out.join('\n'));
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await sim.close();
      }),
    );
}
