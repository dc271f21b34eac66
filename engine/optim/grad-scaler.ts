// grad-scaler: dynamic loss scaling for mixed-precision training, as PyTorch's GradScaler
// (torch.cuda.amp; Micikevicius et al. 2018, "Mixed Precision Training"). The loss is
// multiplied by S before backward, so that small gradients stay above f16's subnormal range;
// the optimizer divides the f32 gradients by S again (AdamW.step's invScale, in its own
// launches). A step whose gradients hold NaN or ±Inf (an f16 value overflowed: S is too large)
// is skipped and S halves; after `growthInterval` clean steps in a row S doubles. Defaults are
// torch's: S₀ = 2^16, growth ×2, backoff ×0.5, interval 2000.
// This is the bookkeeping and the check's launch; the caller reads the check back with the
// loss and decides. It is not an optimizer wrapper: the caller runs the step it allows.
import { nonFiniteCount } from './fused-updates.ts';
import type { Tensor } from '../tensor.ts';

/** How a GradScaler starts: its scale and growth interval (torch's defaults otherwise). */
export interface GradScalerOptions {
  /** S at the start (default 2^16). */
  initScale?: number;
  /** Clean steps in a row before S doubles (default 2000). */
  growthInterval?: number;
}

/** What a checkpoint keeps to resume the scaler exactly. */
export interface GradScalerState {
  scale: number;
  cleanSteps: number;
}

const GROWTH = 2;
const BACKOFF = 0.5;

/** Dynamic loss scaling (torch's GradScaler): S, the overflow check, and the halve-or-grow bookkeeping; see the file header. */
export class GradScaler {
  /** The current loss scale S. */
  scale: number;
  readonly growthInterval: number;
  /** Clean steps since the last growth or overflow (torch's growth tracker). */
  private cleanSteps = 0;

  constructor(opts: GradScalerOptions = {}) {
    this.scale = opts.initScale ?? 2 ** 16;
    this.growthInterval = opts.growthInterval ?? 2000;
    checkScale('GradScaler', 'initScale', this.scale);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) {
      throw new RangeError(`GradScaler: growthInterval ${this.growthInterval} must be an integer ≥ 1`);
    }
  }

  /** The overflow check, recorded now: how many gradient values are NaN/±Inf (i32 [1]). */
  check(grads: readonly Tensor[]): Tensor {
    return nonFiniteCount(grads);
  }

  /**
   * Account for one step whose check read `nonFinite`: an overflow skips the update and halves
   * S; otherwise the step counts as clean and the `growthInterval`-th clean step doubles S.
   */
  update(nonFinite: number): { skipped: boolean; grown: boolean; } {
    if (nonFinite > 0) {
      this.scale *= BACKOFF;
      this.cleanSteps = 0;
      return { skipped: true, grown: false };
    }
    if (++this.cleanSteps < this.growthInterval) return { skipped: false, grown: false };
    this.scale *= GROWTH;
    this.cleanSteps = 0;
    return { skipped: false, grown: true };
  }

  state(): GradScalerState {
    return { scale: this.scale, cleanSteps: this.cleanSteps };
  }

  /** Restore a saved state; `source` names where it came from in errors. */
  loadState(s: GradScalerState, source = 'state'): void {
    checkScale('GradScaler.loadState', `${source}: scale`, s.scale);
    if (!Number.isInteger(s.cleanSteps) || s.cleanSteps < 0 || s.cleanSteps >= this.growthInterval) {
      throw new RangeError(`GradScaler.loadState: ${source}: cleanSteps ${s.cleanSteps} must be an integer in 0..${this.growthInterval - 1}`);
    }
    this.scale = s.scale;
    this.cleanSteps = s.cleanSteps;
  }
}

function checkScale(op: string, what: string, s: unknown): void {
  if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) throw new RangeError(`${op}: ${what} ${String(s)} must be a finite number > 0`);
}
