/** `runwarden packet <task> [--format json|md]`: the task's latest escalation packet. */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { readPacket } from '../../escalation/packet-schema.js';
import { renderPacketMarkdown } from '../../escalation/render-markdown.js';
import { openRuntime } from '../../runtime.js';
import { latestPacket } from '../../store/packets.js';
import { getTask } from '../../store/tasks.js';
import { action, commonOptions, printJson, withCommon } from '../common.js';

const FORMATS = ['json', 'md'] as const;

export function register(program: Command): void {
  withCommon(
    program
      .command('packet <task>')
      .description("print the task's latest escalation packet (task id or externalRef)")
      .option('--format <format>', `output format: ${FORMATS.join(' or ')} (Markdown for people)`, 'json'),
  ).action(
    action(async (ref: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const format = String(opts.format);
      if (!(FORMATS as readonly string[]).includes(format)) {
        throw new RunwardenError('USAGE', `--format must be ${FORMATS.join(' or ')}, got ${format}`);
      }
      const rt = await openRuntime(common);
      try {
        const task = await getTask(rt.db, ref);
        if (!task) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
        const row = await latestPacket(rt.db, task.id);
        if (!row) {
          throw new RunwardenError('TASK_NOT_FOUND', `task ${task.id} has no escalation packet: it never stopped for a person (it is ${task.state})`, {
            details: { taskId: task.id, state: task.state },
          });
        }
        const packet = readPacket(row.body);
        if (format === 'md' && !common.json) process.stdout.write(renderPacketMarkdown(packet));
        else printJson(packet);
      } finally {
        await rt.close();
      }
    }),
  );
}
