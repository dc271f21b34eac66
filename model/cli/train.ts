// `ijepa train`: pretrain I-JEPA on Fashion-MNIST (the default, from Debian's package) or on a
// folder of images, with a progress line, a JSONL log, collapse watch and crash-safe
// checkpoints. Reads top to bottom like nanoGPT's train.py: options, data, model, loop.
//
// Guarantees: options are validated before any work; a checkpoint is written atomically every
// --ckpt-every steps, at the end, and on SIGINT/SIGTERM (after the current step); --resume
// continues from the newest checkpoint with the same losses as an uninterrupted run; a NaN/Inf
// loss stops the run naming the step and never overwrites the last good checkpoint.
import { mkdir, readdir, readFile, writeFile, appendFile, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initWebGPU } from '../../engine/device/node.ts';
import { DeviceError, fromArray, measurePeakGflops, memory, noGrad, tidy, type GradScalerState, type Tensor, type WebGPUBackend } from '../../engine/index.ts';
import { collapseStats } from '../collapse.ts';
import { checkpointName, listCheckpoints, loadCheckpoint, NonFiniteError, pruneCheckpoints, readCheckpointMeta, saveCheckpoint } from '../checkpoint.ts';
import { BatchLoader, fashionMnistSource, imageFolderSource, type Batch, type SampleSource } from '../data/loader.ts';
import { loadFashionMnist } from '../data/fashion-mnist.ts';
import { scanImageFolder } from '../data/image-folder.ts';
import { stepFlops } from '../flops.ts';
import { IJepa, type AsyncStepResult } from '../ijepa.ts';
import { MaskCollator, type MaskBatch, type MaskCollatorState } from '../masks.ts';
import { derivePreset, getPreset, PRESET_NAMES, scheduleFor, type ModelConfig, type Preset } from '../presets.ts';
import type { VisionTransformer } from '../vit.ts';
import { scheduleAt, scheduleSteps } from '../schedules.ts';
import { helpText, OptionError, parseOptions, type OptionTable, type OptionValues } from './options.ts';
import { Progress } from './progress.ts';
import { applyConfigFile } from './config-file.ts';

