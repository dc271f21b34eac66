// ijepa: the I-JEPA training state (context encoder, predictor, EMA target encoder, AdamW) and
// one training step, as official src/train.py runs it (docs/ijepa-step.md §4.1, §4.2).
//
// Legend: B batch, C channels, N patches, D width, Kc/Kt context/target tokens, nenc/npred masks.
//
// One step, in this order (its lr, wd and momentum are arguments, from model/schedules.ts):
//   h = target_encoder(imgs)                 no grad; full image incl. its final affine LN
//   h = layer_norm(h) without affine, eps 1e-5, gathered at masks_pred (row p·B + b), then each
//       B-chunk repeated nenc times (row p·nenc·B + e·B + b)
//   z = predictor(encoder(imgs, masks_enc), masks_enc, masks_pred)
//   loss = smooth-L1 (β 1) mean over every element; backward; AdamW; EMA θ̄ ← m·θ̄ + (1 − m)·θ.
// AdamW groups (docs/ijepa-step.md §4.2), in order: 0 encoder decayed, 1 predictor decayed, 2 encoder not
// decayed, 3 predictor not decayed; "decayed" = no 'bias' in the name and ndim ≠ 1, which puts
// mask_token in group 1. lr applies to all four, wd to 0 and 1 only (2 and 3 fix weight decay 0,
// the official WD_exclude groups). The frozen position tables
// get no gradient and are left out of the groups and of the EMA (they are equal in both encoders).
//
// Pixel variant (`target: 'pixels'`): instead of target-encoder features the predictor regresses
// each target patch's pixels, normalised per patch over its C·p·p values exactly as MAE's
// norm_pix_loss (unbiased variance, eps 1e-6); predictor_proj is then Dp → C·p·p and there is no
// target encoder or EMA. Everything else (masks, predictor, smooth-L1, AdamW) is the same step.
//
// Mixed precision (`dtype: 'f16'`): the parameters, AdamW's moments and the target encoder stay
// f32 (the masters); each step runs every net on f16 copies of them (withHalfWeights) with f16
// activations, and the smooth-L1 loss in f32. Backward starts from loss·S (GradScaler, S
// dynamic); one device reduction counts non-finite f32 gradients and is read back with the
// loss: an overflow skips AdamW and the EMA and halves S, else AdamW divides the gradients by S
// in its own launches. That read decides the update, so f16 steps go through `stepAsync`.
//
// Memory: a step runs in one `tidy`; every intermediate is freed when it returns. What survives
// is what it returns (the loss, plus the activations and gradients when `capture` is set), owned
// by the caller. Parameters, optimizer state and the target encoder live until `dispose()`.
// Nothing here reads the GPU: the loss comes back as a tensor, to be read while the next step
// is being recorded.

import { AdamW, GradScaler, Generator, ShapeError, Tensor, copy, emaUpdate, fromArray, getBackend, layerNorm, noGrad, smoothL1, tidy, withHalfWeights,
  type Module, type ParamGroup } from '../engine/index.ts';
import type { MaskBatch } from './masks.ts';
import type { ModelConfig } from './presets.ts';
import { validateModelConfig } from './presets.ts';
import { VisionTransformerPredictor } from './predictor.ts';
import { VisionTransformer, applyMasks, patchify, repeatInterleaveBatch } from './vit.ts';
import { fmt } from './format-shape.ts';

/** The regression target: the EMA target encoder's features (official) or normalised patch pixels (an MAE-style variant). */
export type TargetKind = 'features' | 'pixels';

/** How an IJepa is built: the init seed and what the predictor regresses. */
export interface IJepaOptions {
  /** Seed (or generator) for the init draws; default seed 0. */
  seed?: number | Generator;
  /** What the predictor regresses; default 'features' (official). */
  target?: TargetKind;
  /** 'f16': mixed precision (see the file header; needs shader-f16 and `stepAsync`); default 'f32'. */
  dtype?: 'f32' | 'f16';
  /** f16 only: the loss scale at the start (default 2^16). */
  lossScale?: number;
  /** f16 only: clean steps in a row before the loss scale doubles (default 2000). */
  lossScaleInterval?: number;
}

/** Per-step hyper-parameters (model/schedules.ts's scheduleAt gives them). */
export interface StepHyper {
  lr: number;
  /** Weight decay of the decayed groups (0 and 1). */
  wd: number;
  /** EMA momentum m of the target encoder (ignored for pixel targets). */
  momentum: number;
}

/** Masks as i32 tensors [B, Kc] / [B, Kt], or a collator batch (uploaded by the step). */
export type StepMasks = { enc: readonly Tensor[]; pred: readonly Tensor[]; } | MaskBatch;

