// Configurations and checkpoints from hostile or careless hands (issue #14, items 3, 4, 7, 8, 13):
// every config goes through one schema before anything is built (--config keys, checkpoint
// metadata), the one checkpoint reader refuses malformed metadata and tensors naming the file and
// the field, and `train --resume` keeps the run what it was started as. Checkpoints here are built
// on the host (no GPU) except where a resume needs a real run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCheckpoint, readCheckpoint } from '../model/checkpoint.ts';
import { applyConfigFile, readConfigFile } from '../model/cli/config-file.ts';
import { exportCheckpoint, importCheckpoint, officialLayout, readTrainState } from '../model/interop/index.ts';
import { getPreset } from '../model/presets.ts';
import { appendRecord, cutLog } from '../model/run-log.ts';
import { writeReport } from '../model/report/index.ts';
import sharp from 'sharp';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const run = (args: string[], timeout = 240_000) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout });
const records = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-resume-config-'));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type F32 = { dtype: 'F32'; shape: readonly number[]; data: Float32Array; };

/** A micro train state built on the host: every tensor distinct, so a swap changes the bytes. */
function microState(o: { config?: Record<string, unknown>; drop?: string; } = {}): Uint8Array {
  const preset = getPreset('micro');
  const layout = officialLayout(preset.model, 'features');
  const tensors: Record<string, F32> = {};
  let k = 0;
  for (const net of ['encoder', 'predictor', 'target_encoder'] as const) {
    for (const s of layout[net] ?? []) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const key = `${net}/${s.name}`;
      if (key !== o.drop) tensors[key] = { dtype: 'F32', shape: s.shape, data: Float32Array.from({ length: n }, (_, i) => k + i / n) };
      k++;
    }
  }
  const config = { preset, data: null, steps: 2, ipe: 100, seed: 0, target: 'features', ...o.config };
  const state = { collator: { nextSeed: 1, rng: { mt: Array.from({ length: 624 }, (_, i) => i), index: 624, seed: 0 } },
    loader: { epoch: 0, batch: 1 } };
  return encodeCheckpoint(tensors, {}, { config, step: 1, state });
}

/** The file with its safetensors header edited (the data section is kept byte for byte). */
function editHeader(bytes: Uint8Array, edit: (h: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const len = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + len + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(len), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + len);
  out.set(bytes.subarray(8 + n), 8 + len);
  return out;
}

const write = (name: string, bytes: Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
};

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

const t = suite('configs and checkpoints: one schema, one reader');
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t('--config values outside the CLI ranges are refused, naming the file and the key', () => {
  const micro = getPreset('micro');
  const cases: [Record<string, Record<string, unknown>>, RegExp][] = [
    [{ meta: { pred_depth: 1e9 } }, /meta\.pred_depth 1000000000 is out of range: allowed 1\.\.1024/],
    [{ optimization: { lr: 1e6 } }, /optimization\.lr 1000000 is out of range: allowed 0\.\.1/],
    [{ optimization: { ema: [2, 3] } }, /optimization\.ema\[0\] 2 is out of range: allowed 0\.\.1/],
    [{ data: { crop_size: 65536 } }, /data\.crop_size 65536 is out of range: allowed 8\.\.1024/],
    [{ data: { batch_size: 100000 } }, /data\.batch_size 100000 is out of range: allowed 1\.\.4096/],
    [{ mask: { allow_overlap: 'yes' } }, /mask\.allow_overlap "yes" must be true or false/],
    [{ mask: { patch_size: 5 } }, /--config cfg\.json: .*imgSize 32 is not divisible by patchSize 5/],
  ];
  for (const [json, re] of cases) {
    assert.throws(() => applyConfigFile(micro, json, 'cfg.json'), (e: Error) =>
      e.name === 'OptionError' && /^--config cfg\.json: /.test(e.message) && re.test(e.message), JSON.stringify(json));
  }
  // in range: applied
  assert.is(applyConfigFile(micro, { meta: { pred_depth: 3 }, mask: { allow_overlap: false } }, 'cfg.json').model.predDepth, 3);
});

