// `ijepa train`: pretrain I-JEPA on Fashion-MNIST (the default, from Debian's package) or on a
// folder of images, with a progress line, a JSONL log, collapse watch and crash-safe
// checkpoints. Reads top to bottom like nanoGPT's train.py: options, data, model, loop.
//
// Guarantees: options are validated before any work; a checkpoint is written atomically every
// --ckpt-every steps, at the end, and on SIGINT/SIGTERM (after the current step); --resume
// continues from the newest checkpoint with the same losses as an uninterrupted run, refusing a
// flag that differs from the run's (config.json and every checkpoint record them all) except the
// length and the pacing ones, and cutting the log back to the checkpoint; a NaN/Inf loss stops
// the run naming the step and never overwrites the last good checkpoint.
import { readdir, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initWebGPU } from '../../engine/device/node.ts';
import { DeviceError, fromArray, measurePeakGflops, memory, noGrad, tidy, type GradScalerState, type Tensor,
  type WebGPUBackend } from '../../engine/index.ts';
import { collapseStats, stepFlops, IJepa, MaskCollator, derivePreset, getPreset, PRESET_NAMES, scheduleAt, scheduleSteps, MODEL_FIELDS, OPTIM_FIELDS,
  RUN_FIELDS, optionRange, type AsyncStepResult, type MaskBatch, type ModelConfig, type Preset, type VisionTransformer } from '../index.ts';
import { checkpointName, listCheckpoints, loadCheckpoint, NonFiniteError, pruneCheckpoints, readCheckpointMeta, saveCheckpoint, writeFileAtomic,
  makeDirs, lockRunFolder, processAlive, RunLockedError, appendRecord, cutLog, type CheckpointConfig } from '../node.ts';
import { BatchLoader, fashionMnistSource, imageFolderSource, loadFashionMnist, scanImageFolder, type Batch,
  type SampleSource } from '../data/index.ts';
import { fashionMnistSplits, folderSplits, QUICK_PROBE_BANK, QUICK_PROBE_TEST, QuickProbe } from '../eval/index.ts';
import { command, OptionError, parseOptions, pick, type OptionTable, type OptionValues } from './options.ts';
import { Progress } from './progress.ts';
import { applyConfigFile, readConfigFile } from './config-file.ts';
import { guardStepMemory } from './memory-guard.ts';
import { readDataFolder } from './data-option.ts';

