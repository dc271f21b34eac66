// ijepa train, end to end through the CLI in child processes: option errors, an image folder
// with a corrupt file, resume equal to an uninterrupted run, SIGINT writing a checkpoint, and a
// checkpoint write killed midway leaving the previous checkpoint loadable.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readCheckpointMeta } from '../model/checkpoint.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
const losses = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss as number);
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-train-'));
const micro = ['--preset', 'micro', '--watch-every', '0'];

const t = suite('ijepa train');
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t('--help lists every option with its default', () => {
  const r = run(['train', '--help']);
  assert.is(r.status, 0);
  for (const o of ['--preset', '--data', '--img-size', '--batch', '--steps', '--epochs', '--lr', '--config', '--out', '--resume', '--seed',
    '--dtype']) assert.ok(r.stdout.includes(o), o);
  assert.match(r.stdout, /--ckpt-every <n>\s+steps between checkpoints \(default: 250\)/);
});

t('out-of-range and unknown options fail before any work, naming the option', () => {
  let r = run(['train', '--lr', '5']);
  assert.is(r.status, 2); // a usage error
  assert.match(r.stderr, /--lr 5 is out of range: allowed 0\.\.1/);
  r = run(['train', '--preset', 'nope']);
  assert.match(r.stderr, /--preset 'nope' is not one of micro, tiny/);
  r = run(['train', '--batch', '2.5']);
  assert.match(r.stderr, /--batch '2\.5' must be an integer/);
  r = run(['train', '--bogus']);
  assert.match(r.stderr, /Unknown option '--bogus'/);
  r = run(['train', '--img-size', '30', '--preset', 'micro']);
  assert.match(r.stderr, /imgSize 30 is not divisible by patchSize 8/);
});

t('trains on a folder of PNG/JPEG images, skipping a corrupt one by name', async () => {
  const data = join(tmp, 'imgs');
  for (const cls of ['cat', 'dog']) {
    mkdirSync(join(data, cls), { recursive: true });
    for (let i = 0; i < 3; i++) {
      const raw = Buffer.alloc(40 * 48 * 3).map((_, k) => (k * (i + 3) + cls.length * 40) % 256);
      const img = sharp(raw, { raw: { width: 48, height: 40, channels: 3 } });
      await (i % 2 ? img.jpeg() : img.png()).toFile(join(data, cls, `${i}.${i % 2 ? 'jpg' : 'png'}`));
    }
  }
  writeFileSync(join(data, 'dog', 'broken.jpg'), 'not a jpeg at all');
  const out = join(tmp, 'folder-run');
  const r = run(['train', ...micro, '--data', data, '--steps', '3', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /skipping unreadable image .*broken\.jpg/);
  assert.is(losses(out).length, 3);
  assert.ok(losses(out).every(Number.isFinite));
  // each record carries when its step finished and spelled-out names (kc/kt were cryptic)
  const rec = JSON.parse(readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
  assert.match(String(rec.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(String(rec.timestamp)) - Date.now()) < 600_000, `timestamp ${rec.timestamp} is now`);
  assert.ok(Number.isInteger(rec.context_patches) && Number.isInteger(rec.target_patches), JSON.stringify(rec));
  assert.ok(!('kc' in rec) && !('kt' in rec));
  const strict = run(['train', ...micro, '--data', data, '--steps', '1', '--out', join(tmp, 'strict'), '--strict']);
  assert.is(strict.status, 1);
  assert.match(strict.stderr, /broken\.jpg/);
});

t('--resume continues with the same losses as an uninterrupted run', () => {
  const a = join(tmp, 'a'), b = join(tmp, 'b');
  assert.is(run(['train', ...micro, '--steps', '8', '--ckpt-every', '4', '--out', a]).status, 0);
  assert.is(run(['train', ...micro, '--steps', '8', '--ckpt-every', '4', '--out', b]).status, 0);
  // forget the second half of run b, then resume it from its step-4 checkpoint
  rmSync(join(b, 'ckpt-0000008.safetensors'));
  writeFileSync(join(b, 'log.jsonl'), readFileSync(join(b, 'log.jsonl'), 'utf8').split('\n').slice(0, 4).join('\n') + '\n');
  const r = run(['train', '--resume', '--watch-every', '0', '--out', b]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming from .*ckpt-0000004/);
  const la = losses(a), lb = losses(b);
  assert.is(lb.length, 8);
  // logged step times add up to no more than the run's wall time (pipelined steps overlap;
  // the wall time is printed to 0.1 s, hence the 50 ms)
  const wall = Number(/done: \d+ steps in ([\d.]+) s/.exec(r.stderr)![1]) * 1000;
  const logged = readFileSync(join(b, 'log.jsonl'), 'utf8').trim().split('\n').slice(4).reduce((s, l) => s + (JSON.parse(l).time_ms as number), 0);
  assert.ok(logged <= wall + 50, `Σ time_ms of the resumed steps ${logged.toFixed(0)} ms > the run's ${wall.toFixed(0)} ms`);
  la.forEach((x, i) => assert.ok(Math.abs(x - lb[i]!) <= 1e-6 * Math.abs(x), `step ${i + 1}: ${x} vs ${lb[i]}`));
});

t('SIGINT finishes the step, writes a checkpoint and exits 130', async () => {
  const out = join(tmp, 'sigint');
  const child = spawn(process.execPath, [BIN, 'train', ...micro, '--steps', '100000', '--ckpt-every', '100000', '--out', out], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (/step 1\/100000/.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  assert.is(code, 130, err);
  assert.not.match(err, /done:/);
  assert.match(err, /SIGINT: wrote ckpt-\d+\.safetensors/);
  const ckpts = readdirSync(out).filter((n) => n.startsWith('ckpt-'));
  assert.is(ckpts.length, 1);
  const meta = await readCheckpointMeta(join(out, ckpts[0]!));
  assert.ok(meta.step >= 1);
});

t('a checkpoint write killed midway leaves the previous checkpoint loadable', async () => {
  const out = join(tmp, 'killed');
  assert.is(run(['train', ...micro, '--steps', '2', '--ckpt-every', '1', '--out', out]).status, 0);
  const before = readFileSync(join(out, 'ckpt-0000002.safetensors'));
  // a child that starts an atomic write of garbage over the checkpoint and is killed mid-write
  const script = `import { writeFileAtomic } from ${JSON.stringify(join(import.meta.dirname, '..', 'model', 'atomic-write.ts'))};
    const chunks = Array.from({ length: 4000 }, () => new Uint8Array(1 << 16).fill(7));
    process.send?.('go');
    await writeFileAtomic(${JSON.stringify(join(out, 'ckpt-0000002.safetensors'))}, chunks);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  await new Promise<void>((res) => child.once('message', () => res()));
  // kill it once its temp file has bytes in it: mid-write, whatever the disk's speed
  const midWrite = () => readdirSync(out).some((n) => n.includes('.tmp-') && statSync(join(out, n)).size > 0);
  for (let i = 0; i < 2000 && !midWrite(); i++) await new Promise((res) => setTimeout(res, 1));
  child.kill('SIGKILL');
  await new Promise((res) => child.on('exit', res));
  assert.ok(readFileSync(join(out, 'ckpt-0000002.safetensors')).equals(before), 'the checkpoint is unchanged');
  assert.is((await readCheckpointMeta(join(out, 'ckpt-0000002.safetensors'))).step, 2);
  assert.ok(existsSync(out));
});

t.run();
