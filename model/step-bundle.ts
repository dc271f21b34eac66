// step-bundle: parity of one I-JEPA training step against a PyTorch "step bundle"
// (test/golden/make_step_bundle.py; its header documents the format, "ijepa-step-bundle/1").
//
// `checkStepBundle(path)` loads a bundle, builds the model from its config, loads the initial
// weights by official name, runs ONE step with the bundle's images, masks, lr, wd and momentum,
// and compares per group:
//   loss, act/context, act/target, act/prediction, grad/encoder, grad/predictor
//       error relative to each tensor's largest magnitude (|ours − ref|max / |ref|max), worst
//       tensor of the group. Gradients are tiny (a mean over every element), so only a relative
//       measure means anything.
//   after/encoder, after/predictor, after/target_encoder
//       absolute error divided by lr: AdamW's first step moves a weight by lr·g/(|g| + eps),
//       about ±lr wherever |g| ≫ eps, so err/lr is the error as a fraction of the update. (A
//       relative-to-gradient measure would blow up on the key third of every qkv bias, whose
//       exact gradient is 0 and whose f32 value is rounding noise: see the bundle header.)
//
// The reference runs in float64 on float32 inputs; we run in float32 on the WebGPU (or CPU)
// backend, so the errors measure our f32 rounding plus any semantic slip. A slip (a swapped row
// order, a missing bias) shows as O(1) relative error, a subtle one (LayerNorm eps 1e-6 for
// 1e-5, an EMA from the weights before AdamW) as 1e-6..1e-3; f32 rounding stays below 1e-6.
// Each group has its own tolerance, set from the error measured on every committed bundle and
// adapter times a stated factor (DEFAULT_TOLERANCE).
//
// Deliberately not here: writing bundles (the Python script does), schedules, bf16.

import { decodeSafetensors, fromArray, type DecodedTensor, type Module, type Tensor } from '../engine/index.ts';
import { IJepa } from './ijepa.ts';
import type { ModelConfig } from './presets.ts';
import { fmt } from './format-shape.ts';

export const STEP_BUNDLE_FORMAT = 'ijepa-step-bundle/1';

/** The bundle's `config` metadata (make_step_bundle.py). */
export interface BundleConfig {
  img: number;
  patch: number;
  chans: number;
  dim: number;
  depth: number;
  heads: number;
  pred_depth: number;
  pred_dim: number;
  batch: number;
  nenc: number;
  npred: number;
}

export interface StepBundle {
  name: string;
  config: BundleConfig;
  lr: number;
  weightDecay: number;
  momentum: number;
  tensors: Map<string, DecodedTensor>;
}

/**
 * The tolerance of each group: for loss, act (every act/* group) and grad (every grad/*), the
 * max error relative to a tensor's largest magnitude; for the after/* groups, the max absolute
 * error in units of lr.
 */
export interface ParityTolerance {
  loss: number;
  act: number;
  grad: number;
  'after/encoder': number;
  'after/predictor': number;
  'after/target_encoder': number;
}
export type ToleranceKey = keyof ParityTolerance;

/** Headroom over the largest error measured: f32 rounding wanders by a few ulps between adapters and bundles. */
export const TOLERANCE_FACTOR = 4;

/**
 * The largest error measured per group over the five committed bundles (lr 1e-3..1e-2, momentum
 * 0.5..0.996) on lavapipe, SwiftShader and Dawn's GLES backend (f32 against the f64 reference;
 * test/step-parity.test.ts prints them). after/* is at least one f32 ulp of an O(1) parameter
 * (1.19e-7 absolute, 1.19e-4·lr at lr 1e-3); after/predictor is larger because at step 1 AdamW's
 * lr·g/(|g| + eps) amplifies a gradient error δ by up to lr·δ/eps where |g| ≲ eps (median |g| is
 * ~1e-7, eps 1e-8). A bundle with lr < 1e-3 would raise the after/* floor in lr units.
 */
