// build: `ijepa report RUN_DIR` → RUN_DIR/report/index.html, one self-contained page (inline SVG
// charts, PNGs as data: URIs, inline CSS, no script, no network) plus the PNGs beside it.
//
// Sections, each drawn from what the run directory holds and skipped with a note when it is absent:
//  1. summary: preset, model shape, steps, final loss, checkpoint (and the import source, if any);
//  2. curves from log.jsonl: loss (raw and smoothed), lr, wd, EMA momentum, and the collapse watch
//     (feat_std, rankme) logged every --watch-every steps, and the quick kNN probe (--probe-every);
//  3. probe results from eval.json (written by `ijepa eval`): the table the CLI prints (one row per
//     encoder, kNN / linear / low-shot columns), from the same function (eval/results-table.ts);
//  4. mask layouts: the run's MaskCollator (its preset's mask settings and seed) drawn over a few
//     sample images of the run's data: context patches kept and the rest dimmed; targets tinted;
//  5. PCA of patch features: the newest checkpoint's target encoder (the encoder for pixel
//     targets) on the same images; the first three principal components of all their patch
//     tokens, shown as RGB.
// Needs a backend for section 5 (the caller initialises WebGPU; the engine default is used).
// Deliberately not here: interactive plots, comparisons across runs, anything fetched at view time.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fromArray, noGrad, tidy } from '../../engine/index.ts';
import { makeDirs, checkConfigPreset, listCheckpoints, loadCheckpoint, readCheckpointMeta } from '../node.ts';
import { loadFashionMnist, scanImageFolder, Rng, smallRecipeTransform } from '../data/index.ts';
import { evalView, resultsTable } from '../eval/index.ts';
import { IJepa, MaskCollator, type TargetKind, type Preset } from '../index.ts';
import { lineChart } from './charts.ts';
import { pcaRgb } from './pca.ts';
import { CONTEXT_COLOR, TARGET_COLORS, contextPanel, grid, imageRaster, patchRgbRaster, targetsPanel, type Raster } from './raster.ts';

export interface ReportOptions {
  runDir: string;
  /** Checkpoint for the feature PCA (default: the run's newest). */
  checkpoint?: string;
  /** Sample images to draw (default 4). */
  images?: number;
  /** Image folder to draw instead of the run's data. */
  data?: string;
  /** Output folder (default RUN_DIR/report). */
  out?: string;
}

export interface ReportResult {
  html: string;
  files: string[];
  /** Why a section was left out or reduced. */
  notes: string[];
}

interface RunConfig {
  preset: Preset;
  data: string | null;
  steps?: number;
  seed?: number;
  target?: TargetKind;
}
type LogRecord = Record<string, unknown>;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmtNum = (
  v: number,
) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? String(Number(v.toPrecision(5))) : v.toExponential(3));

async function readJson(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`report: ${path} is not valid JSON (${(e as Error).message})`);
  }
}

async function readLog(path: string): Promise<LogRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as LogRecord];
    } catch {
      return [];
    } // a torn last line after a crash
  });
}

/** Exponential moving average (bias-corrected, as a smoothed loss curve). */
function smooth(points: readonly (readonly [number, number])[], beta = 0.9): [number, number][] {
  let m = 0, k = 0;
  return points.map(([x, y]) => {
    m = beta * m + (1 - beta) * y;
    k++;
    return [x, m / (1 - beta ** k)];
  });
}

/** `k` sample images [k, C, S, S] as the model sees them (normalised), from the run's data. */
async function sampleImages(cfg: RunConfig, k: number, dataOverride: string | undefined): Promise<{ imgs: Float32Array; what: string; }> {
  const { imgSize: S, chans: C } = cfg.preset.model;
  const imgs = new Float32Array(k * C * S * S);
  const folder = dataOverride ?? cfg.data;
  if (folder === null) {
    const fm = await loadFashionMnist('test');
    if (S !== 32 || C !== 3) throw new Error(`Fashion-MNIST views are [3, 32, 32]; this model takes [${C}, ${S}, ${S}]`);
    for (let i = 0; i < k; i++) {
      const idx = Math.floor((i * fm.n) / k);
      smallRecipeTransform(fm.images, idx * 28 * 28, new Rng(0), imgs, i * C * S * S, { augment: false });
    }
    return { imgs, what: `Fashion-MNIST test images (evaluation view, ${S}×${S})` };
  }
  const scan = await scanImageFolder(folder, { probe: false });
  if (scan.entries.length === 0) throw new Error(`no images in ${folder}`);
  for (let i = 0; i < k; i++) {
    const e = scan.entries[Math.floor((i * scan.entries.length) / k)]!;
    await evalView(e.path, S, imgs, i * C * S * S);
  }
  return { imgs, what: `images from ${folder} (centre crop, ${S}×${S})` };
}

