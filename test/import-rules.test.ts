// import-rules: the layering the README promises, checked on the source tree. kernels/ (WGSL and
// its f64 twins) imports nothing from engine/ or model/; engine/ imports nothing from model/ and no
// `node:` module outside engine/device/node.ts (so it loads in a browser tab); model/ reaches the
// engine only through its entries (engine/index.ts, and engine/device/node.ts, the Node entry that
// opens a Dawn device). Inside model/, the files at its root are the model; its sub-folders (cli,
// data, eval, interop, report: the application around it) reach those files only through
// model/index.ts (the model proper, browser-safe: no Node module is reachable from it) or
// model/node.ts (what needs Node: checkpoints, run logs and locks, atomic writes), and each other
// only through each one's index.ts. Each failure names the file, the import and the rule.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
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

interface Import {
  file: string;
  spec: string;
  target: string | null;
}

/** The module specifiers a file imports or re-exports (static and dynamic), resolved when relative. */
function importsOf(file: string): Import[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm)].map((m) => m[1]!);
  return specs.map((spec) => ({
    file,
    spec,
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
  const bad = all('engine').filter((i) =>
    i.file !== join('engine', 'device', 'node.ts') && (i.spec.startsWith('node:') || ['fs', 'path', 'os', 'url', 'module'].includes(i.spec))
  );
  assert.is(show(bad), '');
});

t('model/ reaches the engine only through engine/index.ts or engine/device/node.ts', () => {
  const bad = all('model').filter((i) => i.target?.startsWith('engine/') && !['engine/index.ts', 'engine/device/node.ts'].includes(i.target));
  assert.is(show(bad), '');
});

/** The sub-folder of model/ a path lies in ('cli', 'data', ...), or null for model's root files (and paths outside model/). */
const subFolder = (path: string) => /^model\/([^/]+)\//.exec(path)?.[1] ?? null;
const modelSubs = readdirSync(join(root, 'model'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

t("model's sub-folders reach model's root files only through model/index.ts or model/node.ts, and each other only through their index.ts", () => {
  assert.ok(['cli', 'data', 'eval', 'interop', 'report'].every((d) => modelSubs.includes(d)), `sub-folders: ${modelSubs.join(', ')}`);
  const bad = modelSubs.flatMap((d) => all(join('model', d))).filter((i) => {
    if (!i.target?.startsWith('model/')) return false;
    const from = subFolder(i.file), to = subFolder(i.target);
    if (to === null) return !['model/index.ts', 'model/node.ts'].includes(i.target);
    return to !== from && i.target !== `model/${to}/index.ts`;
  });
  assert.is(show(bad), '');
});

// what cannot load in a browser tab: Node's own modules, and the two Node-only packages (Dawn's
// bindings, libvips)
const NODE_ONLY = new Set([...builtinModules, 'webgpu', 'sharp']);
const nodeOnly = (spec: string) => spec.startsWith('node:') || NODE_ONLY.has(spec.startsWith('@') ? spec : spec.split('/')[0]!);

/** The files reachable from `entry` by relative imports, and each Node-only import among them with the chain that reaches it. */
function reach(entry: string): { files: Set<string>; nodeImports: string[]; } {
  const files = new Set<string>(), nodeImports: string[] = [];
  const visit = (file: string, chain: string[]) => {
    if (files.has(file)) return;
    files.add(file);
    for (const i of importsOf(file)) {
      if (i.target) visit(i.target, [...chain, file]);
      else if (nodeOnly(i.spec)) nodeImports.push(`${[...chain, file].join(' → ')}: '${i.spec}'`);
    }
  };
  visit(entry, []);
  return { files, nodeImports };
}

t('no Node module is reachable from model/index.ts (the model loads in a browser tab)', () => {
  const { files, nodeImports } = reach('model/index.ts');
  assert.ok(files.has('model/ijepa.ts') && files.has('engine/index.ts'), `the walk reaches the model and the engine (${files.size} files)`);
  assert.is(nodeImports.join('\n'), '');
  // and the walk does see Node imports where they are
  assert.ok(reach('model/node.ts').nodeImports.some((x) => x.includes("'node:fs")), 'model/node.ts reaches node:fs');
});

t('only test/ and bench/ import engine/internal.ts (everything else uses the public engine/index.ts)', () => {
  const bad = ['engine', 'kernels', 'model', 'scripts'].flatMap(all).filter((i) => i.target === 'engine/internal.ts');
  assert.is(show(bad), '');
  assert.ok(all('test').some((i) => i.target === 'engine/internal.ts'), 'the scan sees the tests that import it');
});

t.run();
