/** The verification role: end-state checks and probes. */
export { evaluateCheck, pollAgain, type CheckVerdict } from './check.js';
export { evaluateProbe, type ProbeVerdict } from './probe.js';