export const MEASURED_ERROR: ParityTolerance = {
  loss: 2.0e-7, // ema-0.9-s4 (the same on all three adapters)
  act: 3.6e-7, // micro-s0 act/context
  grad: 8.1e-7, // two-ctx-s2 predictor qkv.weight
  'after/encoder': 1.19e-4, // micro-s0 norm1.weight: one ulp of ~1 at lr 1e-3
  'after/predictor': 1.26e-3, // two-ctx-s2 mlp.fc2.weight on SwiftShader (1.03e-3 on lavapipe): AdamW's eps amplification
  'after/target_encoder': 1.19e-4, // one ulp of ~1 at lr 1e-3
};

/** MEASURED_ERROR × TOLERANCE_FACTOR, group by group. */
export const DEFAULT_TOLERANCE: ParityTolerance = Object.fromEntries(
  Object.entries(MEASURED_ERROR).map(([k, v]) => [k, v * TOLERANCE_FACTOR]),
) as unknown as ParityTolerance;

/** The tolerance key of a group: loss, act/* → act, grad/* → grad, after/* → itself. */
export function toleranceKey(group: string): ToleranceKey {
  if (group === 'loss') return 'loss';
  if (group.startsWith('act/')) return 'act';
  if (group.startsWith('grad/')) return 'grad';
  if (group === 'after/encoder' || group === 'after/predictor' || group === 'after/target_encoder') return group;
  throw new Error(`step-bundle: no tolerance for group ${group}`);
}

export interface GroupError {
  group: string;
  /** Tensors compared. */
  count: number;
  /** Largest |ours − ref| over the group. */
  maxAbs: number;
  /** Largest error relative to the tensor's own max |ref| (loss, act/*, grad/*). */
  maxRel: number;
  /** Largest |ours − ref| / lr (after/*). */
  maxAbsPerLr: number;
  /** The tensor with the worst measure, and that measure. */
  worst: string;
  /** The group's tolerance (in the unit of its measure). */
  tolerance: number;
  ok: boolean;
}

export interface ParityReport {
  bundle: string;
  config: BundleConfig;
  lr: number;
  tolerance: ParityTolerance;
  groups: GroupError[];
  /** Shape mismatches and missing tensors (each also fails its group). */
  problems: string[];
  ok: boolean;
}

/**
 * Decode and check a bundle file's bytes (no file system here, so that the browser suite runs
 * the same check on fetched bytes); errors name the file and the missing or malformed entry.
 */
export function parseStepBundle(bytes: Uint8Array, name: string): StepBundle {
  const { metadata, tensors } = decodeSafetensors(bytes, name);
  if (metadata.format !== STEP_BUNDLE_FORMAT) {
    throw new Error(`load ${name}: metadata format is ${JSON.stringify(metadata.format)}, expected "${STEP_BUNDLE_FORMAT}"`);
  }
  const num = (key: string) => {
    const v = Number(metadata[key]);
    if (metadata[key] === undefined || !Number.isFinite(v)) {
      throw new Error(`load ${name}: metadata ${key} is ${JSON.stringify(metadata[key])}, expected a number`);
    }
    return v;
  };
  let config: BundleConfig;
  try {
    config = JSON.parse(metadata.config ?? 'null') as BundleConfig;
  } catch (e) {
    throw new Error(`load ${name}: metadata config is not JSON: ${(e as Error).message}`);
  }
  for (const k of ['img', 'patch', 'chans', 'dim', 'depth', 'heads', 'pred_depth', 'pred_dim', 'batch', 'nenc', 'npred'] as const) {
    if (!config || !Number.isInteger(config[k])) {
      throw new Error(`load ${name}: metadata config.${k} is ${JSON.stringify(config?.[k])}, expected an integer`);
    }
  }
  return { name, config, lr: num('lr'), weightDecay: num('weight_decay'), momentum: num('momentum'), tensors };
}

/** The ModelConfig a bundle describes (mlp ratio 4 and the official init std, as the script). */
export function bundleModelConfig(c: BundleConfig): ModelConfig {
  return {
    imgSize: c.img,
    chans: c.chans,
    patchSize: c.patch,
    dim: c.dim,
    depth: c.depth,
    heads: c.heads,
    mlpRatio: 4,
    predDepth: c.pred_depth,
    predDim: c.pred_dim,
    patchEmbedStd: 0.02,
  };
}

