// layout: the official state-dict names and shapes of an I-JEPA model, computed from its config
// without building it, and the official AdamW parameter order (docs/ijepa-step.md §4.2, §4.6).
//
// Import and export are file-to-file conversions: they check names and shapes before reading any
// tensor data, so a wrong preset fails in milliseconds even on a 10 GB checkpoint. The layout must
// therefore equal what model/vit.ts and model/predictor.ts register; test/interop.test.ts checks it
// against `IJepa.modules()` for several configs, so a change to the modules that this file misses
// fails there rather than producing a checkpoint that does not load.
//
// Legend: N patches, D width, Dp predictor width, C channels, p patch, hid = mlpRatio · width.
import { formatShape as fmt, type TargetKind, type ModelConfig } from '../index.ts';
export type { TargetKind };

export type NetName = 'encoder' | 'predictor' | 'target_encoder';
export const NET_NAMES: readonly NetName[] = ['encoder', 'predictor', 'target_encoder'];

export interface TensorSpec {
  name: string;
  shape: readonly number[];
}

export interface ModelLayout {
  encoder: TensorSpec[];
  predictor: TensorSpec[];
  /** Absent for the pixel-target variant (no EMA encoder). */
  target_encoder: TensorSpec[] | null;
}

/** Tensors that never train (fixed sin-cos tables): no gradient, no AdamW state, no EMA. */
export const FROZEN = new Set(['pos_embed', 'predictor_pos_embed']);

function block(prefix: string, E: number, hid: number): TensorSpec[] {
  return [
    { name: `${prefix}.norm1.weight`, shape: [E] },
    { name: `${prefix}.norm1.bias`, shape: [E] },
    { name: `${prefix}.attn.qkv.weight`, shape: [3 * E, E] },
    { name: `${prefix}.attn.qkv.bias`, shape: [3 * E] },
    { name: `${prefix}.attn.proj.weight`, shape: [E, E] },
    { name: `${prefix}.attn.proj.bias`, shape: [E] },
    { name: `${prefix}.norm2.weight`, shape: [E] },
    { name: `${prefix}.norm2.bias`, shape: [E] },
    { name: `${prefix}.mlp.fc1.weight`, shape: [hid, E] },
    { name: `${prefix}.mlp.fc1.bias`, shape: [hid] },
    { name: `${prefix}.mlp.fc2.weight`, shape: [E, hid] },
    { name: `${prefix}.mlp.fc2.bias`, shape: [E] },
  ];
}

/** The encoder's state dict (docs/ijepa-step.md §4.6), in registration order. */
export function encoderLayout(m: ModelConfig): TensorSpec[] {
  const G = m.imgSize / m.patchSize, N = G * G, D = m.dim;
  return [
    { name: 'pos_embed', shape: [1, N, D] },
    { name: 'patch_embed.proj.weight', shape: [D, m.chans, m.patchSize, m.patchSize] },
    { name: 'patch_embed.proj.bias', shape: [D] },
    ...Array.from({ length: m.depth }, (_, i) => block(`blocks.${i}`, D, D * m.mlpRatio)).flat(),
    { name: 'norm.weight', shape: [D] },
    { name: 'norm.bias', shape: [D] },
  ];
}

/** The predictor's state dict; its output width is D (features) or C·p·p (pixels). */
export function predictorLayout(m: ModelConfig, target: TargetKind): TensorSpec[] {
  const G = m.imgSize / m.patchSize, N = G * G, Dp = m.predDim;
  const out = target === 'pixels' ? m.chans * m.patchSize * m.patchSize : m.dim;
  return [
    { name: 'mask_token', shape: [1, 1, Dp] },
    { name: 'predictor_pos_embed', shape: [1, N, Dp] },
    { name: 'predictor_embed.weight', shape: [Dp, m.dim] },
    { name: 'predictor_embed.bias', shape: [Dp] },
    ...Array.from({ length: m.predDepth }, (_, i) => block(`predictor_blocks.${i}`, Dp, Dp * m.mlpRatio)).flat(),
    { name: 'predictor_norm.weight', shape: [Dp] },
    { name: 'predictor_norm.bias', shape: [Dp] },
    { name: 'predictor_proj.weight', shape: [out, Dp] },
    { name: 'predictor_proj.bias', shape: [out] },
  ];
}

export function officialLayout(m: ModelConfig, target: TargetKind = 'features'): ModelLayout {
  return {
    encoder: encoderLayout(m),
    predictor: predictorLayout(m, target),
    target_encoder: target === 'features' ? encoderLayout(m) : null,
  };
}

/** The official weight-decay rule (docs/ijepa-step.md §4.2): no 'bias' in the name and ndim ≠ 1. */
export const isDecayedSpec = (t: TensorSpec) => !t.name.includes('bias') && t.shape.length !== 1;

export interface ParamRef {
  net: 'encoder' | 'predictor';
  name: string;
  shape: readonly number[];
}

/**
 * The four AdamW groups of `init_opt`, in order: encoder decayed, predictor decayed, encoder
 * not decayed, predictor not decayed. Each lists `named_parameters()` in order, which includes the
 * frozen position tables (they sit in groups 0/1 and never get state). Optimizer-state index i of
 * an official checkpoint is the i-th entry of these lists concatenated.
 */
export function officialParamGroups(l: ModelLayout): ParamRef[][] {
  const refs = (net: 'encoder' | 'predictor', decayed: boolean) =>
    l[net].filter((t) => isDecayedSpec(t) === decayed).map((t) => ({ net, name: t.name, shape: t.shape }));
  return [refs('encoder', true), refs('predictor', true), refs('encoder', false), refs('predictor', false)];
}

export { fmt as formatShape };

/**
 * Guess the model shape from an encoder's (and optionally a predictor's) tensor shapes, for error
 * messages that tell the user which options would fit the file. Heads cannot be read off weights.
 */
export function guessConfig(enc: ReadonlyMap<string, readonly number[]>, pred?: ReadonlyMap<string, readonly number[]>): string | null {
  const w = enc.get('patch_embed.proj.weight');
  if (!w || w.length !== 4) return null;
  const [D, C, p] = w as [number, number, number, number];
  let depth = 0;
  while (enc.has(`blocks.${depth}.norm1.weight`)) depth++;
  const pos = enc.get('pos_embed');
  const G = pos && pos.length === 3 ? Math.round(Math.sqrt(pos[1]!)) : null;
  const fc1 = enc.get('blocks.0.mlp.fc1.weight');
  const parts = [`dim ${D}`, `depth ${depth}`, `patch size ${p}`, `channels ${C}`];
  if (G !== null) parts.push(`image size ${G * p}`);
  if (fc1) parts.push(`mlp ratio ${fc1[0]! / D}`);
  if (pred) {
    const pe = pred.get('predictor_embed.weight');
    let pd = 0;
    while (pred.has(`predictor_blocks.${pd}.norm1.weight`)) pd++;
    if (pe) parts.push(`predictor dim ${pe[0]}`, `predictor depth ${pd}`);
  }
  return parts.join(', ');
}
