import { describe, expect, it } from 'vitest';
import { spawnSim } from '../../src/sim/index.js';

describe('the simulated API as its own process', () => {
  it('prints its URL, serves requests, is driven over /_sim, and stops on SIGTERM', async () => {
    const sim = await spawnSim(['--port', '0', '--token', 'tok']);
    try {
      expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await sim.fault({ path: '/services/a/restart', status: 503 });
      const auth = { authorization: 'Bearer tok' };
      expect((await fetch(`${sim.url}/services/a/restart`, { method: 'POST', headers: auth })).status).toBe(503);
      expect((await fetch(`${sim.url}/services/a/restart`, { method: 'POST', headers: auth })).status).toBe(200);
      expect((await fetch(`${sim.url}/services/a/health`)).status).toBe(401);
      expect(await sim.count('service.restart')).toBe(1);
      expect((await sim.effects())[0]).toMatchObject({ kind: 'service.restart', id: 'rst_1' });
      expect((await sim.requests()).map((r) => r.status)).toEqual([503, 200, 401]);
      await sim.setState({ services: { a: { status: 'degraded' } } });
      const health = (await (await fetch(`${sim.url}/services/a/health`, { headers: auth })).json()) as { status: string };
      expect(health.status).toBe('degraded');
      await sim.reset();
      expect(await sim.effects()).toEqual([]);
    } finally {
      await sim.stop();
    }
    expect(sim.child.exitCode ?? sim.child.signalCode).not.toBeNull();
  });

  it('fails clearly on a bad port', async () => {
    await expect(spawnSim(['--port', 'x'])).rejects.toThrow(/--port/);
  });
});