export const TRAIN_OPTIONS = {
  preset: { type: 'string', help: 'model/recipe preset', default: 'small-recipe', choices: PRESET_NAMES },
  data: { type: 'string', help: 'folder of JPEG/PNG/WebP images (class sub-folders or flat)', defaultText: 'Fashion-MNIST train split' },
  'img-size': { ...optionRange(MODEL_FIELDS.imgSize), help: 'input side in pixels (a multiple of the patch)', defaultText: 'from the preset' },
  batch: { ...optionRange(OPTIM_FIELDS.batch), help: 'images per step', defaultText: 'from the preset' },
  steps: { ...optionRange(RUN_FIELDS.steps), min: 1, help: 'training steps (overrides --epochs; on --resume, extends or shortens the run)',
    defaultText: "the preset's epochs" },
  epochs: { ...optionRange(OPTIM_FIELDS.epochs), help: 'epochs over the data (fractional allowed)', defaultText: 'from the preset' },
  lr: { ...optionRange(OPTIM_FIELDS.refLr), help: 'peak learning rate', defaultText: 'from the preset' },
  'start-lr': { ...optionRange(OPTIM_FIELDS.startLr), help: 'learning rate at the start of warmup', defaultText: 'from the preset' },
  'final-lr': { ...optionRange(OPTIM_FIELDS.finalLr), help: 'learning rate at the end of the cosine', defaultText: 'from the preset' },
  warmup: { type: 'number', help: 'warmup length as a fraction of training', min: 0, max: 1, defaultText: 'from the preset' },
  wd: { ...optionRange(OPTIM_FIELDS.refWd), help: 'weight decay at the start (rises by cosine)', defaultText: 'from the preset' },
  'final-wd': { ...optionRange(OPTIM_FIELDS.finalWd), help: 'weight decay at the end', defaultText: 'from the preset' },
  'ema-start': { ...optionRange(OPTIM_FIELDS.emaStart), help: 'EMA momentum at the start', defaultText: 'from the preset' },
  'ema-final': { ...optionRange(OPTIM_FIELDS.emaFinal), help: 'EMA momentum at the end', defaultText: 'from the preset' },
  'mask-mode': { type: 'string', help: 'official masks (quirks included) or fixed (off-by-one repaired)', choices: ['official', 'fixed'],
    defaultText: 'from the preset' },
  target: { type: 'string', help: 'predict target-encoder features or normalised patch pixels', default: 'features',
    choices: ['features', 'pixels'] },
  config: { type: 'string', help: 'JSON file with official I-JEPA yaml keys (data/mask/meta/optimization)' },
  out: { type: 'string', help: 'output directory (log, config, checkpoints)', default: 'runs/ijepa' },
  resume: { type: 'boolean', help: 'continue from the newest checkpoint in --out' },
  seed: { ...optionRange(RUN_FIELDS.seed), help: 'seed for init, masks and data order', default: 0 },
  dtype: { type: 'string', help: 'f32, or f16 mixed precision (f32 master weights, f16 copies and activations, dynamic loss scaling)', default: 'f32',
    choices: ['f32', 'f16'] },
  'loss-scale': { type: 'number', help: 'f16: loss scale at the start (halves on overflow)', min: 2 ** -24, max: 2 ** 100, defaultText: '65536' },
  'loss-scale-interval': { type: 'integer', help: 'f16: clean steps before the loss scale doubles', min: 1, max: 10_000_000, defaultText: '2000' },
  'ckpt-every': { type: 'integer', help: 'steps between checkpoints', default: 250, min: 1, max: 10_000_000 },
  keep: { type: 'integer', help: 'checkpoints to keep', default: 3, min: 1, max: 1000 },
  'watch-every': { type: 'integer', help: 'steps between collapse-watch measurements (0 = off)', default: 50, min: 0, max: 10_000_000 },
  'probe-every': { type: 'integer', help: 'steps between quick kNN probes of the context encoder (3000-image bank, 1000 test images; 0 = off)',
    default: 0, min: 0, max: 10_000_000 },
  'log-every': { type: 'integer', help: 'steps between progress lines when not on a terminal', default: 10, min: 1, max: 1_000_000 },
  strict: { type: 'boolean', help: 'stop on an unreadable image instead of skipping it' },
  prefetch: { type: 'integer', help: 'batches prepared ahead of the GPU', default: 2, min: 0, max: 64 },
  'max-memory': { type: 'number', help: 'GiB a step may hold (device + host); refuse a run estimated above it', min: 0.01, max: 1e6,
    defaultText: 'the host memory available now (CPU adapters share it)' },
} satisfies OptionTable;

const SUMMARY = 'Pretrain I-JEPA (context encoder + predictor, EMA target encoder) on images.';

/** The checkpoint's config; `steps` is where the run stops (a resume may move it), while the schedules' length is preset.optim.epochs · ipe. */
export interface TrainConfig extends CheckpointConfig {
  /** Images in the data when the run started (a resume checks the data still holds them). */
  images?: number;
  /** Every flag's value as the run was started (and continued), by option name: see runFlags. */
  flags?: RunFlags;
}

export type RunFlags = Record<string, string | number | boolean | null>;
/** `ijepa train`'s parsed options, typed from TRAIN_OPTIONS. */
export type TrainValues = OptionValues<typeof TRAIN_OPTIONS>;
type TrainOption = keyof typeof TRAIN_OPTIONS;

// What a resume may change: the length (--steps, --epochs) and what only paces or paths the work.
// Every other flag given with --resume must equal the run's: an error names it and both values.
const RESUME_MAY_CHANGE = new Set(['resume', 'out', 'steps', 'epochs', 'ckpt-every', 'keep', 'watch-every', 'log-every', 'prefetch', 'strict',
  'max-memory', 'probe-every']);
