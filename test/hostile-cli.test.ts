// Hostile inputs to the CLI (issue #14), each through the real command in a child process: a
// step whose update goes non-finite is never checkpointed and eval refuses non-finite weights,
// dead writers' temp files are removed, signals give 128+n exit codes, stray arguments and an
// empty --out are usage errors (exit 2), a second run into a run folder refuses, symlink loops in
// --data add no images, export never writes over a run's own files, and one run holds an --out at a time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeSafetensors, encodeSafetensors } from '../engine/index.ts';
import { scanImageFolder } from '../model/data/image-folder.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const run = (args: string[], cwd?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000, cwd });
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-hostile-'));
const micro = ['--preset', 'micro', '--watch-every', '0'];
const GOLDEN_PTH = join(import.meta.dirname, 'golden', 'interop', 'official-micro.pth.tar');
// the golden file's model shape (test/golden/make_interop.py), smaller than the micro preset's
const GOLDEN_SHAPE = ['--img-size', '16', '--patch-size', '4', '--dim', '16', '--depth', '2', '--heads', '2', '--pred-depth', '1', '--pred-dim', '8'];
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const t = suite('ijepa CLI, hostile inputs');
t.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A checkpoint's header and its tensors as f32 arrays, to edit and write back (encodeSafetensors). */
function checkpointTensors(src: string) {
  const f = decodeSafetensors(readFileSync(src), src);
  const tensors: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array; }> = {};
  for (const [k, x] of f.tensors) tensors[k] = { dtype: 'F32', shape: x.shape, data: x.toFloat32() };
  return { f, tensors };
}

t('a step whose update goes non-finite is never saved; no "step 0" when nothing was saved', async () => {
  // lr 1 with wd 10 blows the weights up within a few steps (the issue's repro, shortened)
  const out = join(tmp, 'nan');
  const r = run(['train', ...micro, '--steps', '40', '--lr', '1', '--start-lr', '1', '--final-lr', '1', '--wd', '10', '--final-wd', '10', '--target',
    'pixels', '--ckpt-every', '1', '--out', out]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /non-finite|loss is (NaN|-?Infinity)/);
  assert.not.match(r.stderr, /checkpoint \(step 0\)/);
  for (const n of readdirSync(out).filter((n) => n.startsWith('ckpt-'))) {
    const f = decodeSafetensors(readFileSync(join(out, n)), n);
    for (const [k, x] of f.tensors) assert.ok(x.toFloat32().every(Number.isFinite), `${n}: ${k} is not finite`);
  }
});

t('eval and export refuse a checkpoint with non-finite weights, naming the file', () => {
  const out = join(tmp, 'ok');
  assert.is(run(['train', ...micro, '--steps', '1', '--out', out]).status, 0);
  const src = join(out, 'ckpt-0000001.safetensors');
  const { f, tensors } = checkpointTensors(src);
  const first = Object.keys(tensors).find((k) => k.startsWith('encoder/'))!;
  tensors[first]!.data[0] = NaN;
  const bad = join(tmp, 'poisoned.safetensors');
  // without the CRC-32s (a file from before they were recorded): with them, the edit is refused as corruption first
  const { crc32: _, ...meta } = f.metadata;
  writeFileSync(bad, encodeSafetensors(tensors, meta));
  for (const args of [['eval', '--checkpoint', bad, '--encoder', 'context'], ['export', '--checkpoint', bad, '--to', 'pth', '--out',
    join(tmp, 'poisoned.pth.tar')]])
  {
    const r = run(args);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /poisoned\.safetensors.*not finite/);
  }
  assert.not.ok(existsSync(join(tmp, 'poisoned.pth.tar')), 'nothing exported');
});

