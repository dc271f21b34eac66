// predictor: the I-JEPA predictor (official VisionTransformerPredictor, docs/ijepa-step.md §3):
// a narrow ViT that reads the context tokens plus one mask token per target position and
// predicts the target encoder's features (or, in the pixel variant, normalised patch pixels).
//
// Legend: B batch, N patches, D encoder width, Dp predictor width, Kc/Kt context/target tokens,
// nenc context masks, npred (M) target masks.
//
// Row order (docs/ijepa-step.md §3), the part a port most easily gets wrong:
//  - context rows arrive as e·B + b (apply_masks over nenc masks);
//  - target positions are gathered as p·B + b, then each B-chunk is repeated nenc times
//    (repeat_interleave_batch) → p·nenc·B + e·B + b;
//  - the whole context batch is TILED npred times (plain repeat) → p·nenc·B + e·B + b;
// so row r pairs context mask e of image b with target block p of image b.
//
// Invariants: state-dict names and order are the official ones: mask_token, predictor_pos_embed
// (the module's own tensors first), predictor_embed, predictor_blocks.{i}.*, predictor_norm,
// predictor_proj. Heads = encoder heads; LN eps 1e-6; init as the encoder (vit.ts), mask_token
// truncated-normal std 0.02. predictor_pos_embed is frozen.
// Deliberately not here: the official constructor's depth rescaling (init_model erases it).

import type { Generator, Tensor } from '../engine/index.ts';
import { LayerNorm, Linear, Module, ShapeError, concat, parameter, truncNormal } from '../engine/index.ts';
import { Block, applyMasks, posEmbedParameter, repeatInterleaveBatch } from './vit.ts';
import { fmt } from './format-shape.ts';

/** The predictor's shape: grid side, encoder and predictor widths, depth, heads, MLP ratio and output width. */
export interface PredictorConfig {
  /** Patch grid side G (N = G²). */
  G: number;
  /** Encoder width D (the predictor's input). */
  dim: number;
  /** Predictor width Dp. */
  predDim: number;
  predDepth: number;
  heads: number;
  mlpRatio: number;
  /** Output width: D for feature targets, C·p·p for the pixel-target variant. */
  outDim: number;
}

/** The I-JEPA predictor: a narrow ViT over the context tokens plus one mask token per target position, projected back to the target's width. */
export class VisionTransformerPredictor extends Module {
  mask_token: Tensor;
  predictor_pos_embed: Tensor;
  predictor_embed: Linear;
  predictor_blocks: Block[];
  predictor_norm: LayerNorm;
  predictor_proj: Linear;
  readonly config: Readonly<PredictorConfig>;

  constructor(cfg: PredictorConfig, generator: Generator) {
    super();
    if (cfg.predDim % cfg.heads !== 0 || cfg.predDim % 4 !== 0) {
      throw new RangeError(`VisionTransformerPredictor: predDim ${cfg.predDim} must be divisible by heads ${cfg.heads} and by 4`);
    }
    this.config = { ...cfg };
    const g = generator;
    this.mask_token = parameter(truncNormal([1, 1, cfg.predDim], g, { std: 0.02 })); // [1, 1, Dp]
    this.predictor_pos_embed = posEmbedParameter(cfg.predDim, cfg.G); // [1, N, Dp]
    this.predictor_embed = new Linear(cfg.dim, cfg.predDim, { generator: g, std: 0.02 });
    this.predictor_blocks = Array.from({ length: cfg.predDepth }, () => new Block(cfg.predDim, cfg.heads, cfg.mlpRatio, g));
    this.predictor_norm = new LayerNorm(cfg.predDim, 1e-6);
    this.predictor_proj = new Linear(cfg.predDim, cfg.outDim, { generator: g, std: 0.02 });
  }

  /**
   * x [nenc·B, Kc, D] (the context encoder's output), masksX nenc i32 [B, Kc], masks npred i32
   * [B, Kt] → predictions [npred·nenc·B, Kt, outDim].
   */
  forward(x: Tensor, masksX: readonly Tensor[], masks: readonly Tensor[]): Tensor {
    const nenc = masksX.length, npred = masks.length;
    const { predDim: Dp, G } = this.config;
    const N = G * G;
    if (x.rank !== 3 || nenc === 0 || npred === 0 || x.shape[0]! % nenc !== 0) {
      throw new ShapeError('VisionTransformerPredictor', 'x', [x.shape],
        `x ${fmt(x.shape)} must be [nenc·B, Kc, D] with ${nenc} context mask(s) and at least one target mask (got ${npred})`);
    }
    const B = x.shape[0]! / nenc;
    let z = this.predictor_embed.forward(x); // [nenc·B, Kc, Dp]
    // one contiguous [B, N, Dp] copy of the table, shared by every gather below
    const pos = this.predictor_pos_embed.expand([B, N, Dp]).contiguous(); // [B, N, Dp]
    z = z.add(applyMasks(pos, masksX)); // [nenc·B, Kc, Dp]
    const Kc = z.shape[1]!;
    const t = repeatInterleaveBatch(applyMasks(pos, masks), B, nenc) // [npred·nenc·B, Kt, Dp]
      .add(this.mask_token);
    const tiled = npred === 1 ? z : concat(Array.from({ length: npred }, () => z), 0); // [npred·nenc·B, Kc, Dp]
    let y = concat([tiled, t], 1); // [npred·nenc·B, Kc + Kt, Dp]
    for (const blk of this.predictor_blocks) y = blk.forward(y);
    y = this.predictor_norm.forward(y).slice(1, Kc); // [npred·nenc·B, Kt, Dp]
    return this.predictor_proj.forward(y); // [npred·nenc·B, Kt, outDim]
  }
}
