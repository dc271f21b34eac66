// markdown-section: replace one `## heading` section of a Markdown file (or append it), keeping the
// rest. bench/HOSTILE.md has two writers, scripts/hostile.ts and scripts/kill-chain.ts, each owning
// its own section, so a re-run of one never erases the other's numbers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** `text` with the section under `## heading` (up to the next `## `) replaced by `body`, or `body` appended. */
export function replaceSection(text: string, heading: string, body: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `## ${heading}`);
  const section = [`## ${heading}`, '', ...body.trimEnd().split('\n'), ''];
  if (start < 0) return `${text.trimEnd()}${text.trim() ? '\n\n' : ''}${section.join('\n')}`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  return [...lines.slice(0, start), ...section, ...lines.slice(end)].join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

/** Write `body` as the `## heading` section of `file`, creating the file (with `title`) when missing. */
export function writeSection(file: string, title: string, heading: string, body: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `# ${title}\n`;
  writeFileSync(file, replaceSection(text, heading, body).trimEnd() + '\n');
}
