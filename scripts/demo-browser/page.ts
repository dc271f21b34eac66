// page: I-JEPA trained in a browser tab. The same model code as `ijepa train` (model/index.ts:
// IJepa, MaskCollator, the preset's schedules; the small-recipe transform), on a device from
// navigator.gpu. The server (scripts/demo-browser.ts) hands over the installed Fashion-MNIST
// files; this page gunzips and decodes them, trains the `micro` preset, and draws the loss
// curve, the collapse watch (std and RankMe of the target features) and the current batch's
// mask layouts. Query: ?steps=N (default 300), &level=core|compatibility|auto.
import { deviceInfo, initWebGPU } from '../../engine/device/browser.ts';
import { fromArray, memory, noGrad, tidy } from '../../engine/index.ts';
import { IJepa, MaskCollator, collapseStats, derivePreset, getPreset, scheduleAt, type MaskBatch } from '../../model/index.ts';
import { parseIdx } from '../../model/data/idx.ts';
import { Rng } from '../../model/data/prng.ts';
import { smallRecipeTransform } from '../../model/data/transforms.ts';

const q = new URLSearchParams(location.search);
const STEPS = Number(q.get('steps') ?? 300);
const WATCH_EVERY = 10;
const IMAGES = 4096; // a slice of the training set: enough for a demo, quick to decode

interface DemoState {
  step: number;
  losses: number[];
  std: number[];
  rank: number[];
  done: boolean;
  error?: string;
  adapter?: string;
}
const state: DemoState = { step: 0, losses: [], std: [], rank: [], done: false };
(globalThis as { __demo?: DemoState; }).__demo = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => {
  $('status').textContent = s;
};

async function fetchIdx(path: string): Promise<{ dims: number[]; data: Uint8Array; }> {
  const res = await fetch(path);
  if (!res.ok || !res.body) throw new Error(`${path}: HTTP ${res.status}`);
  const raw = new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return parseIdx(raw, path);
}

function drawLoss(canvas: HTMLCanvasElement, ys: number[]): void {
  const c = canvas.getContext('2d')!;
  const { width: W, height: H } = canvas;
  c.clearRect(0, 0, W, H);
  if (ys.length < 2) return;
  const lo = Math.min(...ys), hi = Math.max(...ys);
  c.strokeStyle = '#1565c0';
  c.lineWidth = 1.5;
  c.beginPath();
  ys.forEach((y, i) => {
    const px = (i / (STEPS - 1)) * (W - 10) + 5, py = H - 5 - ((y - lo) / (hi - lo || 1)) * (H - 20);
    if (i) c.lineTo(px, py);
    else c.moveTo(px, py);
  });
  c.stroke();
  c.fillStyle = '#333';
  c.font = '12px sans-serif';
  c.fillText(`loss ${ys[ys.length - 1]!.toFixed(4)} (max ${hi.toFixed(4)}, min ${lo.toFixed(4)})`, 8, 14);
}

/** Image b of the batch in grey, context patches kept bright, target blocks outlined. */
function drawMasks(canvas: HTMLCanvasElement, imgs: Float32Array, masks: MaskBatch, b: number, size: number, patch: number): void {
  const c = canvas.getContext('2d')!;
  const scale = canvas.width / size, G = size / patch;
  const img = c.createImageData(size, size);
  const off = b * 3 * size * size;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < size * size; i++) {
    lo = Math.min(lo, imgs[off + i]!);
    hi = Math.max(hi, imgs[off + i]!);
  }
  const ctx = new Set(Array.from(masks.encMasks[0]!.subarray(b * masks.Le, (b + 1) * masks.Le)));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = ((imgs[off + y * size + x]! - lo) / (hi - lo || 1)) * 255;
      const inCtx = ctx.has(Math.floor(y / patch) * G + Math.floor(x / patch));
      const k = 4 * (y * size + x);
      img.data[k] = inCtx ? v : v * 0.35;
      img.data[k + 1] = inCtx ? v : v * 0.35;
      img.data[k + 2] = inCtx ? v : v * 0.35 + 60;
      img.data[k + 3] = 255;
    }
  }
  const tmp = new OffscreenCanvas(size, size);
  tmp.getContext('2d')!.putImageData(img, 0, 0);
  c.imageSmoothingEnabled = false;
  c.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  const colours = ['#e53935', '#fdd835', '#43a047', '#fb8c00'];
  masks.predMasks.forEach((pm, p) => {
    c.strokeStyle = colours[p % colours.length]!;
    c.lineWidth = 2;
    for (const t of pm.subarray(b * masks.Lp, (b + 1) * masks.Lp)) {
      c.strokeRect((t % G) * patch * scale + 1, Math.floor(t / G) * patch * scale + 1, patch * scale - 2, patch * scale - 2);
    }
  });
}

