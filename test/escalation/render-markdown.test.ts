/**
 * The Markdown a responder reads, one file snapshot per reason kind under __snapshots__/ (read
 * them: they are the product). Structural checks keep the order the responder needs: summary,
 * what changed, what was tried, evidence, next action with its command.
 */
import { describe, expect, it } from 'vitest';
import { buildPacket } from '../../src/escalation/build-packet.js';
import { esc, renderPacketMarkdown } from '../../src/escalation/render-markdown.js';
import { ESCALATION_REASONS } from '../../src/lifecycle/vocabulary.js';
import { caseInput } from './cases.js';

describe('renderPacketMarkdown', () => {
  it.each(ESCALATION_REASONS)('%s', async (kind) => {
    const md = renderPacketMarkdown(buildPacket(await caseInput(kind)));
    await expect(md).toMatchFileSnapshot(`./__snapshots__/${kind}.md`);
  });

  it('puts the summary first and the next action with its command after the evidence', async () => {
    const p = buildPacket(await caseInput('retries_exhausted'));
    const md = renderPacketMarkdown(p);
    const order = ['# Retries exhausted: INC-4201', `**${p.summary}**`, '## What changed', '## What was tried', '## Evidence', '## Next', '```sh\nrunwarden retry'];
    const positions = order.map((s) => md.indexOf(s));
    expect(positions.every((x) => x >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('keeps lines short enough for a phone except commands and evidence', async () => {
    for (const kind of ESCALATION_REASONS) {
      const md = renderPacketMarkdown(buildPacket(await caseInput(kind)));
      const long = md.split('\n').filter((l) => l.length > 400);
      expect(long, kind).toEqual([]);
    }
  });

  it('escapes what an API answer could use to restyle the page', () => {
    expect(esc('HTTP 500 <script>*boom*</script> [x](y)\nnext')).toBe('HTTP 500 \\<script>\\*boom\\*\\</script> \\[x\\](y) next');
  });
});