export const TRAIN_OPTIONS: OptionTable = {
  preset: { type: 'string', help: 'model/recipe preset', default: 'small-recipe', choices: PRESET_NAMES },
  data: { type: 'string', help: 'folder of JPEG/PNG/WebP images (class sub-folders or flat)', defaultText: 'Fashion-MNIST train split' },
  'img-size': { type: 'integer', help: 'input side in pixels (a multiple of the patch)', min: 8, max: 1024, defaultText: 'from the preset' },
  batch: { type: 'integer', help: 'images per step', min: 1, max: 4096, defaultText: 'from the preset' },
  steps: { type: 'integer', help: 'training steps (overrides --epochs)', min: 1, max: 10_000_000, defaultText: 'the preset\'s epochs' },
  epochs: { type: 'number', help: 'epochs over the data (fractional allowed)', min: 1e-6, max: 100_000, defaultText: 'from the preset' },
  lr: { type: 'number', help: 'peak learning rate', min: 0, max: 1, defaultText: 'from the preset' },
  'start-lr': { type: 'number', help: 'learning rate at the start of warmup', min: 0, max: 1, defaultText: 'from the preset' },
  'final-lr': { type: 'number', help: 'learning rate at the end of the cosine', min: 0, max: 1, defaultText: 'from the preset' },
  warmup: { type: 'number', help: 'warmup length as a fraction of training', min: 0, max: 1, defaultText: 'from the preset' },
  wd: { type: 'number', help: 'weight decay at the start (rises by cosine)', min: 0, max: 10, defaultText: 'from the preset' },
  'final-wd': { type: 'number', help: 'weight decay at the end', min: 0, max: 10, defaultText: 'from the preset' },
  'ema-start': { type: 'number', help: 'EMA momentum at the start', min: 0, max: 1, defaultText: 'from the preset' },
  'ema-final': { type: 'number', help: 'EMA momentum at the end', min: 0, max: 1, defaultText: 'from the preset' },
  'mask-mode': { type: 'string', help: 'official masks (quirks included) or fixed (off-by-one repaired)', choices: ['official', 'fixed'], defaultText: 'from the preset' },
  target: { type: 'string', help: 'predict target-encoder features or normalised patch pixels', default: 'features', choices: ['features', 'pixels'] },
  config: { type: 'string', help: 'JSON file with official I-JEPA yaml keys (data/mask/meta/optimization)' },
  out: { type: 'string', help: 'output directory (log, config, checkpoints)', default: 'runs/ijepa' },
  resume: { type: 'boolean', help: 'continue from the newest checkpoint in --out' },
  seed: { type: 'integer', help: 'seed for init, masks and data order', default: 0, min: 0, max: 2 ** 31 - 1 },
  dtype: { type: 'string', help: 'f32, or f16 mixed precision (f32 master weights, f16 copies and activations, dynamic loss scaling)', default: 'f32', choices: ['f32', 'f16'] },
  'loss-scale': { type: 'number', help: 'f16: loss scale at the start (halves on overflow)', min: 2 ** -24, max: 2 ** 100, defaultText: '65536' },
  'loss-scale-interval': { type: 'integer', help: 'f16: clean steps before the loss scale doubles', min: 1, max: 10_000_000, defaultText: '2000' },
  'ckpt-every': { type: 'integer', help: 'steps between checkpoints', default: 250, min: 1, max: 10_000_000 },
  keep: { type: 'integer', help: 'checkpoints to keep', default: 3, min: 1, max: 1000 },
  'watch-every': { type: 'integer', help: 'steps between collapse-watch measurements (0 = off)', default: 50, min: 0, max: 10_000_000 },
  'log-every': { type: 'integer', help: 'steps between progress lines when not on a terminal', default: 10, min: 1, max: 1_000_000 },
  strict: { type: 'boolean', help: 'stop on an unreadable image instead of skipping it' },
  prefetch: { type: 'integer', help: 'batches prepared ahead of the GPU', default: 2, min: 0, max: 64 },
};

const SUMMARY = 'Pretrain I-JEPA (context encoder + predictor, EMA target encoder) on images.';

export interface TrainConfig {
  preset: Preset;
  data: string | null;
  steps: number;
  ipe: number;
  seed: number;
  target: 'features' | 'pixels';
  /** Absent in runs from before mixed precision: f32. */
  dtype?: 'f32' | 'f16';
  lossScale?: number;
  lossScaleInterval?: number;
}

/** Apply command-line overrides on top of the preset (and config file). */
export function resolvePreset(v: OptionValues, base: Preset): Preset {
  const num = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  const model = { ...(num('img-size') !== undefined ? { imgSize: num('img-size')! } : {}) };
  const optim = {
    ...(num('batch') !== undefined ? { batch: num('batch')! } : {}),
    ...(num('lr') !== undefined ? { refLr: num('lr')! } : {}),
    ...(num('start-lr') !== undefined ? { startLr: num('start-lr')! } : {}),
    ...(num('final-lr') !== undefined ? { finalLr: num('final-lr')! } : {}),
    ...(num('wd') !== undefined ? { refWd: num('wd')! } : {}),
    ...(num('final-wd') !== undefined ? { finalWd: num('final-wd')! } : {}),
    ...(num('ema-start') !== undefined ? { emaStart: num('ema-start')! } : {}),
    ...(num('ema-final') !== undefined ? { emaFinal: num('ema-final')! } : {}),
  };
  const mask = { ...(v['mask-mode'] !== undefined ? { mode: v['mask-mode'] as 'official' | 'fixed' } : {}) };
  return derivePreset(base, { model, optim, mask });
}

