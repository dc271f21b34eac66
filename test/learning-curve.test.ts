// Learning curves (issue #12 item 1): `train --probe-every N` logs a quick kNN of the context
// encoder on a fixed small split, which is the protocol's kNN on those images; and `ijepa eval`
// keeps its control rows (random init, raw pixels) in a cache, so a second eval of a run costs
// one encoder pass and prints the same rows.
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, setBackend } from '../engine/index.ts';
import { fashionMnistSplits } from '../model/eval/datasets.ts';
import { extractFeatures } from '../model/eval/features.ts';
import { knnClassify } from '../model/eval/knn.ts';
import { QuickProbe } from '../model/eval/quick-probe.ts';
import { cachedRow } from '../model/eval/row-cache.ts';
import type { ProtocolResult } from '../model/eval/protocol.ts';
import { getPreset } from '../model/presets.ts';
import { VisionTransformer } from '../model/vit.ts';
import { checkLeaks, gpu, suite } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-curve-'));
const cache = join(tmp, 'cache');
const cli = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, IJEPA_CACHE: cache } });
const t = suite('learning curves and the eval row cache');
checkLeaks(t);
// other files leave the CPU reference as the default backend at times; these measure the GPU
t.before(() => setBackend(gpu()));
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t('the quick probe is the protocol kNN of the encoder on its class-balanced split, the same each time', async () => {
  const splits = await fashionMnistSplits({ trainSize: 200, testSize: 100, seed: 0 });
  const probe = await QuickProbe.prepare(splits, { bank: 100, test: 50 });
  const enc = new VisionTransformer(getPreset('micro').model, new Generator(3));
  try {
    const a = await probe.run(enc), b = await probe.run(enc, 7); // another batch size: same features
    assert.is(a.knn, b.knn);
    assert.ok(a.knn > 0.1 && a.knn <= 1, `kNN ${a.knn}`);
    // the whole 200/100 split through extractFeatures and knnClassify directly: near the 100/50 probe
    const bankFeats = await extractFeatures(enc, splits.train), testFeats = await extractFeatures(enc, splits.test);
    const all = await knnClassify(bankFeats, splits.train.labels, testFeats, enc.config.dim, splits.test.labels, { numClasses: 10 });
    assert.ok(Math.abs(all.accuracy - a.knn) < 0.25, `the 100/50 probe (${a.knn}) is near the 200/100 kNN (${all.accuracy})`);
  } finally {
    enc.dispose();
  }
});

t('train --probe-every logs probe_knn at every N-th and the last step, into the JSONL log and the progress line', () => {
  const out = join(tmp, 'run');
  const r = cli(['train', '--preset', 'micro', '--steps', '3', '--probe-every', '2', '--watch-every', '0', '--log-every', '1', '--out', out]);
  assert.is(r.status, 0, r.stderr);
  const recs = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(recs.filter((x) => 'probe_knn' in x).map((x) => x.step), [2, 3]);
  for (const x of recs.filter((x) => 'probe_knn' in x)) {
    assert.ok(x.probe_knn! > 0 && x.probe_knn! <= 1);
    assert.ok(x.probe_ms! > 0);
  }
  assert.match(r.stderr, /kNN \d+\.\d/);
});

t('--probe-every on an unlabelled folder is an error naming the option', async () => {
  const data = join(tmp, 'flat');
  mkdirSync(data);
  for (let i = 0; i < 4; i++) {
    await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 40 * i, g: 0, b: 0 } } }).png().toFile(join(data, `${i}.png`));
  }
  const r = cli(['train', '--preset', 'micro', '--data', data, '--steps', '1', '--probe-every', '1', '--out', join(tmp, 'flat-run')]);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /--probe-every: eval: .* has no class sub-folders/);
});

t('a second eval reads the control rows from the cache and prints the same table; --fresh recomputes them', () => {
  const run = join(tmp, 'run');
  const args = ['eval', '--run', run, '--train-size', '200', '--test-size', '100', '--probe-steps', '20'];
  const first = cli(args), second = cli(args), fresh = cli([...args, '--fresh']);
  for (const r of [first, second, fresh]) assert.is(r.status, 0, r.stderr);
  assert.not.match(first.stderr, /from the cache/);
  assert.is((second.stderr.match(/from the cache/g) ?? []).length, 2, second.stderr);
  assert.not.match(fresh.stderr, /from the cache/);
  const table = (s: string) => s.split('\n').filter((l) => /^(random init|raw pixels)/.test(l)).join('\n');
  assert.is(table(second.stdout), table(first.stdout));
  assert.is(table(fresh.stdout), table(first.stdout));
  assert.is(readdirSync(cache).filter((n) => n.endsWith('.json')).length, 2);
});

t('the cache keeps NaN, and recomputes a torn entry', async () => {
  const dir = join(tmp, 'unit');
  const row = { dim: 4, knn: 0.5, linear: { accuracy: 0.6, lr: 0.03, weightDecay: 0, valAccuracy: NaN, sweep: [], losses: [], nTrain: 10 },
    lowShot: [] } as ProtocolResult;
  let computed = 0;
  const compute = async () => {
    computed++;
    return row;
  };
  await cachedRow({ a: 1 }, compute, { dir });
  const again = await cachedRow({ a: 1 }, compute, { dir });
  assert.is(computed, 1);
  assert.ok(Number.isNaN(again.linear.valAccuracy));
  const [file] = readdirSync(dir);
  writeFileSync(join(dir, file!), '{"knn": 0.5, "lin');
  await cachedRow({ a: 1 }, compute, { dir });
  assert.is(computed, 2);
  await cachedRow({ a: 2 }, compute, { dir });
  assert.is(computed, 3, 'another key is another entry');
});

t.run();