/** What `IJepa.step` returns: the loss, and with `capture` the intermediate tensors (for parity checks). */
export interface StepResult {
  /** Scalar loss (f32, shape []); the caller reads and disposes it. */
  loss: Tensor;
  /** With `capture`: [nenc·B, Kc, D] context-encoder output. */
  context?: Tensor;
  /** With `capture`: [npred·nenc·B, Kt, D or C·p·p] regression targets. */
  target?: Tensor;
  /** With `capture`: [npred·nenc·B, Kt, D or C·p·p] predictor output. */
  prediction?: Tensor;
  /** With `capture`: 'encoder/<name>' / 'predictor/<name>' → gradient, before the update. */
  grads?: Map<string, Tensor>;
}

/** What `stepAsync` reports, read from the device. */
export interface AsyncStepResult {
  loss: number;
  /** f16: the gradients overflowed, so AdamW and the EMA did not run (f32: always false). */
  skipped: boolean;
  /** f16: the loss scale S this step ran with (f32: null). */
  lossScale: number | null;
  /** f16: this step was the growth interval's last clean one, so S doubled for the next. */
  scaleGrown: boolean;
}

/** The official weight-decay rule (docs/ijepa-step.md §4.2). */
export const isDecayed = (name: string, t: Tensor) => !name.includes('bias') && t.rank !== 1;

/** The I-JEPA model: context encoder, predictor and EMA target encoder, with its AdamW optimizer; `step()` runs one training step (forward, loss at the target positions, backward, AdamW, EMA). */
export class IJepa {
  readonly config: Readonly<ModelConfig>;
  readonly target: TargetKind;
  readonly encoder: VisionTransformer;
  readonly predictor: VisionTransformerPredictor;
  /** The EMA copy of the encoder; null for pixel targets. Never trained by gradient. */
  readonly target_encoder: VisionTransformer | null;
  readonly optimizer: AdamW;
  readonly dtype: 'f32' | 'f16';
  /** The loss scaler of an f16 model; null in f32. */
  readonly scaler: GradScaler | null;

  constructor(cfg: ModelConfig, opts: IJepaOptions = {}) {
    validateModelConfig(cfg, 'IJepa');
    this.dtype = opts.dtype ?? 'f32';
    if (this.dtype === 'f16' && !getBackend().hasF16) {
      throw new Error(`IJepa: dtype 'f16' needs a device with the shader-f16 feature, which this ${getBackend().name} device lacks; use dtype 'f32'`);
    }
    if (this.dtype === 'f32' && (opts.lossScale !== undefined || opts.lossScaleInterval !== undefined)) {
      throw new Error(`IJepa: lossScale and lossScaleInterval apply to dtype 'f16' only (dtype is 'f32')`);
    }
    this.scaler = this.dtype === 'f16'
      ? new GradScaler({ ...(opts.lossScale !== undefined ? { initScale: opts.lossScale } : {}),
        ...(opts.lossScaleInterval !== undefined ? { growthInterval: opts.lossScaleInterval } : {}) })
      : null;
    this.config = { ...cfg };
    this.target = opts.target ?? 'features';
    const g = opts.seed instanceof Generator ? opts.seed : new Generator(opts.seed ?? 0);
    const G = cfg.imgSize / cfg.patchSize;
    this.encoder = new VisionTransformer(cfg, g);
    const outDim = this.target === 'pixels' ? cfg.chans * cfg.patchSize * cfg.patchSize : cfg.dim;
    this.predictor = new VisionTransformerPredictor({
      G,
      dim: cfg.dim,
      predDim: cfg.predDim,
      predDepth: cfg.predDepth,
      heads: cfg.heads,
      mlpRatio: cfg.mlpRatio,
      outDim,
    }, g);
    if (this.target === 'features') {
      // Its own init draws are overwritten at once; a separate stream keeps `g` unaffected.
      this.target_encoder = new VisionTransformer(cfg, new Generator(0));
      for (const [, t] of this.target_encoder.namedTensors()) t.requiresGrad = false;
      this.syncTargetEncoder();
    } else {
      this.target_encoder = null;
    }
    const enc = this.encoder.namedParameters(), pred = this.predictor.namedParameters();
    const groups: ParamGroup[] = [
      { name: 'encoder/decayed', params: enc.filter(([n, t]) => isDecayed(n, t)).map(([, t]) => t) },
      { name: 'predictor/decayed', params: pred.filter(([n, t]) => isDecayed(n, t)).map(([, t]) => t) },
      { name: 'encoder/no-decay', params: enc.filter(([n, t]) => !isDecayed(n, t)).map(([, t]) => t), weightDecay: 0 },
      { name: 'predictor/no-decay', params: pred.filter(([n, t]) => !isDecayed(n, t)).map(([, t]) => t), weightDecay: 0 },
    ];
    for (const [n, t] of [...enc.map(([n, t]) => [`encoder.${n}`, t] as const), ...pred.map(([n, t]) => [`predictor.${n}`, t] as const)]) t.name = n;
    this.optimizer = new AdamW(groups);
  }