/** Patch features [k, N, D] of the checkpoint's target encoder (encoder for pixel targets). */
async function patchFeatures(cfg: RunConfig, ckpt: string, imgs: Float32Array,
  k: number): Promise<{ feats: Float32Array; N: number; D: number; net: string; }>
{
  const model = new IJepa(cfg.preset.model, { target: cfg.target ?? 'features' });
  try {
    await loadCheckpoint(ckpt, Object.fromEntries(model.modules()), null);
    const enc = model.target_encoder ?? model.encoder;
    const { imgSize: S, chans: C } = cfg.preset.model;
    const y = noGrad(() => tidy(() => enc.forward(fromArray(imgs, [k, C, S, S])))); // [k, N, D]
    const [, N, D] = y.shape as [number, number, number];
    const feats = Float32Array.from(await y.data());
    y.dispose();
    return { feats, N, D, net: model.target_encoder ? 'target encoder' : 'encoder' };
  } finally {
    model.dispose();
  }
}

/** eval.json as the table `ijepa eval` prints (results-table.ts), with what it measured beneath. */
function probeTable(json: unknown): string {
  const { heads, rows } = resultsTable(json, 'eval.json');
  const o = json as { source?: unknown; features?: unknown; data?: unknown; test_images?: unknown; classes?: unknown;
    protocol?: { knn?: { k?: unknown; temperature?: unknown; }; probe_steps?: unknown; }; };
  const cell = (tag: 'th' | 'td', c: string, i: number) => `<${tag}${i > 0 ? ' class="num"' : ''}>${esc(c)}</${tag}>`;
  const caption = [
    `${String(o.source)}; readout ${String(o.features)}. ${String(o.data)}.`,
    `Top-1 accuracy (%) on ${String(o.test_images)} test images, ${String(o.classes)} classes; kNN: ${
      String(o.protocol?.knn?.k)
    } neighbours by cosine, T ${String(o.protocol?.knn?.temperature)}; linear probe: ${String(o.protocol?.probe_steps)} steps.`,
  ];
  return `<table class="probe"><tr>${heads.map((h, i) => cell('th', h, i)).join('')}</tr>${
    rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('')
  }</table>` +
    `<p class="cap">${caption.map(esc).join('<br>')}</p>`;
}

const dataUri = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;
const swatch = (rgb: readonly number[]) => `<span class="sw" style="background:rgb(${rgb.join(',')})"></span>`;