function need(b: StepBundle, key: string): DecodedTensor {
  const t = b.tensors.get(key);
  if (!t) throw new Error(`load ${b.name}: tensor ${key} is missing`);
  return t;
}

/**
 * Copy `prefix<name>` of the bundle into every tensor of `m`, by official name. Throws naming the
 * file and the tensor when one is missing, has the wrong shape, or the bundle has one the model
 * lacks.
 */
export function loadModuleFrom(m: Module, tensors: Map<string, DecodedTensor>, prefix: string, source: string): void {
  const want = new Set<string>();
  for (const [name, t] of m.namedTensors()) {
    const key = prefix + name;
    want.add(key);
    const src = tensors.get(key);
    if (!src) throw new Error(`load ${source}: ${key} is missing (the model has ${name} ${fmt(t.shape)})`);
    if (src.shape.length !== t.shape.length || src.shape.some((v, i) => v !== t.shape[i])) {
      throw new Error(`load ${source}: ${key} is ${fmt(src.shape)}, the model wants ${fmt(t.shape)}`);
    }
    const v = fromArray(src.toFloat32(), t.shape, { backend: t.backend });
    t.assign(v);
    v.dispose();
  }
  for (const key of tensors.keys()) {
    if (key.startsWith(prefix) && !want.has(key)) throw new Error(`load ${source}: ${key} has no counterpart in the model`);
  }
}

/** Build the model of a bundle with its initial weights (target encoder = copy of the encoder). */
export function modelFromBundle(b: StepBundle): IJepa {
  const model = new IJepa(bundleModelConfig(b.config));
  try {
    loadModuleFrom(model.encoder, b.tensors, 'init/encoder/', b.name);
    loadModuleFrom(model.predictor, b.tensors, 'init/predictor/', b.name);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.syncTargetEncoder();
  return model;
}

interface Measure {
  name: string;
  maxAbs: number;
  scale: number;
  problem?: string;
}

function compare(name: string, ours: Float32Array | Float64Array | Int32Array, oursShape: readonly number[], ref: DecodedTensor): Measure {
  if (oursShape.length !== ref.shape.length || oursShape.some((v, i) => v !== ref.shape[i])) {
    return { name, maxAbs: Infinity, scale: 0, problem: `${name}: ours ${fmt(oursShape)}, reference ${fmt(ref.shape)}` };
  }
  const r = ref.toFloat32();
  let maxAbs = 0, scale = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(ours[i]! - r[i]!);
    if (Number.isNaN(d)) maxAbs = Infinity;
    else if (d > maxAbs) maxAbs = d;
    scale = Math.max(scale, Math.abs(r[i]!));
  }
  return { name, maxAbs, scale };
}

/**
 * Run one step of bundle `b` (parseStepBundle) and compare it (see the file header). Uses the
 * current engine backend; frees everything it allocates.
 */
