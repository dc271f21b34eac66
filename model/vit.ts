// vit: the I-JEPA Vision Transformer encoder (official src/models/vision_transformer.py,
// docs/ijepa-step.md §2), its Block, and the two batch-reordering helpers the whole model shares
// (`applyMasks`, `repeatInterleaveBatch`, docs/masks.md §6 and docs/ijepa-step.md §3).
//
// Legend: B batch, C channels, p patch side, G = img/p grid side, N = G² patches, D width,
// H heads, Dh = D/H head dim, K tokens kept by a mask, M masks in a list.
//
// Invariants:
//  - Field names are the official ones and fields are declared in the official registration
//    order, so `namedTensors()` IS the state dict: pos_embed, patch_embed.proj.{weight,bias},
//    blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, norm.* (docs/ijepa-step.md §4.6).
//  - The patch embedding is the official Conv2d(C, D, p, stride p) with its [D, C, p, p] weight,
//    computed as a Linear on patches unfolded in (c, ky, kx) order: the same sums, no conv op.
//  - Init (docs/ijepa-step.md §2.4, the net effect of the constructors plus init_model): every Linear weight and
//    the conv weight truncated-normal std 0.02 with ABSOLUTE bounds ±2, biases 0, LayerNorm 1/0,
//    no depth rescaling. The conv std can be changed (docs/small-recipe.md uses 0.08). Draws
//    follow state-dict order from the given engine Generator.
//  - LayerNorm eps 1e-6, exact (erf) GELU, qkv features laid out (3, H, Dh), no attention mask.
//
// Deliberately not here: cls token, dropout / drop-path (0 in every config), the resize branch
// of interpolate_pos_encoding (wrong for I-JEPA), bf16 autocast.

import type { Generator, Tensor } from '../engine/index.ts';
import { LayerNorm, Linear, Module, ShapeError, ATTENTION_MAX_DH, attention, attentionQkv, concat, fromArray, gather, linear, parameter, truncNormal,
  zeros } from '../engine/index.ts';
import { sincos2d } from './pos-embed.ts';
import type { ModelConfig } from './presets.ts';
import { validateModelConfig } from './presets.ts';
import { fmt } from './format-shape.ts';

const LN_EPS = 1e-6;
const INIT_STD = 0.02;

/** A frozen [1, G·G, E] sin-cos table (docs/ijepa-step.md §2.3), float64 rounded to float32 on upload. */
export function posEmbedParameter(E: number, G: number): Tensor {
  return parameter(fromArray(sincos2d(E, G), [1, G * G, E]), { trainable: false });
}

// ---- batch reordering ---------------------------------------------------------------------------

/**
 * `apply_masks` (docs/masks.md §6): for each index tensor [B, K] of the list, gather those tokens of
 * every sample, then concatenate mask-major: [M·B, K, E], row m·B + b.
 */
export function applyMasks(x: Tensor, masks: readonly Tensor[]): Tensor {
  if (x.rank !== 3) throw new ShapeError('applyMasks', 'x', [x.shape], `x ${fmt(x.shape)} must be [B, N, E]`);
  const [B, , E] = x.shape as [number, number, number];
  if (masks.length === 0) throw new ShapeError('applyMasks', 'masks', [x.shape], 'needs at least one mask');
  const K0 = masks[0]!.shape[1];
  const parts = masks.map((m, i) => {
    if (m.dtype !== 'i32' || m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== K0) {
      throw new ShapeError('applyMasks', `masks[${i}]`, [x.shape, m.shape],
        `masks[${i}] ${fmt(m.shape)} ${m.dtype} must be i32 [${B}, K] with the K (${K0}) of masks[0], for x ${fmt(x.shape)}`);
    }
    const K = m.shape[1]!;
    return gather(x, 1, m.reshape([B, K, 1]).expand([B, K, E])); // [B, K, E]
  });
  return parts.length === 1 ? parts[0]! : concat(parts, 0); // [M·B, K, E]
}

/**
 * `repeat_interleave_batch(x, B, repeat)`: x is `rows/B` consecutive chunks of B rows; each chunk
 * is repeated `repeat` times back-to-back. [P·B, ...] → [P·repeat·B, ...], row p·repeat·B + r·B + b.
 */
