// ijepa report: the page is written from what a run directory holds (curves, eval.json, masks,
// feature PCA), is self-contained (no network references), degrades with notes when parts are
// missing, and renders in headless Chromium (registered as skipped when chromium is absent).
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { importCheckpoint } from '../model/interop/index.ts';
import { derivePreset, getPreset } from '../model/presets.ts';
import { formatTick, niceTicks, principalComponents, writeReport } from '../model/report/index.ts';
import { checkLeaks, suite } from './helpers.ts';
import { skipUnless } from './skips.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ijepa-report-'));
const run = join(tmp, 'run');
const images = join(tmp, 'images');
const preset = derivePreset(getPreset('micro'), { name: 'interop-golden',
  model: { imgSize: 16, patchSize: 4, dim: 16, depth: 2, heads: 2, predDepth: 1, predDim: 8 } });
const SCREENSHOT = join(import.meta.dirname, '..', 'scripts', 'screenshot-report.sh');
const chromium = ['chromium', 'chromium-browser'].some((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);

/** An eval.json as `ijepa eval` writes it (two low-shot settings, three rows). */
const EVAL_JSON = {
  format: 'ijepa-webgpu-eval/1',
  source: 'context encoder of ckpt-0000020.safetensors',
  step: 20,
  encoder: 'context',
  features: 'avgpool',
  data: 'images: 30 images in 3 classes',
  classes: 3,
  train_images: 24,
  test_images: 6,
  protocol: { knn: { k: 20, temperature: 0.07 }, probe_steps: 100, seed: 0, low_shot: { '1%': 1, '10/class': 10 } },
  results: {
    trained: { label: 'context encoder, step 20', dim: 16, knn: 41.23, linear: 38.8, linear_lr: 0.01, 'low_shot_1%': 33.33, 'low_shot_10/class': 50 },
    random_init: { label: 'random init (seed 0)', dim: 16, knn: 33.33, linear: 30, linear_lr: 0.01, 'low_shot_1%': null, 'low_shot_10/class': 16.67 },
    raw_pixels: { label: 'raw pixels', dim: 768, knn: 66.67, linear: 83.33, linear_lr: 0.01, 'low_shot_1%': 50, 'low_shot_10/class': 66.67 },
  },
  accuracy_unit: 'percent top-1',
};

const t = suite('ijepa report');
checkLeaks(t);
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t.before(async () => {
  mkdirSync(run, { recursive: true });
  mkdirSync(images, { recursive: true });
  for (let i = 0; i < 3; i++) {
    // 40×48 pictures: a coloured disc on a gradient, different per image
    const raw = Buffer.alloc(40 * 48 * 3);
    for (let y = 0; y < 40; y++) {
      for (let x = 0; x < 48; x++) {
        const inside = (x - 16 - 8 * i) ** 2 + (y - 20) ** 2 < 120;
        raw.set(inside ? [220 - 60 * i, 60 * i, 90] : [x * 5, y * 6, 128], 3 * (y * 48 + x));
      }
    }
    await sharp(raw, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(join(images, `${i}.png`));
  }
  await importCheckpoint({ from: join(import.meta.dirname, 'golden', 'interop', 'official-micro.pth.tar'), preset,
    out: join(run, 'ckpt-0000020.safetensors') });
  writeFileSync(join(run, 'config.json'), JSON.stringify({ preset, data: images, steps: 20, ipe: 10, seed: 0, target: 'features' }));
  const log = Array.from({ length: 20 }, (_, i) => {
    const step = i + 1;
    return JSON.stringify({
      step,
      epoch: Math.floor(i / 10),
      loss: 0.5 * Math.exp(-step / 8) + 0.1 + 0.01 * Math.sin(step),
      lr: 1e-3 * Math.min(1, step / 4),
      wd: 0.04 + 0.018 * i,
      momentum: 0.996 + 0.0002 * i,
      time_ms: 300 + i,
      context_patches: 9,
      target_patches: 4,
      timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, step)).toISOString(),
      ...(step === 1 || step % 10 === 0 ? { feat_std: 0.1 + 0.01 * step, rankme: 2 + step / 10 } : {}),
      ...(step % 10 === 0 ? { probe_knn: 0.3 + step / 100, probe_ms: 900 } : {}),
    });
  });
  writeFileSync(join(run, 'log.jsonl'), log.join('\n') + '\n{"step": 21, "lo'); // a torn last line
  writeFileSync(join(run, 'eval.json'), JSON.stringify(EVAL_JSON));
});