export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  const run = resolve(o.runDir);
  const outDir = resolve(o.out ?? join(run, 'report'));
  const notes: string[] = [];
  const ckpts = await listCheckpoints(run);
  const ckpt = o.checkpoint ? resolve(o.checkpoint) : ckpts.at(-1)?.path ?? null;
  const cfgPath = join(run, 'config.json');
  const saved = await readJson(cfgPath);
  let cfg = saved as RunConfig | undefined;
  // its preset is checked like a checkpoint's: the report builds the model from it
  if (cfg?.preset !== undefined) checkConfigPreset(cfg.preset, `report: ${cfgPath}`);
  let imported: Record<string, unknown> | undefined;
  if (ckpt) {
    const meta = await readCheckpointMeta(ckpt);
    cfg ??= meta.config as RunConfig;
    imported = (meta.state as { imported?: Record<string, unknown>; } | null)?.imported;
  }
  if (!cfg?.preset?.model) throw new Error(`report: ${run} has neither config.json nor a checkpoint to read the model config from`);
  const log = await readLog(join(run, 'log.jsonl'));
  const evalJson = await readJson(join(run, 'eval.json'));
  await makeDirs(outDir).catch((e: Error) => {
    throw new Error(`report: ${e.message}`);
  });
  const files: string[] = [];
  const m = cfg.preset.model;
  const G = m.imgSize / m.patchSize;

  // ---- curves -----------------------------------------------------------------------------------
  const series = (key: string) =>
    log.filter((r) => typeof r[key] === 'number' && typeof r.step === 'number').map((r) => [r.step!, r[key]!] as [number, number]);
  const charts: string[] = [];
  const loss = series('loss');
  if (loss.length) {
    charts.push(lineChart({ title: 'loss (smooth-L1)', xLabel: 'step', yLabel: 'smooth-L1 loss', series: [
      { name: 'raw', points: loss, color: '#9ecae1' },
      { name: 'smoothed', points: smooth(loss), color: '#08519c' },
    ] }));
  }
  for (const [key, title, yLabel, color] of [
    ['lr', 'learning rate', 'lr', '#d95f02'],
    ['wd', 'weight decay', 'weight decay', '#7570b3'],
    ['momentum', 'EMA momentum', 'momentum', '#1b9e77'],
    ['feat_std', 'collapse watch: feature std', 'mean std per dim', '#e7298a'],
    ['rankme', 'collapse watch: RankMe', 'effective rank', '#66a61e'],
  ] as const) {
    const s = series(key);
    if (s.length) charts.push(lineChart({ title, xLabel: 'step', yLabel, series: [{ name: key, points: s, color }] }));
  }
  // --probe-every logs a fraction; the chart reads in percent, as the eval table does
  const probeKnn = series('probe_knn').map(([x, y]) => [x, 100 * y] as [number, number]);
  if (probeKnn.length) {
    charts.push(
      lineChart({ title: 'quick kNN probe (context encoder)', xLabel: 'step', yLabel: 'kNN top-1 (%)',
        series: [{ name: 'probe_knn', points: probeKnn, color: '#a6761d' }] }),
    );
  }
  if (!log.length) notes.push('no log.jsonl: no curves');

  // ---- images, masks, features ------------------------------------------------------------------
  const k = o.images ?? 4;
  let masksImg = '', pcaImg = '', imagesWhat = '';
  let imagesNote = '', featNote = '';
  let sample: { imgs: Float32Array; what: string; } | null = null;
  try {
    sample = await sampleImages(cfg, k, o.data);
  } catch (e) {
    imagesNote = `sample images unavailable: ${(e as Error).message}`;
    featNote = imagesNote;
    notes.push(imagesNote);
  }
  if (sample) {
    const { imgs, what } = sample;
    imagesWhat = what;
    const per = m.chans * m.imgSize * m.imgSize;
    const scale = Math.max(1, Math.round(128 / m.imgSize));
    const base = Array.from({ length: k }, (_, i) => imageRaster(imgs.subarray(i * per, (i + 1) * per), m.chans, m.imgSize, scale));
    const collator = new MaskCollator({ inputSize: m.imgSize, patchSize: m.patchSize, ...cfg.preset.mask, seed: cfg.seed ?? 0 });
    const mb = collator.next(k);
    const rows: Raster[][] = base.map((img, b) => [
      img,
      contextPanel(img, mb.encMasks[0]!.subarray(b * mb.Le, (b + 1) * mb.Le), G),
      targetsPanel(img, mb.predMasks.map((p) => p.subarray(b * mb.Lp, (b + 1) * mb.Lp)), G),
    ]);
    const png = await grid(rows).png();
    await writeFile(join(outDir, 'masks.png'), png);
    files.push(join(outDir, 'masks.png'));
    masksImg = `<img src="${dataUri(png)}" alt="mask layouts"><p class="cap">Columns: image · context (kept patches outlined ${
      swatch(CONTEXT_COLOR)
    }, dropped ones dimmed and hatched) · targets (${
      mb.predMasks.map((_, i) => swatch(TARGET_COLORS[i % TARGET_COLORS.length]!)).join('')
    } one colour per block). First batch of the run's collator (seed ${
      cfg.seed ?? 0
    }): block sizes context ${mb.encSize.h}×${mb.encSize.w}, targets ${mb.predSize.h}×${mb.predSize.w}; kept tokens Kc ${mb.Le}, Kt ${mb.Lp}${
      mb.encMasks.length > 1 ? `; context mask 1 of ${mb.encMasks.length} shown` : ''
    }.</p>`;
    if (!ckpt) {
      featNote = 'no checkpoint in the run directory: no feature PCA';
      notes.push(featNote);
    } else {
      try {
        const f = await patchFeatures(cfg, ckpt, imgs, k);
        const rgb = pcaRgb(f.feats, k * f.N, f.D);
        const side = base[0]!.width;
        const pcaRows = base.map((img, b) => [img, patchRgbRaster(rgb.subarray(b * f.N * 3, (b + 1) * f.N * 3), G, side)]);
        const png2 = await grid(pcaRows).png();
        await writeFile(join(outDir, 'pca.png'), png2);
        files.push(join(outDir, 'pca.png'));
        pcaImg = `<img src="${
          dataUri(png2)
        }" alt="PCA of patch features"><p class="cap">Left: image. Right: the first three principal components of the ${f.net}'s patch tokens (${k}·${f.N} tokens of width ${f.D}, PCA over all of them together) as red, green and blue, each stretched between its 1st and 99th percentile. Checkpoint ${
          esc(basename(ckpt))
        }.</p>`;
      } catch (e) {
        featNote = `feature PCA failed: ${(e as Error).message}`;
        notes.push(featNote);
      }
    }
  }

  // ---- summary and probe ------------------------------------------------------------------------
  const last = log.at(-1);
  const tail = loss.slice(-10);
  const summary: [string, string][] = [
    ['run', run],
    ['preset', cfg.preset.name],
    ['model',
      `img ${m.imgSize}, patch ${m.patchSize} (grid ${G}×${G}), D ${m.dim}, depth ${m.depth}, heads ${m.heads}, predictor ${m.predDepth}×${m.predDim}`],
    ['target', cfg.target ?? 'features'],
    ['steps', last?.step !== undefined ? `${last.step}${cfg.steps ? ` of ${cfg.steps}` : ''}` : '—'],
    ['final loss (mean of last 10)', tail.length ? fmtNum(tail.reduce((a, p) => a + p[1], 0) / tail.length) : '—'],
    ['checkpoint', ckpt ? basename(ckpt) : '—'],
  ];
  if (imported) summary.push(['imported from', `${String(imported.from)} (${String(imported.format)})`]);
  const times = log.map((r) => r.time_ms).filter((t): t is number => typeof t === 'number').sort((a, b) => a - b);
  if (times.length) summary.push(['median step time', `${fmtNum(times[Math.floor(times.length / 2)]!)} ms`]);
  const row = ([kk, v]: [string, string]) => `<tr><th>${esc(kk)}</th><td>${esc(v)}</td></tr>`;
  let probe = '<p class="note">No eval.json in the run directory (run <code>ijepa eval</code> to add probe results).</p>';
  if (evalJson !== undefined) {
    try {
      probe = probeTable(evalJson);
    } catch (e) {
      notes.push(`probe results left out: ${(e as Error).message}`);
      probe = `<p class="note">${esc((e as Error).message)}</p>`;
    }
  }

  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>I-JEPA run report: ${esc(basename(run))}</title>