export function repeatInterleaveBatch(x: Tensor, B: number, repeat: number): Tensor {
  if (repeat === 1) return x;
  const rows = x.shape[0]!;
  if (rows % B !== 0) throw new ShapeError('repeatInterleaveBatch', 'x', [x.shape], `x ${fmt(x.shape)} has ${rows} rows, not a multiple of B ${B}`);
  const chunks: Tensor[] = [];
  for (let p = 0; p < rows / B; p++) {
    const c = x.slice(0, p * B, (p + 1) * B);
    for (let r = 0; r < repeat; r++) chunks.push(c);
  }
  return concat(chunks, 0);
}

/** Images [B, C, G·p, G·p] → patches [B, N, C·p·p], each flattened in (c, ky, kx) order. */
export function patchify(imgs: Tensor, p: number): Tensor {
  const [B, C, Hh] = imgs.shape as [number, number, number, number];
  const G = Hh / p;
  return imgs.reshape([B, C, G, p, G, p]) // [B, C, G, p, G, p]
    .permute([0, 2, 4, 1, 3, 5]) // [B, G, G, C, p, p]
    .reshape([B, G * G, C * p * p]); // [B, N, C·p·p]
}

// ---- layers -------------------------------------------------------------------------------------

/** Conv2d(C, D, kernel p, stride p) weights under the official names `weight` [D, C, p, p], `bias` [D]. */
class PatchConv extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(C: number, D: number, p: number, g: Generator, std: number) {
    super();
    this.weight = parameter(truncNormal([D, C, p, p], g, { std }));
    this.bias = parameter(zeros([D]));
  }
}

/** The official Conv2d(C, D, p, stride p) patch embedding, computed as a Linear on unfolded patches: [B, C, img, img] → [B, N, D]. */
export class PatchEmbed extends Module {
  proj: PatchConv;
  private readonly p: number;
  private readonly C: number;
  private readonly img: number;
  constructor(img: number, p: number, C: number, D: number, g: Generator, std: number) {
    super();
    this.proj = new PatchConv(C, D, p, g, std);
    this.p = p;
    this.C = C;
    this.img = img;
  }

  /** [B, C, img, img] → [B, N, D]: the strided conv as one matmul over unfolded patches. */
  forward(imgs: Tensor): Tensor {
    const { p, C, img } = this;
    if (imgs.rank !== 4 || imgs.shape[1] !== C || imgs.shape[2] !== img || imgs.shape[3] !== img) {
      throw new ShapeError('PatchEmbed', 'imgs', [imgs.shape], `imgs ${fmt(imgs.shape)} must be [B, ${C}, ${img}, ${img}]`);
    }
    const D = this.proj.weight.shape[0]!;
    const w = this.proj.weight.reshape([D, C * p * p]); // [D, C·p·p]
    return linear(patchify(imgs, p), w, this.proj.bias); // [B, N, D]
  }
}

/** Multi-head self-attention with a fused qkv projection, no mask (timm's Attention as I-JEPA uses it). */
export class Attention extends Module {
  qkv: Linear;
  proj: Linear;
  private readonly heads: number;
  constructor(D: number, heads: number, g: Generator) {
    super();
    this.qkv = new Linear(D, 3 * D, { generator: g, std: INIT_STD });
    this.proj = new Linear(D, D, { generator: g, std: INIT_STD });
    this.heads = heads;
  }

  /** Attention of x, plus `residual` when given (added in the output projection's epilogue). */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const [B, N, D] = x.shape as [number, number, number];
    const H = this.heads, Dh = D / H;
    const qkv = this.qkv.forward(x); // [B, N, 3D] = [B, N, 3, H, Dh]
    if (Dh % 4 === 0 && Dh <= ATTENTION_MAX_DH) {
      // the kernels read the heads in place and write o in token order: no split/merge copies
      return this.proj.forward(attentionQkv(qkv, H), { residual }); // [B, N, D]
    }
    const heads = qkv.reshape([B, N, 3, H, Dh]).permute([2, 0, 3, 1, 4]); // [3, B, H, N, Dh]
    const part = (s: number) => heads.slice(0, s, s + 1).reshape([B, H, N, Dh]);
    const o = attention(part(0), part(1), part(2)); // [B, H, N, Dh] (fused: no N×N matrix)
    return this.proj.forward(o.permute([0, 2, 1, 3]).reshape([B, N, D]), { residual }); // [B, N, D]
  }
}

