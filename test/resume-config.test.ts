// Configurations and checkpoints from hostile or careless hands (issue #14, items 3, 4, 7, 8, 13):
// every config goes through one schema before anything is built (--config keys, checkpoint
// metadata), the one checkpoint reader refuses malformed metadata and tensors naming the file and
// the field, and `train --resume` keeps the run what it was started as. Checkpoints here are built
// on the host (no GPU) except where a resume needs a real run.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCheckpoint, readCheckpoint } from '../model/checkpoint.ts';
import { applyConfigFile, readConfigFile } from '../model/cli/config-file.ts';
import { officialLayout, readTrainState } from '../model/interop/index.ts';
import { getPreset } from '../model/presets.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000 });
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-resume-config-'));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type F32 = { dtype: 'F32'; shape: readonly number[]; data: Float32Array };

/** A micro train state built on the host: every tensor distinct, so a swap changes the bytes. */
function microState(o: { config?: Record<string, unknown>; drop?: string } = {}): Uint8Array {
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
  const state = { collator: { nextSeed: 1, rng: { mt: Array.from({ length: 624 }, (_, i) => i), index: 624, seed: 0 } }, loader: { epoch: 0, batch: 1 } };
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

const write = (name: string, bytes: Uint8Array) => { const p = join(tmp, name); writeFileSync(p, bytes); return p; };

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try { await p; } catch (e) { assert.match((e as Error).message, re); return; }
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
    assert.throws(() => applyConfigFile(micro, json, 'cfg.json'), (e: Error) => e.name === 'OptionError' && /^--config cfg\.json: /.test(e.message) && re.test(e.message), JSON.stringify(json));
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
  const deep = JSON.parse(JSON.stringify({ preset: getPreset('micro'), data: null, steps: 2, ipe: 100, seed: 0, target: 'features' })) as { preset: { model: { depth: number } } };
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
  const [a, b] = ['encoder/blocks.0.norm1.weight', 'encoder/blocks.0.norm1.bias'];   // both [64]
  const cases: [Uint8Array, RegExp][] = [
    [editHeader(base, (h) => { h[a]!.dtype = 'I32'; }), new RegExp(`tensor ${esc(a)} is I32; a train state holds F32`)],
    [editHeader(base, (h) => { [h[a]!.data_offsets, h[b]!.data_offsets] = [h[b]!.data_offsets, h[a]!.data_offsets]; }), new RegExp(`tensor (${esc(a)}|${esc(b)}) fails its CRC-32 check`)],
    [editHeader(base, (h) => { h[a]!.shape = [65]; }), new RegExp(`${esc(a)}: F32 \\[65\\] needs 260 bytes`)],
    [editHeader(base, (h) => { h[a]!.shape = [8, 8]; }), new RegExp(`${esc(a)} is \\[8, 8\\], the model wants \\[64\\]`)],
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

t.run();