<style>
body{font-family:sans-serif;margin:24px auto;max-width:1140px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:3px 12px 3px 0;vertical-align:top}th{font-weight:600;color:#444}
.probe th,.probe td{padding:3px 14px 3px 0}.probe .num{text-align:right}.probe tr:first-child th{border-bottom:1px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:10px}.charts svg{border:1px solid #eee}
.cap{font-size:12px;color:#555;max-width:900px}.note{font-size:13px;color:#8a5a00}
.sw{display:inline-block;width:10px;height:10px;margin:0 2px;border:1px solid #666;vertical-align:middle}
img{image-rendering:pixelated;border:1px solid #eee;max-width:100%}
</style></head><body>
<h1>I-JEPA run report</h1><div class="cap">${esc(run)}</div>
<h2>Summary</h2><table>${summary.map(row).join('')}</table>
<h2>Training curves</h2>${charts.length ? `<div class="charts">${charts.join('')}</div>` : '<p class="note">No log.jsonl records.</p>'}
<h2>Probe results</h2>${probe}
<h2>Masks</h2>${masksImg ? `<p class="cap">${esc(imagesWhat)}</p>${masksImg}` : `<p class="note">${esc(imagesNote)}</p>`}
<h2>Patch features (PCA → RGB)</h2>${pcaImg || `<p class="note">${esc(featNote)}</p>`}
</body></html>
`;
  const htmlPath = join(outDir, 'index.html');
  await writeFile(htmlPath, html);
  return { html: htmlPath, files: [htmlPath, ...files], notes };
}