// Of those, the ones a resume takes back from the saved run unless given.
const COME_BACK = ['ckpt-every', 'keep', 'watch-every', 'log-every', 'prefetch', 'strict', 'probe-every'] as const;
// The flags a checkpoint from before flags were saved still records, in its config and preset.
const IN_CONFIG = new Set(['preset', 'data', 'img-size', 'batch', 'lr', 'start-lr', 'final-lr', 'warmup', 'wd', 'final-wd', 'ema-start', 'ema-final',
  'mask-mode', 'target', 'seed']);

/**
 * The complete record of a run's flags: each option's effective value (the preset's where the
 * command line gave none). Saved in config.json and in every checkpoint's config.
 */
export function runFlags(cfg: TrainConfig, v: Partial<TrainValues>): RunFlags {
  const { model, optim, mask } = cfg.preset;
  return {
    preset: cfg.preset.name,
    config: v.config === undefined ? null : resolve(String(v.config)),
    data: cfg.data,
    'img-size': model.imgSize,
    batch: optim.batch,
    steps: cfg.steps,
    epochs: cfg.steps / cfg.ipe,
    lr: optim.refLr,
    'start-lr': optim.startLr,
    'final-lr': optim.finalLr,
    warmup: optim.warmupEpochs / optim.epochs,
    wd: optim.refWd,
    'final-wd': optim.finalWd,
    'ema-start': optim.emaStart,
    'ema-final': optim.emaFinal,
    'mask-mode': mask.mode,
    target: cfg.target,
    seed: cfg.seed,
    dtype: String(v.dtype),
    'loss-scale': v['loss-scale'] === undefined ? null : Number(v['loss-scale']),
    'loss-scale-interval': v['loss-scale-interval'] === undefined ? null : Number(v['loss-scale-interval']),
    'ckpt-every': Number(v['ckpt-every']),
    keep: Number(v.keep),
    'watch-every': Number(v['watch-every']),
    'log-every': Number(v['log-every']),
    strict: v.strict === true,
    prefetch: Number(v.prefetch),
    'max-memory': v['max-memory'] === undefined ? null : Number(v['max-memory']),
    'probe-every': Number(v['probe-every']),
  };
}

/** Refuse flags given with --resume that differ from the run's; returns the options the resume runs with. */
function resumeOptions(cfg: TrainConfig, v: TrainValues, given: ReadonlySet<string>, ckpt: string): TrainValues {
  // a checkpoint from before flags were saved: what the config holds is still checked
  const saved: RunFlags = cfg.flags ?? runFlags(cfg, { dtype: 'f32' });
  const hasFlags = cfg.flags !== undefined;
  const same = (a: unknown,
    b: unknown) => (typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) : a === b);
  for (const k of given) {
    if (RESUME_MAY_CHANGE.has(k) || (!hasFlags && !IN_CONFIG.has(k))) continue;
    const value = (v as Record<string, unknown>)[k]; // k is an option of this table: parseOptions set it
    const now = k === 'data' || k === 'config' ? resolve(String(value)) : value;
    if (!same(now, saved[k])) {
      throw new OptionError(
        `--resume --${k} ${String(now)} conflicts with the run in ${dirname(ckpt)}, started with --${k} ${
          saved[k] === null ? '(none)' : String(saved[k])
        }; ` +
          `a resume continues the run as it was started (only --steps, --epochs, --ckpt-every, --keep, --watch-every, --log-every, --prefetch, --strict, --max-memory and --probe-every may change): drop --${k}, or start a new run with another --out`,
      );
    }
  }
  const out: TrainValues = { ...v };
  if (hasFlags) {
    const argv: string[] = [];
    for (const k of COME_BACK) {
      if (given.has(k)) continue;
      const x = saved[k];
      if (typeof x === 'boolean') { if (x) argv.push(`--${k}`); }
      else argv.push(`--${k}`, String(x));
    }
    // the saved values pass the same range checks as typed ones (a hand-edited checkpoint)
    let back: OptionValues<Pick<typeof TRAIN_OPTIONS, (typeof COME_BACK)[number]>>;
    try {
      back = parseOptions('train', pick(TRAIN_OPTIONS, COME_BACK), argv).values;
    } catch (e) {
      throw new Error(`load ${ckpt}: a saved flag is invalid: ${(e as Error).message}`);
    }
    for (const k of COME_BACK) if (!given.has(k)) (out as Record<string, unknown>)[k] = back[k];
  }
  return out;
}

