// import-rules: the layering the README promises, checked on the source tree. kernels/ (WGSL and
// its f64 twins) imports nothing from engine/ or model/; engine/ imports nothing from model/ and no
// `node:` module outside engine/device/node.ts (so it loads in a browser tab); model's sub-folders
// reach the engine only through its entries (engine/index.ts, and engine/device/node.ts, the Node
// entry that opens a Dawn device). Each failure names the file, the import and the rule.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(import.meta.dirname, '..');

/** Every .ts file under dir (relative to the repository root). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

interface Import { file: string; spec: string; target: string | null }

/** The module specifiers a file imports or re-exports (static and dynamic), resolved when relative. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm)].map((m) => m[1]!);
  return specs.map((spec) => ({
    file, spec,
    target: spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)).split('\\').join('/') : null,
  }));
}

const all = (dir: string) => sources(dir).flatMap(importsOf);
const show = (bad: Import[]) => bad.map((i) => `${i.file}: '${i.spec}'`).join('\n');

const t = suite('import rules');

t('the import scan sees imports (kernels/index.ts re-exports its files)', () => {
  assert.ok(importsOf('kernels/index.ts').some((i) => i.target?.startsWith('kernels/')));
});

t('kernels/ imports nothing from engine/ or model/', () => {
  const bad = all('kernels').filter((i) => i.target && /^(engine|model)\//.test(i.target));
  assert.is(show(bad), '');
});

t('engine/ imports nothing from model/', () => {
  const bad = all('engine').filter((i) => i.target?.startsWith('model/'));
  assert.is(show(bad), '');
});

t('engine/ has no node: import outside engine/device/node.ts', () => {
  const bad = all('engine').filter((i) => i.file !== join('engine', 'device', 'node.ts') && (i.spec.startsWith('node:') || ['fs', 'path', 'os', 'url', 'module'].includes(i.spec)));
  assert.is(show(bad), '');
});

t("model's sub-folders reach the engine only through engine/index.ts or engine/device/node.ts", () => {
  const subs = ['cli', 'data', 'eval', 'interop', 'report'].flatMap((d) => all(join('model', d)));
  const bad = subs.filter((i) => i.target?.startsWith('engine/') && !['engine/index.ts', 'engine/device/node.ts'].includes(i.target));
  assert.is(show(bad), '');
});

t.run();
