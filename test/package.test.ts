// The package as a user gets it: `npm pack`, install the tarball into an empty project, then
// run the README's embedding example with plain node (no TypeScript loader), type-check a .ts
// consumer with skipLibCheck off, and run the `ijepa` bin from the installed package.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-pack-'));
const consumer = join(tmp, 'consumer');

function sh(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${cwd} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The README's "Embedding the engine" code block, as a user would copy it. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedding the engine'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m?.[1]) throw new Error('README.md: no ```ts block under "## Embedding the engine"');
  return m[1];
}

const t = suite('npm package');
t.after(() => rmSync(tmp, { recursive: true, force: true }));

let files: string[] = [];

t('npm pack ships built JS, declarations, the bin, README and LICENSE, and no tests', () => {
  const out = sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT);
  const info = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; size: number; files: { path: string; }[]; }[];
  files = info[0]!.files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/ijepa.mjs', 'dist/model/cli/main.js']) assert.ok(files.includes(f), f);
  for (const entry of ['engine/index', 'engine/device/node', 'engine/device/browser', 'kernels/index', 'model/index', 'model/node']) {
    assert.ok(files.includes(`dist/${entry}.js`), `dist/${entry}.js`);
    assert.ok(files.includes(`dist/${entry}.d.ts`), `dist/${entry}.d.ts`);
  }
  const stray = files.filter((f) => /^(test|bench|scripts)\/|golden|\.safetensors$|\.ts$(?<!\.d\.ts)/.test(f));
  assert.equal(stray, [], 'no tests, goldens, bench data or TypeScript sources');
  assert.ok(info[0]!.size < 1_000_000, `tarball ${info[0]!.size} bytes`);
});

t('the tarball installs into an empty project and the README example runs with plain node', () => {
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'a tarball was packed');
  sh('mkdir', ['-p', consumer], tmp);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, tgz)], consumer);
  writeFileSync(join(consumer, 'example.mjs'), readmeExample());
  const out = sh(process.execPath, ['example.mjs'], consumer);
  const losses = out.trim().split('\n').map((l) => Number(l.split(/\s+/)[1]));
  assert.is(losses.length, 5, out);
  assert.ok(losses.every(Number.isFinite), out);
  assert.ok(losses[4]! < losses[0]! * 0.5, `loss falls: ${losses.join(', ')}`);
});

t('a .ts consumer type-checks against the installed package with skipLibCheck off', () => {
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true,
      types: [] },
    files: ['example.ts', 'model.ts'],
  }));
  writeFileSync(join(consumer, 'example.ts'), readmeExample());
  writeFileSync(join(consumer, 'model.ts'), [
    "import { initWebGPU } from 'ijepa-webgpu/engine/browser';",
    "import { IJepa, MaskCollator, getPreset, type Preset } from 'ijepa-webgpu/model';",
    "import { matmul } from 'ijepa-webgpu/kernels';",
    "import { readCheckpoint, saveCheckpoint } from 'ijepa-webgpu/model/node';",
    'const p: Preset = getPreset("micro");',
    'export const used = [initWebGPU, IJepa, MaskCollator, matmul, readCheckpoint, saveCheckpoint, p.name];',
  ].join('\n'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
});

t('the installed ijepa bin runs without a TypeScript loader', () => {
  const r = spawnSync(process.execPath, [join(consumer, 'node_modules', 'ijepa-webgpu', 'bin', 'ijepa.mjs'), '--help'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /usage: ijepa <command>/);
  assert.not.ok(readdirSync(join(consumer, 'node_modules')).includes('tsx'), 'tsx is not installed with the package');
});

t.run();
