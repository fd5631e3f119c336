/** The simulated operations API for a test file: started once, reset before each test, closed after. */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startSim, type Sim } from '../../src/sim/index.js';

export function useSim(): () => Sim {
  let sim: Sim | undefined;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(async () => {
    await sim?.close();
  });
  beforeEach(() => sim?.reset());
  return () => {
    if (!sim) throw new Error('the simulated API starts in beforeAll');
    return sim;
  };
}