  /** Make the target encoder an exact copy of the encoder (at init, and after loading weights). */
  syncTargetEncoder(): void {
    if (!this.target_encoder) return;
    const src = this.encoder.namedTensors();
    const dst = this.target_encoder.namedTensors();
    noGrad(() => {
      dst.forEach(([name, t], i) => {
        const [srcName, s] = src[i]!;
        if (srcName !== name) throw new Error(`syncTargetEncoder: internal: target ${name} faces encoder ${srcName}`);
        const c = copy(s); // a storage of its own: the fused AdamW and EMA update parameters in place
        t.assign(c);
        c.dispose();
      });
    });
  }

  /**
   * One training step (see the file header). `imgs` is [B, C, H, W] (a tensor, or host values in
   * that layout). Returns the loss tensor at once, without waiting for the GPU. f32 only: an f16
   * step must read its overflow check before updating, which `stepAsync` does.
   */
  step(imgs: Float32Array | Tensor, masks: StepMasks, hyper: StepHyper, opts: { capture?: boolean; } = {}): StepResult {
    if (this.dtype === 'f16') {
      throw new Error(
        "IJepa.step: dtype 'f16' needs stepAsync (the loss scaler reads the gradients' overflow check back before it lets the update run)",
      );
    }
    const capture = opts.capture ?? false;
    checkHyper(hyper);
    return tidy(() => {
      const r = this.forward(imgs, masks);
      r.loss.backward();
      this.update(hyper, 1);
      if (!capture) {
        this.optimizer.zeroGrad();
        return { loss: r.loss };
      }
      const grads = new Map<string, Tensor>();
      for (const [net, m] of [['encoder', this.encoder], ['predictor', this.predictor]] as const) {
        for (const [name, p] of m.namedParameters()) {
          if (p.grad) grads.set(`${net}/${name}`, p.grad);
          p.grad = null; // ownership moves to the caller
        }
      }
      return { ...r, grads };
    });
  }

  /**
   * One training step that reads its loss (and, in f16, the overflow check) back before it
   * returns; in f16 an overflowed step leaves every parameter, moment and the target encoder as
   * they were and halves the loss scale. Any dtype; f32 gives the same update as `step`.
   */
  async stepAsync(imgs: Float32Array | Tensor, masks: StepMasks, hyper: StepHyper): Promise<AsyncStepResult> {
    checkHyper(hyper);
    const S = this.scaler?.scale ?? 1;
    const { loss, check } = tidy(() => {
      const { loss } = this.forward(imgs, masks);
      (S === 1 ? loss : loss.mul(S)).backward();
      const grads = this.optimizer.groups.flatMap((g) => g.params.map((p) => p.grad).filter((x): x is Tensor => x !== null));
      return { loss, check: this.scaler?.check(grads) ?? null };
    });
    let value: number, nonFinite: number;
    try {
      [value, nonFinite] = await Promise.all([loss.item(), check ? check.item() : 0]);
    } catch (e) {
      this.optimizer.zeroGrad();
      throw e;
    } finally {
      loss.dispose();
      check?.dispose();
    }
    const { skipped, grown } = this.scaler?.update(nonFinite) ?? { skipped: false, grown: false };
    if (!skipped) tidy(() => this.update(hyper, 1 / S));
    this.optimizer.zeroGrad();
    return { loss: value, skipped, lossScale: this.scaler ? S : null, scaleGrown: grown };
  }

  /** The f32 loss and what `capture` returns; every net runs on f16 copies in an f16 model. */
  private forward(imgs: Float32Array | Tensor, masks: StepMasks): { loss: Tensor; context: Tensor; target: Tensor; prediction: Tensor; } {
    const x = this.imageTensor(imgs); // [B, C, H, W]
    const B = x.shape[0]!;
    const { enc, pred } = maskTensors(masks, B);
    const nenc = enc.length;
    const run = () => {
      const xs = x.cast(this.dtype);
      const target = noGrad(() => this.targets(xs, pred, nenc)); // [npred·nenc·B, Kt, D]
      const context = this.encoder.forward(xs, enc); // [nenc·B, Kc, D]
      const prediction = this.predictor.forward(context, enc, pred); // [npred·nenc·B, Kt, D]
      // cast() of an f32 tensor is the tensor itself; f16 outputs meet in an f32 loss
      const loss = smoothL1(prediction.cast('f32'), target.cast('f32')); // []
      return { loss, context, target, prediction };
    };
    return this.dtype === 'f16' ? withHalfWeights(this.modules().map(([, m]) => m), run) : run();
  }