async function main(): Promise<void> {
  status('requesting a WebGPU device…');
  await initWebGPU({ featureLevel: (q.get('level') as 'core' | 'compatibility' | 'auto' | null) ?? 'auto' });
  const info = deviceInfo();
  state.adapter = `${
    info.adapter.description || [info.adapter.vendor, info.adapter.architecture].filter(Boolean).join(' ') || 'unnamed adapter'
  } (${info.featureLevel})`;
  $('adapter').textContent = `${state.adapter}; features: ${info.features.join(', ') || 'none'}`;

  status('loading Fashion-MNIST…');
  const { dims, data } = await fetchIdx('/data/train-images-idx3-ubyte.gz');
  const n = Math.min(IMAGES, dims[0]!);

  const base = getPreset('micro');
  const B = base.optim.batch * 4;
  const ipe = Math.floor(n / B);
  const preset = derivePreset(base, { optim: { epochs: STEPS / ipe, warmupEpochs: 0.1 * STEPS / ipe } });
  const m = preset.model;
  const model = new IJepa(m, { seed: 0 });
  const collator = new MaskCollator({ inputSize: m.imgSize, patchSize: m.patchSize, ...preset.mask, seed: 0 });
  const sched = { ...preset.optim, ipe };
  const rng = new Rng(0);
  const per = 3 * m.imgSize * m.imgSize;
  const imgs = new Float32Array(B * per);

  for (let step = 1; step <= STEPS; step++) {
    for (let b = 0; b < B; b++) smallRecipeTransform(data, rng.int(n) * 28 * 28, rng, imgs, b * per, { augment: true });
    const masks = collator.next(B);
    const lossT = model.step(imgs, masks, scheduleAt(step, sched)).loss;
    const loss = await lossT.item();
    lossT.dispose();
    state.losses.push(loss);
    state.step = step;
    if (step % WATCH_EVERY === 0 || step === 1) {
      const feats = noGrad(() => tidy(() => (model.target_encoder ?? model.encoder).forward(fromArray(imgs, [B, 3, m.imgSize, m.imgSize])).mean(1)));
      const w = collapseStats(await feats.data(), B, m.dim);
      feats.dispose();
      state.std.push(w.std);
      state.rank.push(w.rankMe);
      $('watch').textContent = `collapse watch at step ${step}: feature std ${w.std.toFixed(3)}, RankMe ${w.rankMe.toFixed(1)} of ${w.maxRank}`;
      document.querySelectorAll<HTMLCanvasElement>('canvas.mask').forEach((cv, b) => drawMasks(cv, imgs, masks, b, m.imgSize, m.patchSize));
    }
    drawLoss($('loss'), state.losses);
    status(`step ${step}/${STEPS}  loss ${loss.toFixed(5)}  live tensors ${memory().liveTensors}`);
  }
  state.done = true;
  status(`done: ${STEPS} steps, loss ${state.losses[0]!.toFixed(4)} → ${state.losses[STEPS - 1]!.toFixed(4)}`);
}

main().catch((e) => {
  state.error = String((e as Error)?.stack ?? e);
  state.done = true;
  status(`error: ${state.error}`);
});