/** The transformer MLP: fc2(gelu(fc1 x)), hidden width mlpRatio·D. */
export class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(D: number, hidden: number, g: Generator) {
    super();
    this.fc1 = new Linear(D, hidden, { generator: g, std: INIT_STD });
    this.fc2 = new Linear(hidden, D, { generator: g, std: INIT_STD });
  }
  /** fc2(gelu(fc1 x)), plus `residual` when given; GELU and residual run in the matmuls' epilogues. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    const h = this.fc1.forward(x, { activation: 'gelu' }); // [.., hidden]
    return this.fc2.forward(h, { residual }); // [.., D]
  }
}

/** Pre-norm transformer block: x ← x + Attn(LN1 x); x ← x + MLP(LN2 x). */
export class Block extends Module {
  norm1: LayerNorm;
  attn: Attention;
  norm2: LayerNorm;
  mlp: Mlp;
  constructor(D: number, heads: number, mlpRatio: number, g: Generator) {
    super();
    this.norm1 = new LayerNorm(D, LN_EPS);
    this.attn = new Attention(D, heads, g);
    this.norm2 = new LayerNorm(D, LN_EPS);
    this.mlp = new Mlp(D, D * mlpRatio, g);
  }
  forward(x: Tensor): Tensor {
    const y = this.attn.forward(this.norm1.forward(x), x); // x + Attn(LN1 x)  [B, N, D]
    return this.mlp.forward(this.norm2.forward(y), y); // y + MLP(LN2 y)   [B, N, D]
  }
}

// ---- the encoder --------------------------------------------------------------------------------

/** The ModelConfig fields the encoder reads. */
export type EncoderConfig = Pick<ModelConfig, 'imgSize' | 'chans' | 'patchSize' | 'dim' | 'depth' | 'heads' | 'mlpRatio' | 'patchEmbedStd'>;

/** The I-JEPA ViT encoder (no cls token): patch embedding plus fixed 2-d sin-cos positions, `depth` blocks, a final LayerNorm; optional masks keep only the listed patches. */
export class VisionTransformer extends Module {
  pos_embed: Tensor;
  patch_embed: PatchEmbed;
  blocks: Block[];
  norm: LayerNorm;
  readonly config: Readonly<EncoderConfig>;
  /** Patch grid side G and tokens N. */
  readonly G: number;
  readonly N: number;

  constructor(cfg: EncoderConfig, generator: Generator) {
    super();
    validateModelConfig({ ...cfg, predDepth: 1, predDim: cfg.dim }, 'VisionTransformer');
    this.config = { ...cfg };
    this.G = cfg.imgSize / cfg.patchSize;
    this.N = this.G * this.G;
    this.pos_embed = posEmbedParameter(cfg.dim, this.G); // [1, N, D]
    this.patch_embed = new PatchEmbed(cfg.imgSize, cfg.patchSize, cfg.chans, cfg.dim, generator, cfg.patchEmbedStd);
    this.blocks = Array.from({ length: cfg.depth }, () => new Block(cfg.dim, cfg.heads, cfg.mlpRatio, generator));
    this.norm = new LayerNorm(cfg.dim, LN_EPS);
  }

  /**
   * imgs [B, C, img, img] → [B, N, D]; with `masks` (nenc i32 tensors [B, K]) the tokens are
   * gathered after adding positions: [nenc·B, K, D], row e·B + b.
   */
  forward(imgs: Tensor, masks?: readonly Tensor[]): Tensor {
    let x = this.patch_embed.forward(imgs).add(this.pos_embed); // [B, N, D]
    if (masks) x = applyMasks(x, masks); // [nenc·B, K, D]
    for (const blk of this.blocks) x = blk.forward(x);
    return this.norm.forward(x);
  }
}
