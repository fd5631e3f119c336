/** The simulated operations API (docs/simulated-api.md): in-process server, client, child process. */
export { startSim, type Sim, type SimEvents, type SimOptions } from './server.js';
export { simClient, spawnSim, type SimClient, type SpawnedSim } from './client.js';
export {
  EFFECT_KINDS,
  FaultSchema,
  StateInputSchema,
  type Effect,
  type EffectKind,
  type Fault,
  type RequestRecord,
  type RequestOutcome,
  type StateInput,
} from './model.js';