export async function checkStepBundle(b: StepBundle, opts: { tol?: Partial<ParityTolerance>; } = {}): Promise<ParityReport> {
  const tol: ParityTolerance = { ...DEFAULT_TOLERANCE, ...opts.tol };
  const c = b.config;
  const model = modelFromBundle(b);
  const tensorsToFree: Tensor[] = [];
  try {
    const imgs = need(b, 'input/imgs');
    const S = c.img;
    if (imgs.shape.join() !== [c.batch, c.chans, S, S].join()) {
      throw new Error(`load ${b.name}: input/imgs is ${fmt(imgs.shape)}, the config wants ${fmt([c.batch, c.chans, S, S])}`);
    }
    const masks = (kind: 'enc' | 'pred', n: number) =>
      Array.from({ length: n }, (_, i) => {
        const m = need(b, `masks/${kind}/${i}`);
        const t = fromArray(m.toInt32(), m.shape);
        tensorsToFree.push(t);
        return t;
      });
    const enc = masks('enc', c.nenc), pred = masks('pred', c.npred);
    const x = fromArray(imgs.toFloat32(), imgs.shape);
    tensorsToFree.push(x);

    const r = model.step(x, { enc, pred }, { lr: b.lr, wd: b.weightDecay, momentum: b.momentum }, { capture: true });
    tensorsToFree.push(r.loss, r.context!, r.target!, r.prediction!, ...r.grads!.values());

    const groups = new Map<string, Measure[]>();
    const add = (group: string, m: Measure) => {
      const list = groups.get(group) ?? [];
      list.push(m);
      groups.set(group, list);
    };
    const problems: string[] = [];
    const read = async (group: string, key: string, t: Tensor | undefined) => {
      const ref = b.tensors.get(key);
      if (!ref) {
        problems.push(`${key}: missing from the bundle`);
        return;
      }
      if (!t) {
        add(group, { name: key, maxAbs: Infinity, scale: 0, problem: `${key}: the step produced nothing` });
        return;
      }
      add(group, compare(key, await t.data(), t.shape, ref));
    };

    await read('loss', 'loss', r.loss);
    await read('act/context', 'act/context', r.context);
    await read('act/target', 'act/target', r.target);
    await read('act/prediction', 'act/prediction', r.prediction);
    for (const [key] of b.tensors) {
      if (key.startsWith('grad/')) {
        const [, net, ...rest] = key.split('/');
        await read(`grad/${net}`, key, r.grads!.get(`${net}/${rest.join('/')}`));
      }
    }
    for (const [name, m] of model.modules()) {
      for (const [pname, t] of m.namedTensors()) await read(`after/${name}`, `after/${name}/${pname}`, t);
    }
    for (const key of b.tensors.keys()) {
      if (key.startsWith('after/') && ![...groups.values()].some((l) => l.some((m) => m.name === key))) {
        problems.push(`${key}: in the bundle but not in the model`);
      }
    }
    for (const [key] of r.grads!) {
      if (!b.tensors.has(`grad/${key}`)) problems.push(`grad/${key}: we have a gradient the reference lacks`);
    }

    const out: GroupError[] = [];
    for (const [group, list] of groups) {
      const after = group.startsWith('after/');
      let maxAbs = 0, maxRel = 0, maxAbsPerLr = 0, worst = '', worstVal = -1;
      for (const m of list) {
        if (m.problem) problems.push(m.problem);
        const rel = m.scale > 0 ? m.maxAbs / m.scale : m.maxAbs === 0 ? 0 : Infinity;
        const perLr = m.maxAbs / b.lr;
        maxAbs = Math.max(maxAbs, m.maxAbs);
        maxRel = Math.max(maxRel, rel);
        maxAbsPerLr = Math.max(maxAbsPerLr, perLr);
        const v = after ? perLr : rel;
        if (v > worstVal) {
          worstVal = v;
          worst = m.name;
        }
      }
      const limit = tol[toleranceKey(group)];
      const ok = list.every((m) => !m.problem) && (after ? maxAbsPerLr : maxRel) <= limit;
      out.push({ group, count: list.length, maxAbs, maxRel, maxAbsPerLr, worst, tolerance: limit, ok });
    }
    return { bundle: b.name, config: c, lr: b.lr, tolerance: tol, groups: out, problems, ok: problems.length === 0 && out.every((g) => g.ok) };
  } finally {
    for (const t of tensorsToFree) t.dispose();
    model.dispose();
  }
}

/** One line per group, for logs and failing tests. */
export function formatParityReport(r: ParityReport): string {
  const lines = [`${r.bundle}: ${r.ok ? 'ok' : 'FAILED'} (lr ${r.lr})`];
  for (const g of r.groups) {
    const measure = g.group.startsWith('after/')
      ? `abs/lr ${g.maxAbsPerLr.toExponential(2)} (tol ${g.tolerance.toExponential(1)})`
      : `rel ${g.maxRel.toExponential(2)} (tol ${g.tolerance.toExponential(1)})`;
    lines.push(
      `  ${g.ok ? 'ok  ' : 'FAIL'} ${g.group.padEnd(22)} n ${String(g.count).padStart(3)}  ${measure}  abs ${
        g.maxAbs.toExponential(2)
      }  worst ${g.worst}`,
    );
  }
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  return lines.join('\n');
}