t('writes index.html with curves, probe numbers, masks and PCA, and the PNGs beside it', async () => {
  const r = await writeReport({ runDir: run, images: 3 });
  assert.equal(r.notes, []);
  const html = readFileSync(r.html, 'utf8');
  for (const s of ['loss (smooth-L1)', 'learning rate', 'weight decay', 'EMA momentum', 'collapse watch: feature std', 'collapse watch: RankMe',
    'Kc 9', 'target encoder', 'ckpt-0000020.safetensors', 'official-micro.pth.tar (pth)', '20 of 20'])
  {
    assert.ok(html.includes(s), `report mentions ${s}`);
  }
  assert.is((html.match(/<svg /g) ?? []).length, 7);
  assert.match(html, /quick kNN probe \(context encoder\)/);
  // the probe table as the CLI prints it, not flattened keys
  const probe = /<table class="probe">(.*?)<\/table>/s.exec(html)?.[1] ?? '';
  const cells = (row: string) => [...row.matchAll(/<t[hd][^>]*>([^<]*)<\/t[hd]>/g)].map((m) => m[1]);
  assert.equal(probe.split('</tr>').filter(Boolean).map(cells), [
    ['features', 'dim', 'kNN', 'linear', '1%', '10/class'],
    ['context encoder, step 20', '16', '41.2', '38.8', '33.3', '50.0'],
    ['random init (seed 0)', '16', '33.3', '30.0', '-', '16.7'],
    ['raw pixels', '768', '66.7', '83.3', '50.0', '66.7'],
  ]);
  assert.not.match(html, /results\.trained|low_shot_/, 'no flattened eval.json keys');
  assert.match(html, /Top-1 accuracy \(%\) on 6 test images, 3 classes/);
  // each chart names its y axis
  for (const y of ['smooth-L1 loss', 'weight decay', 'effective rank', 'kNN top-1 \\(%\\)']) {
    assert.match(html, new RegExp(`rotate\\(-90\\)[^>]*>${y}<`));
  }
  assert.is((html.match(/src="data:image\/png;base64,/g) ?? []).length, 2);
  assert.not.match(html, /(src|href)\s*=\s*"(https?:|\/\/)|url\(|<script|<link/, 'self-contained: nothing fetched');
  const masks = await sharp(join(run, 'report', 'masks.png')).metadata();
  const pca = await sharp(join(run, 'report', 'pca.png')).metadata();
  // 3 images × (image, context, targets) at 16 px × 8, 8 px gaps; PCA: 3 × (image, PCA)
  assert.equal([masks.width, masks.height], [3 * 128 + 4 * 8, 3 * 128 + 4 * 8]);
  assert.equal([pca.width, pca.height], [2 * 128 + 3 * 8, 3 * 128 + 4 * 8]);
});

t('leaves out what the run lacks, with notes, and still writes the page', async () => {
  const bare = join(tmp, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'config.json'), JSON.stringify({ preset, data: join(tmp, 'no-such-folder'), seed: 0 }));
  const r = await writeReport({ runDir: bare });
  assert.is(r.notes.length, 2);
  assert.match(r.notes[0]!, /no log\.jsonl/);
  assert.match(r.notes[1]!, /sample images unavailable: .*no-such-folder/);
  const html = readFileSync(r.html, 'utf8');
  assert.match(html, /No eval\.json in the run directory/);
  writeFileSync(join(bare, 'eval.json'), JSON.stringify({ probe: 'linear', top1: 0.41 }));
  const other = await writeReport({ runDir: bare });
  assert.match(other.notes.at(-1)!, /probe results left out: eval\.json: format is undefined, expected "ijepa-webgpu-eval\/1"/);
  assert.not.ok(existsSync(join(bare, 'report', 'masks.png')));
});

skipUnless(t, chromium, 'chromium', 'no chromium on PATH (npm run setup installs it)')('renders in headless Chromium (scripts/screenshot-report.sh)',
  async () => {
    const shot = join(tmp, 'shot.png');
    const r = spawnSync('bash', [SCREENSHOT, join(run, 'report', 'index.html'), shot, '1200x1600'], { encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    const img = sharp(shot);
    const meta = await img.metadata();
    assert.equal([meta.width, meta.height], [1200, 1600]);
    const st = await img.stats();
    // a blank or error page is (nearly) one colour; the report has text, charts and pictures
    assert.ok(st.channels.every((c) => c.stdev > 20), `screenshot looks blank (stdev ${st.channels.map((c) => c.stdev.toFixed(1)).join(', ')})`);
  });

t('nice ticks and PCA directions', () => {
  assert.equal(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  // the ticks enclose the data, so both ends of an axis are labelled
  assert.equal(niceTicks(1, 30, 5), [0, 10, 20, 30]);
  assert.equal(niceTicks(0.996, 0.9998, 4), [0.996, 0.997, 0.998, 0.999, 1]);
  assert.equal(niceTicks(1, 1500, 5), [0, 500, 1000, 1500]);
  assert.equal([4e-4, 2.5e-4, 1e-6, 0.25, 1500].map(formatTick), ['4e-4', '2.5e-4', '1e-6', '0.25', '1500']);
  // points spread along e0 (variance 100), e2 (25) and e1 (1): components come out in that order
  const M = 200, D = 4;
  const X = new Float64Array(M * D);
  for (let i = 0; i < M; i++) {
    X[i * D] = 10 * Math.sin(i * 0.7);
    X[i * D + 2] = 5 * Math.cos(i * 1.3);
    X[i * D + 1] = Math.sin(i * 2.9);
    X[i * D + 3] = 3;
  }
  const P = principalComponents(X, M, D, 3);
  const corr = (j: number, d: number) => {
    let s = 0, a = 0, b = 0;
    for (let i = 0; i < M; i++) {
      const p = P[i * 3 + j]!, x = X[i * D + d]!;
      s += p * x;
      a += p * p;
      b += x * x;
    }
    return Math.abs(s) / Math.sqrt(a * b);
  };
  assert.ok(corr(0, 0) > 0.99 && corr(1, 2) > 0.99 && corr(2, 1) > 0.99, `${corr(0, 0)} ${corr(1, 2)} ${corr(2, 1)}`);
});

t.run();