t('a --config that is malformed, missing or a directory is an error naming the path', async () => {
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '{ "meta": { "pred_depth": 3, } }');
  await rejects(readConfigFile(bad), new RegExp(`^--config ${esc(bad)}: not valid JSON`));
  const yaml = join(tmp, 'vitb.yaml');
  writeFileSync(yaml, 'meta:\n  pred_depth: 3\n');
  await rejects(readConfigFile(yaml), /vitb\.yaml: not valid JSON.*write the file as JSON/s);
  await rejects(readConfigFile(tmp), new RegExp(`^--config ${esc(tmp)}: is a directory`));
  await rejects(readConfigFile(join(tmp, 'nope.json')), /nope\.json: no such file/);
});

t('train --config with pred_depth 1e9 is a usage error (exit 2) before anything is built', () => {
  const cfg = join(tmp, 'deep.json');
  writeFileSync(cfg, JSON.stringify({ meta: { pred_depth: 1e9 } }));
  const r = run(['train', '--preset', 'micro', '--config', cfg, '--out', join(tmp, 'deep-run')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--config ${esc(cfg)}: meta\\.pred_depth 1000000000 is out of range`));
});

t('checkpoint metadata: config {} / null / depth 100000, step -5 / "abc" are refused naming the file and the field', async () => {
  const base = microState();
  const meta = (edit: Record<string, string>) => editHeader(base, (h) => Object.assign(h.__metadata__!, edit));
  const deep = JSON.parse(JSON.stringify({ preset: getPreset('micro'), data: null, steps: 2, ipe: 100, seed: 0, target: 'features' })) as {
    preset: { model: { depth: number; }; };
  };
  deep.preset.model.depth = 100000;
  const cases: [Record<string, string>, RegExp][] = [
    [{ config: '{}' }, /config\.steps is missing/],
    [{ config: 'null' }, /config must be an object/],
    [{ config: JSON.stringify(deep) }, /config\.preset\.model\.depth 100000 is out of range: allowed 1\.\.1024/],
    [{ config: '{"preset": ' }, /metadata 'config' is not valid JSON/],
    [{ step: '-5' }, /metadata 'step' "-5" must be a whole number of steps/],
    [{ step: 'abc' }, /metadata 'step' "abc" must be a whole number of steps/],
    [{ opt_steps: '{"encoder/norm.weight": -1}' }, /metadata 'opt_steps' of encoder\/norm\.weight is -1/],
  ];
  for (const [edit, re] of cases) {
    const p = write('meta.safetensors', meta(edit));
    await rejects(readCheckpoint(p), new RegExp(`^load ${esc(p)}: ${re.source}`));
  }
  assert.is((await readCheckpoint(write('ok.safetensors', base))).step, 1);
});

t('checkpoint tensors: a retyped dtype, swapped offsets, a wrong size or shape, a missing tensor are refused by name', async () => {
  const base = microState();
  const [a, b] = ['encoder/blocks.0.norm1.weight', 'encoder/blocks.0.norm1.bias']; // both [64]
  const cases: [Uint8Array, RegExp][] = [
    [editHeader(base, (h) => {
      h[a]!.dtype = 'I32';
    }), new RegExp(`tensor ${esc(a)} is I32; a train state holds F32`)],
    [editHeader(base, (h) => {
      [h[a]!.data_offsets, h[b]!.data_offsets] = [h[b]!.data_offsets, h[a]!.data_offsets];
    }), new RegExp(`tensor (${esc(a)}|${esc(b)}) fails its CRC-32 check`)],
    [editHeader(base, (h) => {
      h[a]!.shape = [65];
    }), new RegExp(`${esc(a)}: F32 \\[65\\] needs 260 bytes`)],
    [editHeader(base, (h) => {
      h[a]!.shape = [8, 8];
    }), new RegExp(`${esc(a)} is \\[8, 8\\], the model wants \\[64\\]`)],
    [microState({ drop: 'predictor/predictor_norm.bias' }), /tensor predictor\/predictor_norm\.bias is missing/],
  ];
  for (const [bytes, re] of cases) {
    const p = write('tensors.safetensors', bytes);
    await rejects(readTrainState(p), new RegExp(`${esc(p)}: .*${re.source}`));
  }
  assert.is((await readTrainState(write('ok.safetensors', base))).step, 1);
});

t('a checkpoint whose config says depth 100000 is refused by eval and train --resume, not built', () => {
  const deep = microState({ config: { preset: { ...getPreset('micro'), model: { ...getPreset('micro').model, depth: 100000 } } } });
  const dir = join(tmp, 'deep-ckpt');
  mkdirSync(dir);
  const p = join(dir, 'ckpt-0000001.safetensors');
  writeFileSync(p, deep);
  for (const args of [['eval', '--checkpoint', p], ['train', '--resume', '--out', dir]]) {
    const r = run(args);
    assert.is(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`load ${esc(p)}: config\\.preset\\.model\\.depth 100000 is out of range`), args[0]);
  }
});

t(
  'train --resume: a conflicting flag is an error naming it and both values; --steps extends the run, the log is cut back to the checkpoint, --ckpt-every/--keep/--watch-every come back',
  () => {
    const out = join(tmp, 'resume');
    const first = run(['train', '--preset', 'micro', '--steps', '2', '--ckpt-every', '1', '--keep', '2', '--watch-every', '3', '--lr', '0.0004',
      '--out', out]);
    assert.is(first.status, 0, first.stderr);
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { flags: Record<string, unknown>; };
    assert.equal([saved.flags.lr, saved.flags.keep, saved.flags['ckpt-every'], saved.flags.preset, saved.flags.steps], [0.0004, 2, 1, 'micro', 2]);
    for (const [flag, value, was] of [['--lr', '0.001', '0.0004'], ['--preset', 'tiny', 'micro'], ['--seed', '3', '0']] as const) {
      const r = run(['train', '--resume', '--out', out, flag, value]);
      assert.is(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`--resume ${flag} ${value} conflicts with the run in ${esc(out)}, started with ${flag} ${was}`));
    }
    const before = records(out);
    // the step-2 checkpoint is lost (a kill before it landed): the log holds a step the resume runs again
    rmSync(join(out, 'ckpt-0000002.safetensors'));
    const r = run(['train', '--resume', '--steps', '4', '--out', out]);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stderr, /resuming from .*ckpt-0000001\.safetensors at step 1 \(dropped 1 log record/);
    const log = records(out);
    assert.equal(log.map((x) => x.step), [1, 2, 3, 4], 'each step logged once');
    assert.is(log[1]!.lr, before[1]!.lr, 'step 2 runs on the schedule it had');
    // past the starting length the schedules hold their final values
    const micro = getPreset('micro').optim;
    for (const x of log.slice(2)) assert.equal([x.lr, x.wd, x.momentum], [micro.finalLr, micro.finalWd, micro.emaFinal], `step ${x.step}`);
    // --ckpt-every 1 and --keep 2 came back (the defaults, 250 and 3, would keep ckpt-1 and write no ckpt-3)
    assert.equal(readdirSync(out).filter((n) => n.startsWith('ckpt-')).sort(), ['ckpt-0000003.safetensors', 'ckpt-0000004.safetensors']);
    // --watch-every 3 came back (the default 50 would not measure at step 3)
    assert.ok(typeof log[2]!.feat_std === 'number' && log[3]!.feat_std === undefined, 'collapse watch at step 3 only');
    const now = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { steps: number; flags: Record<string, unknown>; };
    assert.equal([now.steps, now.flags.steps, now.flags.keep], [4, 4, 2]);
  },
);

t('a run that fails before its first checkpoint says there is nothing to resume, not --resume or "step 0"', () => {
  // lr 1 with wd 10 turns the loss non-finite within a few steps (hostile-cli's repro), long before step 1000
  const out = join(tmp, 'no-ckpt');
  const r = run(['train', '--preset', 'micro', '--watch-every', '0', '--steps', '40', '--ckpt-every', '1000', '--lr', '1', '--start-lr', '1',
    '--final-lr', '1', '--wd', '10', '--final-wd', '10', '--target', 'pixels', '--out', out]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr,
    new RegExp(`No checkpoint was written, so there is nothing to resume: to start again, remove ${esc(out)} or give another --out`));
  assert.not.match(r.stderr, /step 0|train --resume/);
});

t('cutLog keeps the records up to a step and drops torn lines, atomically; log write errors name the file', async () => {
  const log = join(tmp, 'cut.jsonl');
  const lines = [1, 2, 3, 4, 5].map((s) => JSON.stringify({ step: s, loss: s / 10 }));
  writeFileSync(log, lines.join('\n') + '\n{"step": 6, "lo');
  assert.is(await cutLog(log, 3), 3);
  assert.is(readFileSync(log, 'utf8'), lines.slice(0, 3).join('\n') + '\n');
  assert.is(await cutLog(log, 3), 0);
  assert.is(await cutLog(join(tmp, 'none.jsonl'), 3), 0);
  assert.not.ok(existsSync(join(tmp, 'none.jsonl')));
  assert.equal(readdirSync(tmp).filter((n) => n.includes('.tmp-')), [], 'no temp file left');
  await rejects(appendRecord('/dev/full', { step: 1 }), /^cannot write the log \/dev\/full: ENOSPC/);
});

t('resuming after the data folder shrank names --data and the counts', async () => {
  const data = join(tmp, 'shrunk');
  mkdirSync(data);
  for (let i = 0; i < 4; i++) {
    await sharp(Buffer.alloc(8 * 8 * 3, 40 * i), { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(join(data, `${i}.png`));
  }
  const dir = join(tmp, 'shrunk-run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'ckpt-0000001.safetensors'), microState({ config: { data, images: 8, ipe: 2 } }));
  const r = run(['train', '--resume', '--out', dir]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr,
    new RegExp(`--data ${esc(data)}: the run started on 8 images \\(2 batches of 4 an epoch\\); the data now holds 4 readable \\(1 batches\\)`));
  assert.not.match(r.stderr, /BatchLoader/);
});

t('a directory given where a file is expected is an error naming it (checkpoint, import source, export target)', async () => {
  const dir = join(tmp, 'a-dir');
  mkdirSync(dir);
  await rejects(readCheckpoint(dir), new RegExp(`^load ${esc(dir)}: is a directory`));
  await rejects(importCheckpoint({ from: dir, preset: getPreset('micro'), out: join(tmp, 'imported.safetensors') }),
    new RegExp(`^load ${esc(dir)}: is a directory`));
  const ok = write('export-src.safetensors', microState());
  await rejects(exportCheckpoint({ checkpoint: ok, to: 'safetensors', out: dir }), new RegExp(`^write ${esc(dir)}: is a directory`));
});

t('--out under /proc or on a file fails at once naming it; report names a torn or out-of-range config.json', async () => {
  let r = run(['train', '--preset', 'micro', '--steps', '1', '--out', '/proc/ijepa-run'], 60_000);
  assert.is(r.status, 2, `${r.error ?? ''} ${r.stderr}`);
  assert.match(r.stderr, /--out: cannot create \/proc\/ijepa-run: ENOENT/);
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  r = run(['train', '--preset', 'micro', '--steps', '1', '--out', file]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--out: ${esc(file)} is a file, not a folder`));
  const runDir = join(tmp, 'torn');
  mkdirSync(runDir);
  writeFileSync(join(runDir, 'config.json'), '{"preset": {"name": "mic');
  await rejects(writeReport({ runDir }), new RegExp(`${esc(join(runDir, 'config.json'))} is not valid JSON`));
  const deep = { preset: { ...getPreset('micro'), model: { ...getPreset('micro').model, depth: 100000 } }, data: null, steps: 2, ipe: 100, seed: 0,
    target: 'features' };
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(deep));
  await rejects(writeReport({ runDir }),
    new RegExp(`^report: ${esc(join(runDir, 'config.json'))}: config\\.preset\\.model\\.depth 100000 is out of range`));
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({ preset: getPreset('micro'), data: null, seed: 0 }));
  await rejects(writeReport({ runDir, out: '/proc/ijepa-report' }), /^report: cannot create \/proc\/ijepa-report: ENOENT/);
});

t.run();
