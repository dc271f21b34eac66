// encoder-source: the options `ijepa eval` and `ijepa embed` share to name a frozen encoder, and
// the loading behind them. Exactly one of:
//   --run DIR          the newest ckpt-*.safetensors of a training output directory
//   --checkpoint FILE  one train-state checkpoint (also what `ijepa import` writes)
//   --random-init      a fresh encoder of --preset, initialised from --seed
// A checkpoint holds the context encoder and (feature targets) the EMA target encoder; --encoder
// picks one. The default is the context encoder: docs/small-recipe.md found it better than the
// EMA target at this scale (the target lags in short runs); the paper reads the target encoder.
//
// The random-init control of a run is `randomEncoder(model, seed)` with the run's own seed: IJepa
// builds its encoder first from `new Generator(seed)`, so this is exactly the run's step-0 encoder.

import { resolve } from 'node:path';
import { Generator } from '../../engine/index.ts';
import { listCheckpoints, loadCheckpoint, readCheckpointMeta } from '../node.ts';
import { FEATURE_KINDS, type FeatureKind } from '../eval/index.ts';
import { getPreset, PRESET_NAMES, VisionTransformer, RUN_FIELDS, optionRange, type ModelConfig } from '../index.ts';
import { OptionError, type OptionTable, type OptionValues } from './options.ts';

export const ENCODER_KINDS = ['context', 'target'] as const;
export type EncoderKind = (typeof ENCODER_KINDS)[number];

const DEFAULT_PRESET = 'small-recipe';

export const ENCODER_SOURCE_OPTIONS = {
  run: { type: 'string', help: 'training output directory: use its newest checkpoint' },
  checkpoint: { type: 'string', help: 'a train-state checkpoint file (ckpt-*.safetensors, or one `ijepa import` wrote)' },
  'random-init': { type: 'boolean', help: 'a randomly initialised encoder of --preset instead of a trained one' },
  preset: { type: 'string', help: 'model preset for --random-init', choices: PRESET_NAMES, defaultText: DEFAULT_PRESET },
  encoder: {
    type: 'string',
    help: "which encoder of the checkpoint: context (docs/small-recipe.md: better at small scale) or the EMA target (the paper's)",
    default: 'context',
    choices: ENCODER_KINDS,
  },
  features: { type: 'string',
    help:
      "readout: pooled, the mean of the final-LayerNorm tokens (the paper's); prenorm, of the last block's tokens before that norm; grid, the pooled mean in each quadrant of the patch grid, concatenated (4·D)",
    default: 'pooled', choices: FEATURE_KINDS },
  seed: { ...optionRange(RUN_FIELDS.seed), help: 'seed of --random-init, and of data subsets, splits and low-shot draws', default: 0 },
  batch: { type: 'integer', help: 'images per forward pass', default: 256, min: 1, max: 65536 },
} satisfies OptionTable;

export interface EncoderSource {
  encoder: VisionTransformer;
  model: ModelConfig;
  /** The init seed (the run's, or --seed with --random-init). */
  initSeed: number;
  encoderKind: EncoderKind | 'random-init';
  features: FeatureKind;
  /** Training steps of the checkpoint (0 for random init). */
  step: number;
  checkpoint: string | null;
  /** The --run directory, if given. */
  runDir: string | null;
  /** One line for reports: what was loaded. */
  label: string;
}

/** A fresh encoder identical to IJepa's at init with the same seed. */
export function randomEncoder(model: ModelConfig, seed: number): VisionTransformer {
  return new VisionTransformer(model, new Generator(seed));
}

/** Throw an OptionError unless exactly one source is named (call before any work). */
export function checkSourceOptions(v: OptionValues): void {
  const given = (['run', 'checkpoint', 'random-init'] as const).filter((k) => v[k] !== undefined && v[k] !== false);
  if (given.length !== 1) {
    throw new OptionError(
      `give exactly one of --run DIR, --checkpoint FILE or --random-init${given.length ? ` (got ${given.map((k) => `--${k}`).join(' and ')})` : ''}`,
    );
  }
  if (v.preset !== undefined && !v['random-init']) {
    throw new OptionError('--preset applies to --random-init only; a checkpoint carries its own model config');
  }
}

/** Load the encoder the (checked) source options name. Needs the engine's backend. */
export async function loadEncoder(v: OptionValues): Promise<EncoderSource> {
  checkSourceOptions(v);
  const features = v.features as FeatureKind;
  const seed = Number(v.seed);
  if (v['random-init']) {
    const preset = getPreset(String(v.preset ?? DEFAULT_PRESET));
    return {
      encoder: randomEncoder(preset.model, seed),
      model: preset.model,
      initSeed: seed,
      encoderKind: 'random-init',
      features,
      step: 0,
      checkpoint: null,
      runDir: null,
      label: `random init of preset ${preset.name} (seed ${seed})`,
    };
  }
  let path: string, runDir: string | null = null;
  if (v.run !== undefined) {
    runDir = resolve(String(v.run));
    const last = (await listCheckpoints(runDir)).at(-1);
    if (!last) throw new OptionError(`--run ${runDir}: no checkpoint (ckpt-*.safetensors) in it`);
    path = last.path;
  } else {
    path = resolve(String(v.checkpoint));
  }
  const meta = await readCheckpointMeta(path); // its config checked: the model is built from it
  const cfg = meta.config;
  const model = cfg.preset.model;
  const kind = v.encoder as EncoderKind;
  if (kind === 'target' && cfg.target === 'pixels') {
    throw new OptionError(`--encoder target: ${path} is a pixel-target run, which has no target encoder; use --encoder context`);
  }
  const initSeed = cfg.seed;
  const encoder = randomEncoder(model, initSeed);
  try {
    await loadCheckpoint(path, kind === 'target' ? { target_encoder: encoder } : { encoder }, null);
  } catch (e) {
    encoder.dispose();
    throw e;
  }
  return {
    encoder,
    model,
    initSeed,
    encoderKind: kind,
    features,
    step: meta.step,
    checkpoint: path,
    runDir,
    label: `${kind} encoder of ${path} (step ${meta.step}, preset ${cfg.preset.name})`,
  };
}
