// memory-estimate: what one training step will hold, from the configuration alone, so that a run
// too large for the machine is refused in a second instead of swapping for minutes.
//
// Device bytes = state + activations:
//  - state: the trainable parameters (context encoder + predictor) with their gradients and
//    AdamW's two moments (4 tensors of each), plus the EMA target encoder's weights (1; none
//    for pixel targets);
//  - activations: what the backward pass keeps, per block, for the largest mask batch the
//    collator can draw (every context patch kept, every target block at its largest scale):
//    SAVED_PER_TOKEN widths per token (LN in/out, qkv, attention out, projection, MLP hidden ×2,
//    residuals) plus the attention probabilities (heads · sequence per token);
//  - both times SLACK for the pool's bucket rounding (≤ 12.5 %) and the transients of init and
//    backward that the pool keeps. Against the pool's high-water mark (live + pooled bytes) after
//    three steps the estimate came out 1.1× (vit-tiny-16 at 96 px, batch 4; small-recipe, batch
//    8), 1.3× (tiny, batch 8), 1.5× (tiny, batch 32) and 1.8× (small-recipe, batch 32): the
//    largest masks overstate a typical batch most where activations dominate. (The micro preset's
//    few MiB are mostly fixed overheads, under 0.9×: too small to matter.) test/memory-estimate
//    .test.ts keeps it in [0.9×, 2.2×].
// Host bytes: the prefetched batches (f32 images) and, for a folder, one decoded image per
// decode worker at the decode cap (image-folder.ts shrinks larger images on decode).
import type { TargetKind } from './ijepa.ts';
import type { MaskSettings } from './masks.ts';
import type { ModelConfig } from './presets.ts';

/** Widths of saved activations per token per block, for an MLP ratio r: 9 + 3r (see header). */
const savedPerToken = (r: number) => 9 + 3 * r;

/** A training step's estimated memory: parameter count, device bytes and host bytes. */
export interface StepMemory {
  /** Trainable parameters (encoder + predictor). */
  params: number;
  deviceBytes: number;
  hostBytes: number;
}

/** See the header: pool rounding and the transients the pool keeps. */
const SLACK = 1.25;

/** Parameters of a pre-norm ViT block of width d (LN, qkv, proj, LN, fc1, fc2). */
const blockParams = (d: number, r: number) => (4 + 2 * r) * d * d + (9 + r) * d;

/** The memory one training step holds, estimated from the model shape, the masks and the batch (see the header). */
export function estimateStepMemory(m: ModelConfig, mask: Pick<MaskSettings, 'encMaskScale' | 'predMaskScale' | 'nenc' | 'npred'>, batch: number,
  opts: { prefetch?: number; bytesPerValue?: number; target?: TargetKind; } = {}): StepMemory
{
  const bpv = opts.bytesPerValue ?? 4;
  const N = (m.imgSize / m.patchSize) ** 2;
  const r = m.mlpRatio, D = m.dim, Dp = m.predDim;
  const encoder = m.chans * m.patchSize ** 2 * D + D + m.depth * blockParams(D, r) + 2 * D;
  const features = (opts.target ?? 'features') === 'features';
  const out = features ? D : m.chans * m.patchSize ** 2;
  const predictor = D * Dp + Dp + Dp + m.predDepth * blockParams(Dp, r) + 2 * Dp + Dp * out + out;
  const params = encoder + predictor;
  const state = (params * 4 + (features ? encoder : 0)) * 4; // f32 masters, grads, two moments; target weights

  const Kc = Math.min(N, Math.ceil(mask.encMaskScale[1] * N)), Kt = Math.min(N, Math.ceil(mask.predMaskScale[1] * N));
  const encTokens = batch * mask.nenc * Kc, encSeq = Kc;
  const predTokens = batch * mask.nenc * mask.npred * (Kc + Kt), predSeq = Kc + Kt;
  const perBlock = (tokens: number, d: number, seq: number) => tokens * (savedPerToken(r) * d + m.heads * seq);
  const activations = m.depth * perBlock(encTokens, D, encSeq) + m.predDepth * perBlock(predTokens, Dp, predSeq)
    + batch * N * out * 2; // the targets and their layer norm (the target encoder's blocks save nothing)
  const deviceBytes = Math.ceil((state + activations * bpv) * SLACK);

  const image = m.chans * m.imgSize ** 2 * 4;
  const hostBytes = ((opts.prefetch ?? 2) + 1) * batch * image;
  return { params, deviceBytes, hostBytes };
}

/** Bytes as GiB/MiB for messages. */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}
