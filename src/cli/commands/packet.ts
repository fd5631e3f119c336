/**
 * `runwarden packet <task> [--format json|md|slack|pagerduty|webhook]`: the task's latest
 * escalation packet, as JSON (the document the sinks receive), as Markdown for people, or as the
 * exact body one kind of sink receives. Reads only: no sink credential is needed. A packet whose
 * task has moved on since says so (in the Markdown, and on stderr beside the JSON).
 */
import type { Command } from 'commander';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

const FORMATS = ['json', 'md', 'slack', 'pagerduty', 'webhook'] as const;

export function register(program: Command): void {
  withCommon(
    program
      .command('packet <task>')
      .description("print the task's latest escalation packet (task id or externalRef)")
      .option(
        '--format <format>',
        `output format: ${FORMATS.join(', ')} (md: Markdown for people; slack, pagerduty, webhook: the exact body that sink receives, credentials as ***)`,
        'json',
      ),
  ).action(
    action(async (ref: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const { RunwardenError } = await import('../../errors.js');
      const format = String(opts.format) as (typeof FORMATS)[number];
      if (!(FORMATS as readonly string[]).includes(format)) {
        throw new RunwardenError('USAGE', `--format must be one of ${FORMATS.join(', ')}; got ${format}`);
      }
      const [{ readPacket }, { renderPacketMarkdown }, { payloadFor }, { packetNow, packetNowLine }, { latestPacket }, { getTask, listEvents }] = await Promise.all([
        import('../../escalation/packet-schema.js'),
        import('../../escalation/render-markdown.js'),
        import('../../escalation/sink-payloads.js'),
        import('../../escalation/packet-now.js'),
        import('../../store/packets.js'),
        import('../../store/tasks.js'),
      ]);
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const task = await getTask(rt.db, ref);
        if (!task) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
        const row = await latestPacket(rt.db, task.id);
        if (!row) {
          throw new RunwardenError('TASK_NOT_FOUND', `task ${task.id} has no escalation packet: it never stopped for a person (it is ${task.state})`, {
            details: { taskId: task.id, state: task.state },
          });
        }
        // Packets are masked when written; masking again costs little and catches a miss.
        const packet = rt.masker.maskValue(readPacket(row.body));
        const now = packetNow(packet, task, await listEvents(rt.db, task.id));
        if (format === 'md' && !common.json) {
          process.stdout.write(renderPacketMarkdown(packet, now));
          return;
        }
        if (now) process.stderr.write(`runwarden: ${packetNowLine(packet, now)}\n`);
        if (format === 'json' || format === 'md') printJson(packet);
        else process.stdout.write(`${rt.masker.maskString(payloadFor(format, packet, new Date()))}\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