export const trainCommand = {
  summary: SUMMARY,
  /** Resolves to the process exit code: 0, or 128 + the signal's number when a signal stopped the run. */
  async run(argv: string[]): Promise<number> {
    const { values: v, help } = parseOptions('train', TRAIN_OPTIONS, argv);
    if (help) { console.log(helpText('train', SUMMARY, TRAIN_OPTIONS)); return 0; }
    // resolve('') is the current folder: an empty --out (an unset shell variable) would spill a run there
    if (String(v.out).trim() === '') throw new OptionError("--out '': give a directory for the run");
    if (v.dtype !== 'f16') {
      for (const o of ['loss-scale', 'loss-scale-interval']) if (v[o] !== undefined) throw new OptionError(`--${o} applies to --dtype f16 only`);
    }
    const out = resolve(String(v.out));
    await mkdir(out, { recursive: true });
    await removeStaleTemps(out);

    // ---- 1. configuration: preset ← config file ← options; a resume takes the saved config -----
    let resumeFrom: string | null = null;
    let cfg: TrainConfig;
    if (v.resume) {
      const last = (await listCheckpoints(out)).at(-1);
      if (!last) throw new OptionError(`--resume: no checkpoint (ckpt-*.safetensors) in ${out}`);
      resumeFrom = last.path;
      cfg = (await readCheckpointMeta(last.path)).config as TrainConfig;
    } else {
      let base = getPreset(String(v.preset));
      if (v.config) base = applyConfigFile(base, JSON.parse(await readFile(String(v.config), 'utf8')), String(v.config));
      const preset = resolvePreset(v, base);
      // checked after the options, so their errors come first: a second run into the same folder
      // would append to its log, replace its config and mix its checkpoints with the old run's
      // (which --resume, export and eval would then pick)
      if (existsSync(join(out, 'config.json')) || (await listCheckpoints(out)).length > 0) {
        throw new OptionError(`--out ${out} already holds a run (config.json or checkpoints); continue it with --resume, or give another --out`);
      }
      cfg = {
        preset, data: v.data === undefined ? null : resolve(String(v.data)), steps: 0, ipe: 0, seed: Number(v.seed), target: v.target as 'features' | 'pixels',
        dtype: v.dtype as 'f32' | 'f16',
        ...(v['loss-scale'] !== undefined ? { lossScale: Number(v['loss-scale']) } : {}),
        ...(v['loss-scale-interval'] !== undefined ? { lossScaleInterval: Number(v['loss-scale-interval']) } : {}),
      };
    }
    const { preset } = cfg;
    const B = preset.optim.batch;

    // ---- 2. data ---------------------------------------------------------------------------------
    let source: SampleSource;
    if (cfg.data === null) {
      if (preset.model.imgSize !== 32) throw new OptionError(`--img-size ${preset.model.imgSize}: the default Fashion-MNIST data is 32×32 (28 padded); pass --img-size 32 or --data DIR`);
      source = fashionMnistSource(await loadFashionMnist('train'), { augment: true });
    } else {
      let skipped = 0;
      const folder = await scanImageFolder(cfg.data, { strict: v.strict === true, onSkip: (p, r) => { skipped++; console.warn(`warning: skipping unreadable image ${p}: ${r}`); } });
      if (folder.entries.length < B) throw new OptionError(`--data ${cfg.data}: ${folder.entries.length} readable images (${skipped} skipped), fewer than one batch of ${B}`);
      source = imageFolderSource(folder, { size: preset.model.imgSize, strict: v.strict === true });
    }
    const ipe = Math.floor(source.length / B);
    if (!resumeFrom) {
      cfg.ipe = ipe;
      cfg.steps = v.steps !== undefined ? Number(v.steps) : Math.max(1, Math.floor((v.epochs !== undefined ? Number(v.epochs) : preset.optim.epochs) * ipe));
      // the schedules run over exactly cfg.steps: express the length in epochs of this data
      const epochs = cfg.steps / ipe;
      const warmupFrac = v.warmup !== undefined ? Number(v.warmup) : preset.optim.warmupEpochs / preset.optim.epochs;
      cfg.preset = derivePreset(preset, { optim: { epochs, warmupEpochs: warmupFrac * epochs } });
    }
    const sched = scheduleFor(cfg.preset, cfg.ipe);
    scheduleSteps(sched);

    // ---- 3. model, masks, optimizer --------------------------------------------------------------
    const backend = await initWebGPU();
    const dtype = cfg.dtype ?? 'f32';
    if (dtype === 'f16' && !backend.hasF16) throw new OptionError(`--dtype f16: this adapter (${adapterName(backend)}) lacks the shader-f16 feature; use --dtype f32`);
    const model = new IJepa(cfg.preset.model, {
      seed: cfg.seed, target: cfg.target, dtype,
      ...(cfg.lossScale !== undefined ? { lossScale: cfg.lossScale } : {}),
      ...(cfg.lossScaleInterval !== undefined ? { lossScaleInterval: cfg.lossScaleInterval } : {}),
    });
    const nets = Object.fromEntries(model.modules());
    const collator = new MaskCollator({ inputSize: cfg.preset.model.imgSize, patchSize: cfg.preset.model.patchSize, ...cfg.preset.mask, seed: cfg.seed });
    let step = 0;
    let loaderStart = { epoch: 0, batch: 0 };
    if (resumeFrom) {
      const meta = await loadCheckpoint(resumeFrom, nets, model.optimizer);
      const st = meta.state as { collator: { nextSeed: number; rng: { mt: number[]; index: number; seed: number } }; loader: { epoch: number; batch: number }; scaler?: GradScalerState };
      step = meta.step;
      if (model.scaler) {
        if (!st.scaler) throw new Error(`${resumeFrom}: an f16 run's checkpoint must hold the loss scaler's state (state.scaler), and this one does not`);
        model.scaler.loadState(st.scaler, `${resumeFrom} state.scaler`);
      }
      collator.setState({ nextSeed: st.collator.nextSeed, rng: { ...st.collator.rng, mt: Uint32Array.from(st.collator.rng.mt) } } as MaskCollatorState);
      loaderStart = st.loader;
      console.error(`resuming from ${resumeFrom} at step ${step}`);
    } else {
      await writeFile(join(out, 'config.json'), JSON.stringify({ ...cfg, options: v }, null, 2));
    }
    const loader = new BatchLoader(source, { batchSize: B, seed: cfg.seed, prefetch: Number(v.prefetch), start: loaderStart });
    const logPath = join(out, 'log.jsonl');

    const checkpoint = async (at: number) => {
      const c = collator.getState();
      await saveCheckpoint(join(out, checkpointName(at)), nets, model.optimizer, {
        config: cfg, step: at,
        state: {
          collator: { nextSeed: c.nextSeed, rng: { ...c.rng, mt: Array.from(c.rng.mt) } }, loader: loader.position,
          ...(model.scaler ? { scaler: model.scaler.state() } : {}),
        },
      });
      await pruneCheckpoints(out, Number(v.keep));
    };

    // ---- 4. the loop -----------------------------------------------------------------------------
    let stopSignal: string | null = null;
    const onSignal = (s: string) => () => { stopSignal ??= s; };
    // SIGHUP (the terminal closed) is handled like SIGTERM: checkpoint, then exit
    const sigint = onSignal('SIGINT'), sigterm = onSignal('SIGTERM'), sighup = onSignal('SIGHUP');
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
    process.on('SIGHUP', sighup);
    const progress = new Progress(process.stderr, Number(v['log-every']));
    // MFU: model FLOPs (model/flops.ts) per second over the FMA peak kernel, measured once here
    const peakGflops = await measurePeakGflops(backend);
    const stepGflops = (k: MaskBatch) => stepFlops(cfg.preset.model, { batch: B, kc: k.Le, kt: k.Lp, nenc: k.encMasks.length, npred: k.predMasks.length, target: cfg.target }).total / 1e9;
    let gflopsDone = 0, skippedSteps = 0;
    const t0 = performance.now();
    const firstStep = step;
    let lastGood: number | null = resumeFrom ? step : null;
    const kept = () => (lastGood === null ? `No checkpoint was written yet in ${out}` : `The last good checkpoint (step ${lastGood}) is kept in ${out}`);
    try {
      // Steps are pipelined: step t+1 is recorded before step t's loss is read, so the GPU never
      // idles while the host records. Checkpoint, collapse-watch and final steps are sync
      // points: their loss is read before anything else is recorded, so a checkpoint holds
      // exactly the parameters after its step, and a NaN is caught before it can be saved.
      // f16 steps read their loss and overflow check before updating (stepAsync), so they are
      // not pipelined; `scaled` holds what the loss scaler did
      interface InFlight { step: number; read: Promise<number>; hyper: { lr: number; wd: number; momentum: number }; batch: Batch; masks: MaskBatch; t: number; scaled: AsyncStepResult | null }
      const watchEvery = Number(v['watch-every']), ckptEvery = Number(v['ckpt-every']);
      // time_ms is wall time since the previous step finished: pipelined steps overlap, so a
      // step's own start-to-finish would count the overlap twice (and its sum exceed the run)
      let lastDone: number | null = null;
      const finish = async (x: InFlight) => {
        const loss = await x.read;
        const now = performance.now();
        const since = lastDone ?? x.t;
        lastDone = now;
        if (!Number.isFinite(loss)) {
          throw new Error(`loss is ${loss} at step ${x.step}; stopping. ${kept()}`);
        }
        const mem = memory(backend);
        const rec: Record<string, number | boolean> = {
          step: x.step, epoch: x.batch.epoch, loss, lr: x.hyper.lr, wd: x.hyper.wd, momentum: x.hyper.momentum,
          time_ms: now - since, data_wait_ms: x.batch.waitMs, live_bytes: mem.liveBytes, live_tensors: mem.liveTensors,
          kc: x.masks.Le, kt: x.masks.Lp,
        };
        if (x.scaled) {
          rec.loss_scale = x.scaled.lossScale!;
          rec.skipped = x.scaled.skipped;
          if (x.scaled.skipped) skippedSteps++;
          rec.scale_grown = x.scaled.scaleGrown;
          if (x.scaled.skipped) progress.log(`step ${x.step}: f16 gradients overflowed at loss scale ${x.scaled.lossScale}; update skipped, loss scale now ${model.scaler!.scale}`);
        }
        let extra = '';
        if (watchEvery > 0 && (x.step % watchEvery === 0 || x.step === 1)) {
          const feats = pooledFeatures(model.target_encoder ?? model.encoder, x.batch.imgs, cfg.preset.model);
          const w = collapseStats(await feats.data(), feats.shape[0]!, feats.shape[1]!);
          feats.dispose();
          rec.feat_std = w.std;
          rec.rankme = w.rankMe;
          if (w.rankMe < 0.05 * w.maxRank || w.std < 1e-3) progress.log(`warning: step ${x.step}: target features look collapsed (std ${w.std.toExponential(2)}, RankMe ${w.rankMe.toFixed(2)} of ${w.maxRank})`);
          extra = `std ${w.std.toFixed(3)} rank ${w.rankMe.toFixed(1)}`;
        }
        loader.recycle(x.batch);
        await appendFile(logPath, JSON.stringify(rec) + '\n');
        const elapsed = (now - t0) / 1000, done = x.step - firstStep;
        gflopsDone += stepGflops(x.masks);
        progress.update({ step: x.step, total: cfg.steps, loss, lr: x.hyper.lr, imgsPerSec: (done * B) / elapsed, mfu: gflopsDone / elapsed / peakGflops, etaSec: ((cfg.steps - x.step) * elapsed) / done, extra });
      };
      let prev: InFlight | null = null;
      while (step < cfg.steps) {
        const batch = await loader.next();
        const masks = collator.next(B);
        step++;
        const hyper = scheduleAt(step, sched);
        const t = performance.now();
        let read: Promise<number>, scaled: AsyncStepResult | null = null;
        if (model.dtype === 'f16') {
          scaled = await model.stepAsync(batch.imgs, masks, hyper);
          read = Promise.resolve(scaled.loss);
        } else {
          const lossT = model.step(batch.imgs, masks, hyper).loss;
          read = lossT.item();   // the copy is recorded now; the tensor can go at once
          lossT.dispose();
        }
        if (prev) await finish(prev);
        const cur: InFlight = { step, read, hyper, batch, masks, t, scaled };
        const isCkpt = step % ckptEvery === 0 || step === cfg.steps || stopSignal !== null;
        const isWatch = watchEvery > 0 && (step % watchEvery === 0 || step === 1);
        if (!isCkpt && !isWatch) { prev = cur; continue; }
        prev = null;
        await finish(cur);
        if (isCkpt) {
          // the loss read above predates this step's update: the parameters are checked as they are saved
          try {
            await checkpoint(step);
          } catch (e) {
            if (e instanceof NonFiniteError) throw new Error(`the update of step ${step} made the parameters non-finite (${e.message}); stopping without saving. ${kept()}`);
            throw e;
          }
          lastGood = step;
        }
        if (stopSignal) { progress.log(`${stopSignal}: wrote ${checkpointName(step)} at step ${step}; resume with --resume --out ${out}`); break; }
      }
    } catch (e) {
      if (e instanceof DeviceError) {
        const next = lastGood === null ? 'No checkpoint was written yet; start the run again' : `The last checkpoint (step ${lastGood}) is in ${out}; continue with: npx ijepa train --resume --out ${out}`;
        throw new Error(`${e.message}\nThe GPU device failed at step ${step}. ${next}`);
      }
      throw e;
    } finally {
      progress.done();
      loader.close();
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
      process.off('SIGHUP', sighup);
    }
    model.dispose();
    const secs = (performance.now() - t0) / 1000;
    const rate = `${step - firstStep} steps in ${secs.toFixed(1)} s (${(((step - firstStep) * B) / secs).toFixed(1)} img/s, MFU ${(100 * gflopsDone / secs / peakGflops).toFixed(1)}% of the ${peakGflops.toFixed(0)} GFLOP/s FMA peak kernel${model.scaler ? `; ${skippedSteps} f16 step(s) skipped on overflow, loss scale now ${model.scaler.scale}` : ''}); log ${logPath}`;
    // a stopped run is not "done": the caller (a shell loop, a scheduler) must see the signal
    if (stopSignal) { console.error(`stopped by ${stopSignal}: ${rate}`); return SIGNAL_EXIT[stopSignal]!; }
    console.error(`done: ${rate}`);
    return 0;
  },
};

// 128 + the signal's number, as a shell reports a process killed by that signal
const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/**
 * Remove `*.tmp-PID.N` files left in `dir` by an atomic write whose process died (kill -9 mid
 * checkpoint): each is a whole checkpoint's worth of disk. A live PID's file is left alone, as it
 * may be another process writing right now.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /\.tmp-(\d+)\.\d+$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    await unlink(join(dir, name)).then(() => removed.push(name), () => undefined);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Average-pooled encoder output [B, D] (the paper's frozen-feature readout), without grad. */
export function pooledFeatures(encoder: VisionTransformer, imgs: Float32Array, m: ModelConfig): Tensor {
  const per = m.chans * m.imgSize * m.imgSize;
  return noGrad(() => tidy(() => encoder.forward(fromArray(imgs, [imgs.length / per, m.chans, m.imgSize, m.imgSize])).mean(1)));
}

function adapterName(b: WebGPUBackend): string {
  const i = b.device.adapterInfo;
  return [i?.vendor, i?.architecture, i?.description].filter(Boolean).join(' ') || 'unnamed';
}