  /** AdamW (gradients multiplied by invScale first), then the EMA of the target encoder. */
  private update(hyper: StepHyper, invScale: number): void {
    this.optimizer.step({ lr: hyper.lr, wd: hyper.wd, invScale });
    if (this.target_encoder) {
      emaUpdate(trainableTwins(this.target_encoder, this.encoder), this.encoder.parameters(), hyper.momentum);
    }
  }

  /** Regression targets, [npred·nenc·B, Kt, D] (features) or [.., C·p·p] (pixels). */
  private targets(x: Tensor, pred: readonly Tensor[], nenc: number): Tensor {
    const B = x.shape[0]!;
    const full = this.target_encoder
      ? layerNorm(this.target_encoder.forward(x), null, null, 1e-5) // [B, N, D]
      : normPixels(patchify(x, this.config.patchSize)); // [B, N, C·p·p]
    return repeatInterleaveBatch(applyMasks(full, pred), B, nenc);
  }

  private imageTensor(imgs: Float32Array | Tensor): Tensor {
    const { chans: C, imgSize: S } = this.config;
    if (imgs instanceof Tensor) return imgs;
    const per = C * S * S;
    if (imgs.length === 0 || imgs.length % per !== 0) {
      throw new ShapeError('IJepa.step', 'imgs', [[imgs.length]], `${imgs.length} values are not a whole number of [${C}, ${S}, ${S}] images`);
    }
    return fromArray(imgs, [imgs.length / per, C, S, S]);
  }

  /** Every module's state dict under its official name (docs/ijepa-step.md §4.6, without `module.`). */
  modules(): [string, Module][] {
    const out: [string, Module][] = [['encoder', this.encoder], ['predictor', this.predictor]];
    if (this.target_encoder) out.push(['target_encoder', this.target_encoder]);
    return out;
  }

  dispose(): void {
    this.optimizer.dispose();
    for (const [, m] of this.modules()) m.dispose();
  }
}

/**
 * Refuse a non-finite lr, wd or momentum before the step does any work. AdamW checks its own
 * arguments too, but only after the forward and backward, and the EMA runs after AdamW: checked
 * here, a bad value never leaves gradients behind or a half-applied update.
 */
function checkHyper(hyper: StepHyper): void {
  for (const k of ['lr', 'wd', 'momentum'] as const) {
    if (!Number.isFinite(hyper[k])) throw new RangeError(`IJepa.step: ${k} ${hyper[k]} must be a finite number`);
  }
}

/**
 * MAE's norm_pix_loss target (He et al. 2022, models_mae.py): each patch vector standardised
 * over its C·p·p values, (x − mean) / sqrt(var + 1e-6) with torch.var's unbiased variance.
 */
function normPixels(patches: Tensor): Tensor {
  const mean = patches.mean(-1, true); // [B, N, 1]
  const std = patches.var(-1, true, 1).add(1e-6).sqrt(); // [B, N, 1]
  return patches.sub(mean).div(std); // [B, N, C·p·p]
}

/** The target encoder's tensors paired with the encoder's trainable ones, in parameter order. */
function trainableTwins(target: VisionTransformer, encoder: VisionTransformer): Tensor[] {
  const byName = new Map(target.namedTensors());
  return encoder.namedParameters().map(([n]) => byName.get(n)!);
}

function maskTensors(masks: StepMasks, B: number): { enc: Tensor[]; pred: Tensor[]; } {
  const list = 'encMasks' in masks
    ? {
      enc: masks.encMasks.map((m) => fromArray(m, [masks.B, masks.Le])),
      pred: masks.predMasks.map((m) => fromArray(m, [masks.B, masks.Lp])),
    }
    : { enc: [...masks.enc], pred: [...masks.pred] };
  if (list.enc.length === 0 || list.pred.length === 0) {
    throw new ShapeError('IJepa.step', 'masks', [],
      `needs at least one context and one target mask (got ${list.enc.length} and ${list.pred.length})`);
  }
  for (const [what, l] of [['enc', list.enc], ['pred', list.pred]] as const) {
    l.forEach((m, i) => {
      if (m.rank !== 2 || m.shape[0] !== B) {
        throw new ShapeError('IJepa.step', `masks.${what}[${i}]`, [m.shape], `masks.${what}[${i}] ${fmt(m.shape)} must be [B = ${B}, K]`);
      }
    });
  }
  return list;
}
