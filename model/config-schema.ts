// config-schema: the one description of what a run's configuration may hold, field by field, with
// the ranges the CLI enforces. Every way a configuration enters goes through it before anything is
// allocated: the command-line options take their ranges from here (model/cli/train.ts, import.ts),
// `--config` checks each official key against the field it sets (model/cli/config-file.ts), presets
// are checked by `validatePreset` (model/presets.ts, which every derived preset runs), and the
// config stored in a checkpoint is checked by `checkTrainConfig` when the checkpoint is read
// (model/checkpoint.ts), so a hand-edited `depth: 100000` is an error naming the field, not a crash
// in the allocator.
//
// The ranges are wide enough for every official model (ViT-H/16 at 448 px, batch 128 per GPU) and
// narrow enough that a value past them is a typo or an attack: a depth of 1e9 would try to build a
// billion blocks. Structural rules that relate fields (the patch grid tiles the image, widths split
// into heads) stay in validatePreset.
//
// Deliberately not here: the CLI-only knobs that never reach a model (checkpoint cadence, logging),
// which keep their ranges in the option table of their command.
import type { MaskConfig, ModelConfig, OptimConfig } from './presets.ts';

/** A numeric field: inclusive range; `integer` fields refuse fractions. */
export interface NumberField {
  kind: 'number';
  min: number;
  max: number;
  integer: boolean;
}
/** `[lo, hi]` with min ≤ lo ≤ hi ≤ max. */
export interface PairField {
  kind: 'pair';
  min: number;
  max: number;
}
/** One of `choices`. */
export interface ChoiceField {
  kind: 'choice';
  choices: readonly string[];
}
/** true or false. */
export interface BooleanField {
  kind: 'boolean';
}
/** What one configuration field may hold. */
export type Field = NumberField | PairField | ChoiceField | BooleanField;

const int = (min: number, max: number): NumberField => ({ kind: 'number', min, max, integer: true });
const real = (min: number, max: number): NumberField => ({ kind: 'number', min, max, integer: false });
const pair = (min: number, max: number): PairField => ({ kind: 'pair', min, max });

/** The most steps a run may have (and so the largest epoch count, on a one-batch data set). */
export const MAX_STEPS = 10_000_000;

/** Each ModelConfig field's range. */
export const MODEL_FIELDS: { readonly [K in keyof ModelConfig]: Field; } = {
  imgSize: int(8, 1024),
  chans: int(1, 4),
  patchSize: int(1, 512),
  dim: int(4, 65536),
  depth: int(1, 1024),
  heads: int(1, 1024),
  mlpRatio: real(0.125, 16),
  predDepth: int(1, 1024),
  predDim: int(4, 65536),
  patchEmbedStd: real(1e-6, 1),
};

/** Each MaskConfig field's range. */
export const MASK_FIELDS: { readonly [K in keyof MaskConfig]: Field; } = {
  encMaskScale: pair(1e-6, 1),
  predMaskScale: pair(1e-6, 1),
  aspectRatio: pair(1e-3, 1000),
  nenc: int(1, 64),
  npred: int(1, 64),
  minKeep: int(0, 1_000_000),
  allowOverlap: { kind: 'boolean' },
  mode: { kind: 'choice', choices: ['official', 'fixed'] },
};

/** Each OptimConfig field's range. */
export const OPTIM_FIELDS: { readonly [K in keyof OptimConfig]: Field; } = {
  batch: int(1, 4096),
  refLr: real(0, 1),
  startLr: real(0, 1),
  finalLr: real(0, 1),
  refWd: real(0, 10),
  finalWd: real(0, 10),
  emaStart: real(0, 1),
  emaFinal: real(0, 1),
  // a run's length in epochs is steps / ipe, so it reaches MAX_STEPS on a one-batch data set
  warmupEpochs: real(0, MAX_STEPS),
  epochs: real(1e-6, MAX_STEPS),
  ipeScale: real(1e-3, 10),
};

/** The run-level fields of a TrainConfig (model/cli/train.ts) besides the preset. */
export const RUN_FIELDS = {
  // 0 in a checkpoint `ijepa import` wrote: a train state that no run has stepped yet
  steps: int(0, MAX_STEPS),
  ipe: int(1, 2 ** 31 - 1),
  seed: int(0, 2 ** 31 - 1),
  images: int(1, 2 ** 31 - 1),
  target: { kind: 'choice', choices: ['features', 'pixels'] },
} as const satisfies Record<string, Field>;

/** A numeric field as an option-table entry's type and range (model/cli/options.ts). */
export function optionRange(f: Field): { type: 'integer' | 'number'; min: number; max: number; } {
  if (f.kind !== 'number') throw new Error(`optionRange: a ${f.kind} field is not a numeric option`);
  return { type: f.integer ? 'integer' : 'number', min: f.min, max: f.max };
}

/** Why `value` does not fit `f` (a phrase after the field's name and value), or null when it does. */
export function fieldProblem(f: Field, value: unknown): string | null {
  switch (f.kind) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return `must be a number in ${f.min}..${f.max}`;
      if (f.integer && !Number.isInteger(value)) return `must be an integer in ${f.min}..${f.max}`;
      return value < f.min || value > f.max ? `is out of range: allowed ${f.min}..${f.max}` : null;
    case 'pair':
      if (!Array.isArray(value) || value.length !== 2 || value.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
        return 'must be [number, number]';
      }
      if (value[0] > value[1]) return 'must have min ≤ max';
      return value[0] < f.min || value[1] > f.max ? `is out of range: both ends in ${f.min}..${f.max}` : null;
    case 'choice':
      return typeof value === 'string' && f.choices.includes(value) ? null : `must be one of ${f.choices.join(', ')}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
  }
}

const SHOW_MAX = 80;

/**
 * A value as an error message shows it: JSON, except numbers JSON cannot spell (NaN, Infinity)
 * and an absent value ("(missing)"); clipped to SHOW_MAX characters with its length said, so a
 * 50 MB string in a config file makes a one-line error naming the key, not a 50 MB one.
 */
export const show = (value: unknown): string => {
  if (value === undefined) return '(missing)';
  const s = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
  return s.length <= SHOW_MAX ? s : `${s.slice(0, SHOW_MAX - 24)}… (${s.length} characters)`;
};

/** Throw `new Err(where: name value problem)` unless `value` fits `f`. */
export function checkField(f: Field, value: unknown, name: string, where: string, Err: new(m: string) => Error = RangeError): void {
  if (value === undefined) throw new Err(`${where}: ${name} is missing`);
  const problem = fieldProblem(f, value);
  if (problem) throw new Err(`${where}: ${name} ${show(value)} ${problem}`);
}

/** Check every field of `fields` in the object `value` (all required), naming `prefix.field`. */
export function checkFields(fields: Readonly<Record<string, Field>>, value: unknown, prefix: string, where: string,
  Err: new(m: string) => Error = RangeError): void
{
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Err(`${where}: ${prefix} must be an object, got ${show(value)}`);
  for (const [k, f] of Object.entries(fields)) checkField(f, (value as Record<string, unknown>)[k], `${prefix}.${k}`, where, Err);
}
