// flops: the analytic model FLOPs of one I-JEPA train step (model/ijepa.ts), per op family, from
// the config and the step's mask sizes. MFU = these FLOPs / step time / the adapter's measured
// peak (bench/peak.bench.ts). Model FLOPs, not hardware FLOPs: what the math needs, not what
// the kernels execute (flash attention's recomputed scores and padding are not counted).
//
// Counting rules (a multiply-add is 2 FLOPs):
//   matmul     the Linear layers and the patch embedding: 2·M·K·N each forward.
//   attention  the two products per head, q·kᵀ and p·v: 4·n²·Dh per head and sequence of n.
//   rest       per element of each op's output, forward: bias add 1, residual add 1, position
//              add 1, GELU 8, layer norm 7 (5 without affine), softmax 5 per score, smooth-L1 4;
//              then AdamW 12 per parameter and EMA 3 per encoder parameter, counted once.
//   Backward costs twice the forward (an input and a weight gradient per product), so the
//   context encoder and the predictor count ×3; the patch embedding ×2 (its input, the images,
//   needs no gradient); the target encoder and its final layer norm run forward only, ×1.
// Legend: B batch, N = G² patches, Kc/Kt context/target tokens, nenc/npred masks, D/Dp widths,
// h = mlpRatio·width, H heads, C·p² pixels per patch.
import type { ModelConfig } from './presets.ts';

/** The step's sizes that the FLOPs depend on beyond the config: batch, mask tokens, mask counts, target kind. */
export interface StepShape {
  batch: number;
  /** Context and target tokens of the step's masks (MaskBatch Le and Lp). */
  kc: number;
  kt: number;
  /** Context / target masks per image (official: 1 and 4). */
  nenc?: number;
  npred?: number;
  /** 'pixels': no target encoder, the predictor regresses C·p² values per token. */
  target?: 'features' | 'pixels';
}

/** Model FLOPs of one train step per op family (see the counting rules in the file header), and their sum. */
export interface StepFlops {
  matmul: number;
  attention: number;
  rest: number;
  total: number;
}

type Counts = Omit<StepFlops, 'total'>;

const add = (...cs: Counts[]): Counts => ({
  matmul: cs.reduce((s, c) => s + c.matmul, 0),
  attention: cs.reduce((s, c) => s + c.attention, 0),
  rest: cs.reduce((s, c) => s + c.rest, 0),
});
const times = (c: Counts, k: number): Counts => ({ matmul: c.matmul * k, attention: c.attention * k, rest: c.rest * k });

/** `depth` pre-norm blocks of width W over S sequences of n tokens (T = S·n), forward. */
function blocks(depth: number, S: number, n: number, W: number, heads: number, mlpRatio: number): Counts {
  const T = S * n, h = mlpRatio * W;
  return times({
    matmul: 2 * T * (W * 3 * W + W * W + W * h + h * W), // qkv, proj, fc1, fc2
    attention: 4 * S * n * n * W, // heads · 4n²·Dh, heads·Dh = W
    rest: T * (2 * 7 * W + 8 * h + 2 * W + (3 * W + W + h + W)) + 5 * S * heads * n * n, // 2 LN, GELU, 2 residuals, biases; softmax
  }, depth);
}

/** Trainable parameters of an encoder (W = D) and of the predictor (`out` per token). */
function encoderParams(m: ModelConfig): number {
  const D = m.dim, h = m.mlpRatio * D;
  const block = 4 * D + (3 * D * D + 3 * D) + (D * D + D) + (D * h + h) + (h * D + D);
  return m.chans * m.patchSize ** 2 * D + D + m.depth * block + 2 * D;
}
function predictorParams(m: ModelConfig, out: number): number {
  const W = m.predDim, h = m.mlpRatio * W;
  const block = 4 * W + (3 * W * W + 3 * W) + (W * W + W) + (W * h + h) + (h * W + W);
  return W + (m.dim * W + W) + m.predDepth * block + 2 * W + (W * out + out);
}

/** Model FLOPs of one train step, per family (see the counting rules above). */
export function stepFlops(m: ModelConfig, s: StepShape): StepFlops {
  const nenc = s.nenc ?? 1, npred = s.npred ?? 4, B = s.batch;
  const G = m.imgSize / m.patchSize, N = G * G, D = m.dim, Dp = m.predDim;
  const pix = m.chans * m.patchSize ** 2;
  const features = (s.target ?? 'features') === 'features';
  const out = features ? D : pix;
  const patchEmbed: Counts = { matmul: 2 * B * N * pix * D, attention: 0, rest: 2 * B * N * D }; // + bias, + positions

  // target encoder: all N patches, forward only, then the affine-free layer norm
  const target = features
    ? add(patchEmbed, blocks(m.depth, B, N, D, m.heads, m.mlpRatio), { matmul: 0, attention: 0, rest: B * N * (7 + 5) * D })
    : { matmul: 0, attention: 0, rest: 0 };
  // context encoder: the patch embedding runs on all patches (masks apply after it)
  const Sc = nenc * B;
  const context = add(
    times(patchEmbed, 2),
    times(add(blocks(m.depth, Sc, s.kc, D, m.heads, m.mlpRatio), { matmul: 0, attention: 0, rest: Sc * s.kc * 7 * D }), 3),
  );
  // predictor: embed the context, npred·nenc·B sequences of Kc + Kt, project the Kt targets
  const R = npred * nenc * B, n = s.kc + s.kt;
  const predictor = times(add(
    { matmul: 2 * Sc * s.kc * D * Dp, attention: 0, rest: Sc * s.kc * 2 * Dp + R * s.kt * Dp }, // + bias, + positions; mask token + positions
    blocks(m.predDepth, R, n, Dp, m.heads, m.mlpRatio),
    { matmul: 2 * R * s.kt * Dp * out, attention: 0, rest: R * n * 7 * Dp + R * s.kt * (out + 4 * out) }, // norm; proj bias, loss
  ), 3);
  const params = encoderParams(m) + predictorParams(m, out);
  const optim = { matmul: 0, attention: 0, rest: 12 * params + (features ? 3 * encoderParams(m) : 0) };
  const c = add(target, context, predictor, optim);
  return { ...c, total: c.matmul + c.attention + c.rest };
}

/** Trainable parameter count (encoder + predictor), as the rules above count it. */
export function trainableParams(m: ModelConfig, target: 'features' | 'pixels' = 'features'): number {
  return encoderParams(m) + predictorParams(m, target === 'features' ? m.dim : m.chans * m.patchSize ** 2);
}