/** Apply command-line overrides on top of the preset (and config file). */
export function resolvePreset(v: Partial<TrainValues>, base: Preset): Preset {
  const num = (k: TrainOption) => (v[k] === undefined ? undefined : Number(v[k]));
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
  try {
    return derivePreset(base, { model, optim, mask });
  } catch (e) {
    // each flag passed its own range; together with the preset they break a rule that relates fields
    // (the image side a multiple of the patch, warmup within the run): a usage error naming the flags
    const flags = (['img-size', 'batch', 'lr', 'start-lr', 'final-lr', 'wd', 'final-wd', 'ema-start', 'ema-final', 'mask-mode'] as const)
      .filter((k) => v[k] !== undefined).map((k) => `--${k} ${v[k]}`);
    if (!(e instanceof RangeError) || flags.length === 0) throw e;
    throw new OptionError(`${flags.join(' ')}: ${e.message}`);
  }
}

/** Resolves to the process exit code: 0, or 128 + the signal's number when a signal stopped the run. */
export const trainCommand = command({ name: 'train', summary: SUMMARY, options: TRAIN_OPTIONS }, async ({ values: opts, given }): Promise<number> => {
  let v = opts;
  // resolve('') is the current folder: an empty --out (an unset shell variable) would spill a run there
  if (v.dtype !== 'f16') {
    for (const o of ['loss-scale', 'loss-scale-interval']) {
      if (given.has(o) && !v.resume) throw new OptionError(`--${o} applies to --dtype f16 only`);
    }
  }
  const out = resolve(v.out);
  await makeDirs(out).catch((e: Error) => {
    throw new OptionError(`--out: ${e.message}`);
  });
  let unlock: () => void;
  try {
    unlock = lockRunFolder(out);
  } catch (e) {
    throw e instanceof RunLockedError ? new OptionError(`--out ${e.message}`) : e;
  }
  await removeStaleTemps(out);

  // ---- 1. configuration: preset ← config file ← options; a resume takes the saved config -----
  let resumeFrom: string | null = null;
  let cfg: TrainConfig;
  if (v.resume) {
    const last = (await listCheckpoints(out)).at(-1);
    if (!last) throw new OptionError(`--resume: no checkpoint (ckpt-*.safetensors) in ${out}`);
    resumeFrom = last.path;
    cfg = (await readCheckpointMeta(last.path)).config;
    v = resumeOptions(cfg, v, given, last.path);
    if (given.has('steps') || given.has('epochs')) {
      cfg.steps = given.has('steps') ? Number(v.steps) : Math.max(1, Math.floor(Number(v.epochs) * cfg.ipe));
      if (cfg.steps < last.step) {
        throw new OptionError(`--resume --steps ${cfg.steps}: the newest checkpoint, ${last.path}, is at step ${last.step} already`);
      }
    }
    // the record goes on with what this resume runs with
    cfg.flags = { ...(cfg.flags ?? runFlags(cfg, v)), steps: cfg.steps, epochs: cfg.steps / cfg.ipe };
    for (const k of COME_BACK) cfg.flags[k] = k === 'strict' ? v[k] === true : v[k];
  } else {
    let base = getPreset(v.preset);
    if (v.config) base = applyConfigFile(base, await readConfigFile(v.config), v.config);
    const preset = resolvePreset(v, base);
    // checked after the options, so their errors come first: a second run into the same folder
    // would append to its log, replace its config and mix its checkpoints with the old run's
    // (which --resume, export and eval would then pick)
    if (existsSync(join(out, 'config.json')) || (await listCheckpoints(out)).length > 0) {
      throw new OptionError(`--out ${out} already holds a run (config.json or checkpoints); continue it with --resume, or give another --out`);
    }
    cfg = { preset, data: v.data === undefined ? null : resolve(v.data), steps: 0, ipe: 0, seed: v.seed, target: v.target as 'features' | 'pixels' };
  }
  const { preset } = cfg;
  const B = preset.optim.batch;

  // ---- 2. data ---------------------------------------------------------------------------------
  let source: SampleSource;
  if (cfg.data === null) {
    if (preset.model.imgSize !== 32) {
      throw new OptionError(
        `--img-size ${preset.model.imgSize}: the default Fashion-MNIST data is 32×32 (28 padded); pass --img-size 32 or --data DIR`,
      );
    }
    source = fashionMnistSource(await loadFashionMnist('train'), { augment: true });
  } else {
    let skipped = 0;
    const onSkip = (p: string, r: string) => {
      skipped++;
      console.warn(`warning: skipping unreadable image ${p}: ${r}`);
    };
    const root = cfg.data;
    const folder = await readDataFolder(root, () => scanImageFolder(root, { strict: v.strict === true, onSkip }),
      resumeFrom ? `the run's, from ${resumeFrom}` : '');
    if (folder.entries.length < B) {
      throw new OptionError(`--data ${cfg.data}: ${folder.entries.length} readable images (${skipped} skipped), fewer than one batch of ${B}`);
    }
    source = imageFolderSource(folder, { size: preset.model.imgSize, strict: v.strict === true, onSkip });
  }
  const ipe = Math.floor(source.length / B);
  if (resumeFrom) {
    // the loader's saved position and the data order assume the same images
    const was = cfg.images ?? null;
    if (was !== null ? source.length !== was : ipe !== cfg.ipe) {
      throw new OptionError(
        `--data ${cfg.data ?? 'Fashion-MNIST'}: the run started on ${
          was ?? `${cfg.ipe * B}–${cfg.ipe * B + B - 1}`
        } images (${cfg.ipe} batches of ${B} an epoch); the data now holds ${source.length} readable (${ipe} batches). A resume needs the same images: restore them, or start a new run with another --out`,
      );
    }
  } else {
    cfg.ipe = ipe;
    cfg.images = source.length;
    cfg.steps = v.steps !== undefined
      ? v.steps
      : Math.max(1, Math.floor((v.epochs !== undefined ? v.epochs : preset.optim.epochs) * ipe));
    // the schedules run over exactly cfg.steps: express the length in epochs of this data
    const epochs = cfg.steps / ipe;
    const warmupFrac = v.warmup !== undefined ? v.warmup : preset.optim.warmupEpochs / preset.optim.epochs;
    cfg.preset = derivePreset(preset, { optim: { epochs, warmupEpochs: warmupFrac * epochs } });
    cfg.flags = runFlags(cfg, v);
  }
  guardStepMemory(cfg.preset, cfg.target, { limitGiB: v['max-memory'] === undefined ? undefined : v['max-memory'], prefetch: v.prefetch });
  // The schedules are fixed when the run starts (their length is the starting --steps); steps
  // past that length (a resume with a larger --steps) run at the schedules' final values.
  const sched = { ...cfg.preset.optim, ipe: cfg.ipe };
  scheduleSteps(sched);
  // the starting --steps (epochs is steps / ipe, so the product is that integer up to rounding)
  const scheduleEnd = Math.round(cfg.preset.optim.epochs * cfg.ipe);
  const hyperAt = (k: number) => (k <= scheduleEnd ? scheduleAt(k, sched) : { lr: sched.finalLr, wd: sched.finalWd, momentum: sched.emaFinal });

  // ---- 3. model, masks, optimizer --------------------------------------------------------------
  const backend = await initWebGPU();
  // the run's precision and loss scaling, as it was started (a resume keeps them)
  const flag = (k: string) => cfg.flags?.[k] ?? null;
  const dtype = flag('dtype') === 'f16' ? 'f16' : 'f32';
  if (dtype === 'f16' && !backend.hasF16) {
    throw new OptionError(`--dtype f16: this adapter (${adapterName(backend)}) lacks the shader-f16 feature; use --dtype f32`);
  }
  const lossScale = flag('loss-scale'), lossScaleInterval = flag('loss-scale-interval');
  const model = new IJepa(cfg.preset.model, {
    seed: cfg.seed,
    target: cfg.target,
    dtype,
    ...(typeof lossScale === 'number' ? { lossScale } : {}),
    ...(typeof lossScaleInterval === 'number' ? { lossScaleInterval } : {}),
  });
  const nets = Object.fromEntries(model.modules());
  const collator = new MaskCollator({ inputSize: cfg.preset.model.imgSize, patchSize: cfg.preset.model.patchSize, ...cfg.preset.mask,
    seed: cfg.seed });
  let step = 0;
  let loaderStart = { epoch: 0, batch: 0 };
  const logPath = join(out, 'log.jsonl');
  if (resumeFrom) {
    const meta = await loadCheckpoint(resumeFrom, nets, model.optimizer);
    const st = resumeState(meta.state, resumeFrom);
    step = meta.step;
    if (model.scaler) {
      if (!st.scaler) {
        throw new Error(
          `load ${resumeFrom}: metadata 'state' has no scaler (the loss scaler of an f16 run); this checkpoint cannot be resumed in f16`,
        );
      }
      model.scaler.loadState(st.scaler, `load ${resumeFrom}: state.scaler`);
    }
    collator.setState({ nextSeed: st.collator.nextSeed, rng: { ...st.collator.rng, mt: Uint32Array.from(st.collator.rng.mt) } });
    loaderStart = st.loader;
    const cut = await cutLog(logPath, step);
    console.error(`resuming from ${resumeFrom} at step ${step}${cut ? ` (dropped ${cut} log record(s) past it from ${logPath})` : ''}`);
  }
  // the run's record (config, preset, every flag): written whole or not at all, as a torn one
  // would break `report`; a resume rewrites it with the flags it changed
  await writeConfigJson(join(out, 'config.json'), cfg);
  const probeEvery = v['probe-every'];
  const probe = probeEvery > 0 ? await prepareProbe(cfg) : null;
  const loader = new BatchLoader(source, { batchSize: B, seed: cfg.seed, prefetch: v.prefetch, start: loaderStart });

  const checkpoint = async (at: number) => {
    const c = collator.getState();
    await saveCheckpoint(join(out, checkpointName(at)), nets, model.optimizer, {
      config: cfg,
      step: at,
      state: {
        collator: { nextSeed: c.nextSeed, rng: { ...c.rng, mt: Array.from(c.rng.mt) } },
        loader: loader.position,
        ...(model.scaler ? { scaler: model.scaler.state() } : {}),
      },
    });
    await pruneCheckpoints(out, v.keep);
  };

  // ---- 4. the loop -----------------------------------------------------------------------------
  let stopSignal: string | null = null;
  const onSignal = (s: string) => () => {
    stopSignal ??= s;
  };
  // SIGHUP (the terminal closed) is handled like SIGTERM: checkpoint, then exit
  const sigint = onSignal('SIGINT'), sigterm = onSignal('SIGTERM'), sighup = onSignal('SIGHUP');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  process.on('SIGHUP', sighup);
  const progress = new Progress(process.stderr, v['log-every']);
  // MFU: model FLOPs (model/flops.ts) per second over the FMA peak kernel, measured once here
  const peakGflops = await measurePeakGflops(backend);
  const stepGflops = (k: MaskBatch) =>
    stepFlops(cfg.preset.model, { batch: B, kc: k.Le, kt: k.Lp, nenc: k.encMasks.length, npred: k.predMasks.length, target: cfg.target }).total /
    1e9;
  let gflopsDone = 0, skippedSteps = 0;
  const t0 = performance.now();
  const firstStep = step;
  let lastGood: number | null = resumeFrom ? step : null;
  // with no checkpoint there is nothing to resume, and a new run into the folder refuses (config.json)
  const noCheckpoint = `No checkpoint was written, so there is nothing to resume: to start again, remove ${out} or give another --out`;
  const kept = () => (lastGood === null ? noCheckpoint : `The last good checkpoint (step ${lastGood}) is kept in ${out}`);
  try {
    // Steps are pipelined: step t+1 is recorded before step t's loss is read, so the GPU never
    // idles while the host records. Checkpoint, collapse-watch and final steps are sync
    // points: their loss is read before anything else is recorded, so a checkpoint holds
    // exactly the parameters after its step, and a NaN is caught before it can be saved.
    // f16 steps read their loss and overflow check before updating (stepAsync), so they are
    // not pipelined; `scaled` holds what the loss scaler did
    interface InFlight {
      step: number;
      read: Promise<number>;
      hyper: { lr: number; wd: number; momentum: number; };
      batch: Batch;
      masks: MaskBatch;
      t: number;
      scaled: AsyncStepResult | null;
    }
    const watchEvery = v['watch-every'], ckptEvery = v['ckpt-every'];
    const isProbeStep = (s: number) => probeEvery > 0 && (s % probeEvery === 0 || s === cfg.steps);
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
      // timestamp: when the step finished (ISO 8601, UTC); context_patches / target_patches: the
      // patches kept per context mask (Kc) and per target block (Kt) after the collator's cut
      const rec: Record<string, number | string | boolean> = {
        timestamp: new Date().toISOString(),
        step: x.step,
        epoch: x.batch.epoch,
        loss,
        lr: x.hyper.lr,
        wd: x.hyper.wd,
        momentum: x.hyper.momentum,
        time_ms: now - since,
        data_wait_ms: x.batch.waitMs,
        live_bytes: mem.liveBytes,
        live_tensors: mem.liveTensors,
        context_patches: x.masks.Le,
        target_patches: x.masks.Lp,
      };
      if (x.scaled) {
        rec.loss_scale = x.scaled.lossScale!;
        rec.skipped = x.scaled.skipped;
        rec.scale_grown = x.scaled.scaleGrown;
        if (x.scaled.skipped) {
          skippedSteps++;
          progress.log(
            `step ${x.step}: f16 gradients overflowed at loss scale ${x.scaled.lossScale}; update skipped, loss scale now ${model.scaler!.scale}`,
          );
        }
      }
      let extra = '';
      if (watchEvery > 0 && (x.step % watchEvery === 0 || x.step === 1)) {
        const feats = pooledFeatures(model.target_encoder ?? model.encoder, x.batch.imgs, cfg.preset.model);
        const w = collapseStats(await feats.data(), feats.shape[0]!, feats.shape[1]!);
        feats.dispose();
        rec.feat_std = w.std;
        rec.rankme = w.rankMe;
        if (w.rankMe < 0.05 * w.maxRank || w.std < 1e-3) {
          progress.log(
            `warning: step ${x.step}: target features look collapsed (std ${w.std.toExponential(2)}, RankMe ${w.rankMe.toFixed(2)} of ${w.maxRank})`,
          );
        }
        extra = `std ${w.std.toFixed(3)} rank ${w.rankMe.toFixed(1)}`;
      }
      if (probe && isProbeStep(x.step)) {
        const p = await probe.run(model.encoder);
        rec.probe_knn = p.knn;
        rec.probe_ms = p.ms;
        extra += `${extra ? ' ' : ''}kNN ${(100 * p.knn).toFixed(1)}`;
      }
      loader.recycle(x.batch);
      await appendRecord(logPath, rec);
      const elapsed = (now - t0) / 1000, done = x.step - firstStep;
      gflopsDone += stepGflops(x.masks);
      progress.update({ step: x.step, total: cfg.steps, loss, lr: x.hyper.lr, imgsPerSec: (done * B) / elapsed,
        mfu: gflopsDone / elapsed / peakGflops, etaSec: ((cfg.steps - x.step) * elapsed) / done, extra });
    };
    let prev: InFlight | null = null;
    while (step < cfg.steps) {
      const batch = await loader.next();
      const masks = collator.next(B);
      step++;
      const hyper = hyperAt(step);
      const t = performance.now();
      let read: Promise<number>, scaled: AsyncStepResult | null = null;
      if (model.dtype === 'f16') {
        scaled = await model.stepAsync(batch.imgs, masks, hyper);
        read = Promise.resolve(scaled.loss);
      } else {
        const lossT = model.step(batch.imgs, masks, hyper).loss;
        read = lossT.item(); // the copy is recorded now; the tensor can go at once
        lossT.dispose();
      }
      if (prev) await finish(prev);
      const cur: InFlight = { step, read, hyper, batch, masks, t, scaled };
      const isCkpt = step % ckptEvery === 0 || step === cfg.steps || stopSignal !== null;
      const isWatch = watchEvery > 0 && (step % watchEvery === 0 || step === 1);
      if (!isCkpt && !isWatch && !isProbeStep(step)) {
        prev = cur;
        continue;
      }
      prev = null;
      await finish(cur);
      if (isCkpt) {
        // the loss read above predates this step's update: the parameters are checked as they are saved
        try {
          await checkpoint(step);
        } catch (e) {
          if (e instanceof NonFiniteError) {
            throw new Error(`the update of step ${step} made the parameters non-finite (${e.message}); stopping without saving. ${kept()}`);
          }
          throw e;
        }
        lastGood = step;
      }
      if (stopSignal) {
        progress.log(`${stopSignal}: wrote ${checkpointName(step)} at step ${step}; resume with --resume --out ${out}`);
        break;
      }
    }
  } catch (e) {
    if (e instanceof DeviceError) {
      const next = lastGood === null
        ? noCheckpoint
        : `The last checkpoint (step ${lastGood}) is in ${out}; continue with: npx ijepa train --resume --out ${out}`;
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
  const rate = `${step - firstStep} steps in ${secs.toFixed(1)} s (${(((step - firstStep) * B) / secs).toFixed(1)} img/s, MFU ${
    (100 * gflopsDone / secs / peakGflops).toFixed(1)
  }% of the ${peakGflops.toFixed(0)} GFLOP/s FMA peak kernel${
    model.scaler ? `; ${skippedSteps} f16 step(s) skipped on overflow, loss scale now ${model.scaler.scale}` : ''
  }); log ${logPath}`;
  // a stopped run is not "done": the caller (a shell loop, a scheduler) must see the signal
  unlock();
  if (stopSignal) {
    console.error(`stopped by ${stopSignal}: ${rate}`);
    return SIGNAL_EXIT[stopSignal]!;
  }
  console.error(`done: ${rate}`);
  return 0;
});

/** The quick probe's split: Fashion-MNIST's, or the labelled --data folder's (class sub-folders). */
async function prepareProbe(cfg: TrainConfig): Promise<QuickProbe> {
  const size = cfg.preset.model.imgSize;
  if (cfg.data === null) return QuickProbe.prepare(await fashionMnistSplits({ trainSize: QUICK_PROBE_BANK, testSize: QUICK_PROBE_TEST, seed: 0 }));
  try {
    return await QuickProbe.prepare(await folderSplits(cfg.data, { size, seed: 0 }));
  } catch (e) {
    throw new OptionError(`--probe-every: ${(e as Error).message}`);
  }
}

/** Write config.json atomically; an error names the file. */
async function writeConfigJson(path: string, cfg: TrainConfig): Promise<void> {
  try {
    await writeFileAtomic(path, JSON.stringify(cfg, null, 2) + '\n');
  } catch (e) {
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

interface ResumeState {
  collator: { nextSeed: number; rng: { mt: number[]; index: number; seed: number; }; };
  loader: { epoch: number; batch: number; };
  /** f16 runs: the loss scaler (checked by GradScaler.loadState). */
  scaler?: GradScalerState;
}

/** A checkpoint's resume state (mask collator and data loader positions), checked: errors name the file and the field. */
function resumeState(state: unknown, path: string): ResumeState {
  const st = state as Partial<ResumeState> | null;
  const whole = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const rng = st?.collator?.rng;
  const bad = !whole(st?.collator?.nextSeed) ?
    'collator.nextSeed'
    : !(Array.isArray(rng?.mt) && rng.mt.length === 624 && rng.mt.every((x) => whole(x) && x < 2 ** 32)) ?
    'collator.rng.mt (624 words)'
    : !whole(rng?.index) || !whole(rng?.seed) ?
    'collator.rng.index/seed'
    : !whole(st?.loader?.epoch) || !whole(st?.loader?.batch)
    ? 'loader.epoch/batch'
    : null;
  if (bad) {
    throw new Error(`load ${path}: metadata 'state' has no valid ${bad}; this checkpoint cannot be resumed (eval and export can still read it)`);
  }
  return st as ResumeState;
}

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
    if (!m || processAlive(Number(m[1]))) continue;
    await unlink(join(dir, name)).then(() => removed.push(name), () => undefined);
  }
  return removed;
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
