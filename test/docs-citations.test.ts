// docs-citations: every docs/… file that the code, the tests, the scripts or the README cite exists
// in the repository (the project's docs once lived outside it, so 33 comments pointed nowhere), every
// section cited as "§N" after a docs file exists in that file, and the docs' own relative links resolve.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(import.meta.dirname, '..');
const SOURCES = ['engine', 'kernels', 'model', 'test', 'bench', 'scripts', 'bin', 'docs', 'README.md'];
const TEXT = /\.(ts|mts|mjs|js|py|sh|md|html)$/;

/** Text files under the source folders (docs/api is typedoc's output, not ours). */
function textFiles(path: string): string[] {
  const rel = relative(root, path);
  if (rel === join('docs', 'api') || rel.endsWith('node_modules')) return [];
  if (statSync(path).isDirectory()) return readdirSync(path).flatMap((f) => textFiles(join(path, f)));
  return TEXT.test(path) ? [path] : [];
}

const files = SOURCES.map((s) => join(root, s)).filter((p) => existsSync(p)).flatMap(textFiles);
const t = suite('docs citations');

t('every cited docs/ path exists in the repository, and no citation leaves it', () => {
  const missing: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(\.\.\/)*(?:shared\/)?docs\/[\w.-]+\.(?:md|png)/g)) {
      const cited = m[0];
      if (cited.startsWith('../') || cited.startsWith('shared/') || !existsSync(join(root, cited))) missing.push(`${relative(root, f)}: ${cited}`);
    }
  }
  assert.ok(missing.length === 0, `citations of files that are not in the repo:\n  ${missing.join('\n  ')}`);
});

t('every section cited after a docs file (§N) is a heading of that file', () => {
  const bad: string[] = [];
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/docs\/([\w-]+\.md) §(\d+(?:\.\d+)?)/g)) {
      const doc = join(root, 'docs', m[1]!);
      if (!existsSync(doc)) continue; // reported by the test above
      const heading = new RegExp(`^#{2,3} ${m[2]!.replace('.', '\\.')}[. ]`, 'm');
      if (!heading.test(readFileSync(doc, 'utf8'))) bad.push(`${relative(root, f)}: docs/${m[1]} has no section ${m[2]}`);
    }
  }
  assert.ok(bad.length === 0, bad.join('\n'));
});

t('relative links inside docs/*.md resolve', () => {
  const bad: string[] = [];
  for (const f of files.filter((p) => relative(root, p).startsWith('docs') && p.endsWith('.md'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\]\(([^)#:]+)(#[^)]*)?\)/g)) {
      if (!existsSync(join(dirname(f), m[1]!))) bad.push(`${relative(root, f)}: (${m[1]})`);
    }
  }
  assert.ok(bad.length === 0, bad.join('\n'));
});

t.run();
