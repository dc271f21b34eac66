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
// order, a missing bias) shows as O(1) relative error; f32 rounding as ~1e-6.
//
// Deliberately not here: writing bundles (the Python script does), schedules, bf16.

import { decodeSafetensors, fromArray, type DecodedTensor, type Module, type Tensor } from '../engine/index.ts';
import { IJepa } from './ijepa.ts';
import type { ModelConfig } from './presets.ts';
import { fmt } from './format-shape.ts';

export const STEP_BUNDLE_FORMAT = 'ijepa-step-bundle/1';

/** The bundle's `config` metadata (make_step_bundle.py). */
export interface BundleConfig {
  img: number; patch: number; chans: number; dim: number; depth: number; heads: number;
  pred_depth: number; pred_dim: number; batch: number; nenc: number; npred: number;
}

export interface StepBundle {
  name: string;
  config: BundleConfig;
  lr: number;
  weightDecay: number;
  momentum: number;
  tensors: Map<string, DecodedTensor>;
}

export interface ParityTolerance {
  /** Max error relative to a tensor's largest magnitude, for loss, act/* and grad/*. */
  rel: number;
  /** Max absolute error of after/* in units of lr. */
  afterPerLr: number;
}

/**
 * Defaults from what we measure on the committed bundles (f32 WebGPU on lavapipe against the f64
 * reference): activations and gradients reach ≤ 7e-7 relative, so `rel` 1e-5 leaves > 10×
 * headroom while any semantic slip (row order, a dropped bias, wrong LN eps) is ≥ 1e-3. after/*
 * reaches ≤ 1.2e-3·lr: at step 1 AdamW's update lr·g/(|g| + eps) amplifies a gradient error δ by
 * up to lr·δ/eps where |g| ≲ eps (the median |g| is ~1e-7, eps 1e-8), so after/* cannot be
 * tighter than the gradients allow; 5e-3·lr is 4× headroom. Decay-group mistakes on LN weights
 * (≈ lr·wd·1 = 4e-2·lr) still fail it; the test checks group membership directly as well.
 */
export const DEFAULT_TOLERANCE: ParityTolerance = { rel: 1e-5, afterPerLr: 5e-3 };

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
    if (metadata[key] === undefined || !Number.isFinite(v)) throw new Error(`load ${name}: metadata ${key} is ${JSON.stringify(metadata[key])}, expected a number`);
    return v;
  };
  let config: BundleConfig;
  try {
    config = JSON.parse(metadata.config ?? 'null') as BundleConfig;
  } catch (e) {
    throw new Error(`load ${name}: metadata config is not JSON: ${(e as Error).message}`);
  }
  for (const k of ['img', 'patch', 'chans', 'dim', 'depth', 'heads', 'pred_depth', 'pred_dim', 'batch', 'nenc', 'npred'] as const) {
    if (!config || !Number.isInteger(config[k])) throw new Error(`load ${name}: metadata config.${k} is ${JSON.stringify(config?.[k])}, expected an integer`);
  }
  return { name, config, lr: num('lr'), weightDecay: num('weight_decay'), momentum: num('momentum'), tensors };
}

/** The ModelConfig a bundle describes (mlp ratio 4 and the official init std, as the script). */
export function bundleModelConfig(c: BundleConfig): ModelConfig {
  return {
    imgSize: c.img, chans: c.chans, patchSize: c.patch, dim: c.dim, depth: c.depth, heads: c.heads,
    mlpRatio: 4, predDepth: c.pred_depth, predDim: c.pred_dim, patchEmbedStd: 0.02,
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

interface Measure { name: string; maxAbs: number; scale: number; problem?: string }

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
export async function checkStepBundle(b: StepBundle, opts: { tol?: Partial<ParityTolerance> } = {}): Promise<ParityReport> {
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
    const masks = (kind: 'enc' | 'pred', n: number) => Array.from({ length: n }, (_, i) => {
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
      if (!ref) { problems.push(`${key}: missing from the bundle`); return; }
      if (!t) { add(group, { name: key, maxAbs: Infinity, scale: 0, problem: `${key}: the step produced nothing` }); return; }
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
        if (v > worstVal) { worstVal = v; worst = m.name; }
      }
      const ok = list.every((m) => !m.problem) && (after ? maxAbsPerLr <= tol.afterPerLr : maxRel <= tol.rel);
      out.push({ group, count: list.length, maxAbs, maxRel, maxAbsPerLr, worst, ok });
    }
    return { bundle: b.name, config: c, lr: b.lr, tolerance: tol, groups: out, problems, ok: problems.length === 0 && out.every((g) => g.ok) };
  } finally {
    for (const t of tensorsToFree) t.dispose();
    model.dispose();
  }
}

/** One line per group, for logs and failing tests. */
export function formatParityReport(r: ParityReport): string {
  const lines = [`${r.bundle}: ${r.ok ? 'ok' : 'FAILED'} (tol rel ${r.tolerance.rel}, after ${r.tolerance.afterPerLr}·lr)`];
  for (const g of r.groups) {
    const measure = g.group.startsWith('after/') ? `abs/lr ${g.maxAbsPerLr.toExponential(2)}` : `rel ${g.maxRel.toExponential(2)}`;
    lines.push(`  ${g.ok ? 'ok  ' : 'FAIL'} ${g.group.padEnd(22)} n ${String(g.count).padStart(3)}  ${measure}  abs ${g.maxAbs.toExponential(2)}  worst ${g.worst}`);
  }
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  return lines.join('\n');
}