t("temp files of dead writers are removed at train start; a live writer's stay", () => {
  const out = join(tmp, 'temps');
  mkdirSync(out);
  // a pid that is certainly dead: a child that has exited
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  const orphan = `ckpt-0000004.safetensors.tmp-${dead}.0`, live = `ckpt-0000004.safetensors.tmp-${process.pid}.0`;
  writeFileSync(join(out, orphan), 'half a checkpoint');
  writeFileSync(join(out, live), 'being written');
  assert.is(run(['train', ...micro, '--steps', '1', '--out', out]).status, 0);
  assert.not.ok(existsSync(join(out, orphan)), "the dead writer's temp file is gone");
  assert.ok(existsSync(join(out, live)), "a live writer's temp file is kept");
});

for (const [sig, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  t(`${sig} writes a checkpoint and exits ${code}`, async () => {
    const out = join(tmp, sig);
    const child = spawn(process.execPath, [BIN, 'train', ...micro, '--steps', '100000', '--ckpt-every', '100000', '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (/step 1\/100000/.test(err) && !child.killed) child.kill(sig);
    });
    const status = await new Promise<number | null>((res) => child.on('exit', res));
    assert.is(status, code, err);
    assert.match(err, new RegExp(`${sig}: wrote ckpt-\\d+\\.safetensors`));
    assert.not.match(err, /done:/);
  });
}

t("one run per --out: a second train or a resume while it runs refuses naming the holder; a dead run's lock is taken over", async () => {
  const out = join(tmp, 'locked');
  const child = spawn(process.execPath, [BIN, 'train', ...micro, '--steps', '100000', '--ckpt-every', '100000', '--out', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const started = new Promise<void>((res) =>
    child.stderr.on('data', (d) => {
      err += d;
      if (/step 1\/100000/.test(err)) res();
    })
  );
  const exited = new Promise<number | null>((res) => child.on('exit', res));
  await started;
  for (const args of [['train', ...micro, '--steps', '1', '--out', out], ['train', '--resume', '--out', out]]) {
    const r = run(args);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--out ${out} is in use by another run \\(PID ${child.pid}`));
  }
  child.kill('SIGTERM');
  assert.is(await exited, 143, err);
  assert.not.ok(existsSync(join(out, '.lock')), 'released at exit');
  // a lock left by a process that is gone (kill -9) does not block the resume
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  writeFileSync(join(out, '.lock'), `${dead}\n`);
  const saved = Math.max(...readdirSync(out).map((f) => /^ckpt-(\d+)\.safetensors$/.exec(f)?.[1]).filter(Boolean).map(Number));
  const r = run(['train', '--resume', '--steps', String(saved + 1), '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(existsSync(join(out, '.lock')));
});

t('stray arguments and an empty --out are usage errors (exit 2) naming them; --version', () => {
  let r = run(['train', 'extra']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /unexpected argument 'extra'/);
  r = run(['info', '--bogus']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /unexpected argument '--bogus'/);
  r = run(['eval', 'stray']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /'stray'/);
  const cwd = join(tmp, 'cwd');
  mkdirSync(cwd);
  r = run(['train', ...micro, '--steps', '1', '--out', ''], cwd);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--out ''/);
  assert.equal(readdirSync(cwd), []);
  r = run(['--version']);
  assert.is(r.status, 0);
  assert.match(r.stdout, /^ijepa \d+\.\d+\.\d+/);
  r = run([]); // no command: the usage, on stderr, as a usage error
  assert.is(r.status, 2);
  assert.match(r.stderr, /name a command[\s\S]*usage: ijepa <command>/);
  // flags that pass their own ranges but break a preset rule together: a usage error naming the flag
  r = run(['train', ...micro, '--img-size', '36', '--steps', '1', '--out', join(tmp, 'img36')]);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--img-size 36: preset 'micro': imgSize 36 is not divisible by patchSize 8/);
});

t('a new run into a folder that holds a run refuses, offering --resume or another --out', () => {
  const out = join(tmp, 'twice');
  assert.is(run(['train', ...micro, '--steps', '1', '--out', out]).status, 0);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
  const r = run(['train', ...micro, '--steps', '2', '--out', out]);
  assert.is(r.status, 2);
  assert.match(r.stderr, new RegExp(`${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds a run.*--resume.*--out`));
  assert.is(readFileSync(join(out, 'log.jsonl'), 'utf8'), log, 'the old run is untouched');
});

t('symlink loops in --data are followed once: no extra entries, no stack overflow', async () => {
  const root = join(tmp, 'loops');
  mkdirSync(join(root, 'a', 'deep'), { recursive: true });
  mkdirSync(join(root, 'b'), { recursive: true });
  const png = join(root, 'a', '0.png');
  await sharp(Buffer.alloc(8 * 8 * 3, 100), { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(png);
  copyFileSync(png, join(root, 'a', 'deep', '1.png'));
  copyFileSync(png, join(root, 'b', '2.png'));
  symlinkSync('.', join(root, 'a', 'self')); // a self-loop
  symlinkSync('..', join(root, 'a', 'deep', 'up')); // a loop back to an ancestor
  symlinkSync(join(root, 'a'), join(root, 'a', 'deep', 'again')); // a second way into it (branching)
  symlinkSync(join(root, 'b'), join(root, 'b', 'me'));
  const f = await scanImageFolder(root, { probe: false });
  assert.equal(f.classes, ['a', 'b']);
  assert.is(f.entries.length, 3, f.entries.map((e) => e.path).join('\n'));
});

t("export never writes over a run's own files; an empty path option is a usage error in every command", () => {
  const runDir = join(tmp, 'export-run');
  let r = run(['train', ...micro, '--steps', '1', '--out', runDir]);
  assert.is(r.status, 0, r.stderr);
  const ckpt = join(runDir, 'ckpt-0000001.safetensors');
  const before = readFileSync(ckpt);
  for (const [out, why] of [[ckpt, /is the checkpoint being exported/], [join(runDir, 'ckpt-0000009.safetensors'), /a run folder's own file name/], [
    join(runDir, 'log.jsonl'),
    /a run folder's own file name/,
  ], ['', /--out '' is empty: give a path/]] as const) {
    r = run(['export', '--run', runDir, '--to', 'safetensors', '--out', out]);
    assert.is(r.status, 2, `--out ${out}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  assert.ok(readFileSync(ckpt).equals(before), 'the checkpoint is untouched');
  assert.not.ok(existsSync(join(runDir, 'ckpt-0000009.safetensors')));
  const elsewhere = join(tmp, 'exports', 'new', 'micro.safetensors'); // a missing folder is created
  r = run(['export', '--run', runDir, '--to', 'safetensors', '--out', elsewhere]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(elsewhere));
  for (const args of [['eval', '--run', runDir, '--out', ''], ['report', runDir, '--out', ''], ['embed', '--data', ''], ['train', '--config', '']]) {
    r = run(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${args.at(-2)} '' is empty: give a path`));
  }
});

t('a --data that cannot be read fails (exit 1) naming --data and the folder, alike in train, embed and eval', () => {
  const missing = join(tmp, 'no-such-data'), file = join(tmp, 'data-is-a-file.txt'), empty = join(tmp, 'no-images');
  writeFileSync(file, 'not a folder\n');
  mkdirSync(empty);
  writeFileSync(join(empty, 'notes.txt'), 'no image here\n');
  const commands = [['train', ...micro, '--steps', '1', '--out', join(tmp, 'data-run')], ['embed', '--random-init', '--preset', 'micro', '--out',
    join(tmp, 'e.npy')], ['eval', '--random-init', '--preset', 'micro']];
  for (const [dir, why] of [[missing, 'no such folder'], [file, 'not a folder'], [empty, 'no .*images']] as const) {
    for (const args of commands) {
      const r = run([...args, '--data', dir]);
      assert.is(r.status, 1, `${args[0]} --data ${dir}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^ijepa ${args[0]}: --data ${esc(dir)}: ${why}`, 'm'));
    }
  }
});

t('embed skips an image that fails at decode time, as train does, and makes a missing --out folder', async () => {
  const data = join(tmp, 'embed-mixed');
  mkdirSync(data);
  for (let i = 0; i < 2; i++) {
    await sharp(Buffer.alloc(16 * 16 * 3, 40 + 80 * i), { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(data, `${i}.png`));
  }
  writeFileSync(join(data, 'torn.png'), readFileSync(join(data, '0.png')).subarray(0, 60)); // a PNG cut after its header
  const out = join(tmp, 'embed-out', 'new', 'f.safetensors');
  const r = run(['embed', '--random-init', '--preset', 'micro', '--data', data, '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /skipping unreadable image .*torn\.png/);
  assert.equal(decodeSafetensors(readFileSync(out), out).tensors.get('features')!.shape, [2, 64]);
  const strict = run(['embed', '--random-init', '--preset', 'micro', '--data', data, '--out', out, '--strict']);
  assert.is(strict.status, 1, strict.stderr);
  assert.match(strict.stderr, /--data .*: cannot read .*torn\.png/);
});

t('errors name the field, never "undefined" or a dump: a 1 MB string in --config, a checkpoint without its preset', () => {
  const cfgFile = join(tmp, 'huge.json');
  writeFileSync(cfgFile, JSON.stringify({ meta: { model_name: 'x'.repeat(1 << 20) } }));
  let r = run(['train', ...micro, '--steps', '1', '--out', join(tmp, 'huge-run'), '--config', cfgFile]);
  assert.is(r.status, 2, r.stderr.slice(0, 500));
  assert.ok(r.stderr.length < 1000, `${r.stderr.length} characters on stderr`);
  assert.match(r.stderr, /huge\.json: meta\.model_name "x+… \(1048578 characters\) is not one of/);
  const runDir = join(tmp, 'no-preset');
  assert.is(run(['train', ...micro, '--steps', '1', '--out', runDir]).status, 0);
  const src = join(runDir, 'ckpt-0000001.safetensors');
  const { f, tensors } = checkpointTensors(src);
  const { preset: _, ...config } = JSON.parse(f.metadata.config!) as Record<string, unknown>;
  const bad = join(tmp, 'no-preset.safetensors');
  writeFileSync(bad, encodeSafetensors(tensors, { ...f.metadata, config: JSON.stringify(config) }));
  for (const args of [['eval', '--checkpoint', bad], ['export', '--checkpoint', bad, '--to', 'pth', '--out', join(tmp, 'no-preset.pth.tar')], [
    'train',
    '--resume',
    '--out',
    runDir,
  ]]) {
    if (args[0] === 'train') copyFileSync(bad, src);
    r = run(args);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /no-preset(\.safetensors|\/ckpt-0000001\.safetensors): config\.preset is missing/);
    assert.not.match(r.stderr, /undefined/);
  }
});

t('import refuses an --out that is its --from file (the same path or a link to it), leaving it untouched; it makes a missing --out folder', () => {
  const pth = join(tmp, 'self.pth.tar'), link = join(tmp, 'self-link.pth.tar');
  copyFileSync(GOLDEN_PTH, pth);
  symlinkSync(pth, link);
  const before = readFileSync(pth);
  for (const out of [pth, link]) {
    // the golden file's own shape, so that without the check the import would succeed over its source
    const r = run(['import', '--from', pth, '--preset', 'micro', ...GOLDEN_SHAPE, '--out', out]);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, /--out \S*self(-link)?\.pth\.tar is the --from file/);
  }
  assert.ok(readFileSync(pth).equals(before), 'the source is untouched');
  const elsewhere = join(tmp, 'imports', 'new', 'micro.safetensors'); // a missing folder is created
  const r = run(['import', '--from', pth, '--preset', 'micro', ...GOLDEN_SHAPE, '--out', elsewhere]);
  assert.is(r.status, 0, r.stderr);
  assert.ok(existsSync(elsewhere));
});

t.run();
