/** A worker (concurrency 16) on argv[2] for argv[3] ms; prints its peak RSS in MB and how much it did. */
import { createExecutor } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { openDb } from '../../src/store/db.js';
import { plugins, runbooks } from './common.js';

const [target, ms] = [process.argv[2]!, Number(process.argv[3] ?? 5000)];
const db = await openDb(target, { migrate: false });
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const worker = new Worker({ db, runbooks, executor: createExecutor({ plugins }), logger: silentLogger, concurrency: 16 });
const running = worker.run();
await new Promise((r) => setTimeout(r, ms));
await worker.stop();
const stats = await running;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
await db.close();
process.stdout.write(`${JSON.stringify({ peakMb: peak / 1048576, completed: stats.released })}\n`);
