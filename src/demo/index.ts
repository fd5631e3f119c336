/** The demo: the example runbooks end to end against the simulated operations API. */
export { runDemo, resetDemoData, packetsFileFor, EXAMPLE_RUNBOOKS_DIR, DEMO_DEFAULT_DB, type DemoOptions, type DemoResult } from './run-demo.js';
export { DEMO_SCENARIOS, type DemoScenario } from './scenarios.js';
export { progressView, type ProgressOutput, type ProgressSubject, type ProgressView, type TaskProgress } from './progress.js';
export { nextSteps, shellQuote, type NextStepOptions, type NextStepTasks } from './next-steps.js';
export { keepRunning, type KeepRunningOptions } from './keep-running.js';
