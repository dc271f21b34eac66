// adamw: AdamW (Loshchilov & Hutter 2019) with PyTorch's update order and defaults, in
// composed ops (the fused single-dispatch kernel is checked against this):
//   θ ← θ·(1 − lr·wd)                                  decoupled decay first
//   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
//   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)    t counts this parameter's steps
// Parameters without a gradient are skipped (and their step count does not advance), as torch.
// Groups carry their own weight decay (and optionally lr), set before each step by schedules; a
// group without one takes the optimizer's (default 0.01, PyTorch's), filled in at construction
// as torch's add_param_group does.
// Under a loss scale S (optim/grad-scaler.ts) `step({ invScale: 1/S })` multiplies each gradient
// by 1/S first, inside the same launches.
// By default fused launches (fused-updates.ts `adamwUpdateMany`) update θ, m and v in place, several
// parameters per launch; `fused: false` runs the composed ops below, which swap in new storage.
import { zeros } from '../creation.ts';
import { adamwUpdateMany, type AdamwItem } from './fused-updates.ts';
import { add, div, mul, sqrt } from '../ops/table.ts';
import { keep, noGrad, tidy } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

/** Parameters that share a weight decay (default: the optimizer's) and optionally an lr; `name` labels errors and logs. */
export interface ParamGroup { params: Tensor[]; weightDecay?: number; lr?: number; name?: string }
/** A group after construction: its weight decay filled in. */
export type AdamWGroup = ParamGroup & { weightDecay: number };
/** AdamW's hyper-parameters; `lr` and `weightDecay` apply to groups that set none of their own. */
export interface AdamWOptions {
  lr: number;
  /** Decoupled weight decay for groups without their own (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  /** In-place kernel launches, several parameters each (default true); false: the composed ops. */
  fused?: boolean;
}

interface State { m: Tensor; v: Tensor; step: number }

/** AdamW with PyTorch's update order and defaults (see the file header for the update). */
export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly fused: boolean;
  readonly groups: AdamWGroup[];
  private readonly state = new Map<Tensor, State>();

  constructor(groups: ParamGroup[], opts: AdamWOptions) {
    const wd = opts.weightDecay ?? 0.01;
    for (const g of groups) g.weightDecay ??= wd;
    this.groups = groups as AdamWGroup[];
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.fused = opts.fused ?? true;
    const seen = new Set<Tensor>();
    for (const g of groups) for (const p of g.params) {
      if (seen.has(p)) throw new Error(`AdamW: parameter ${p.name ?? p.id} appears in two groups`);
      seen.add(p);
    }
  }

  /** One update from the current gradients; `invScale` multiplies them first (1/S under a loss scale S). */
  step(opts: { invScale?: number } = {}): void {
    const invScale = opts.invScale ?? 1;
    if (!(invScale > 0 && Number.isFinite(invScale))) throw new RangeError(`AdamW.step: invScale ${invScale} must be a finite number > 0`);
    const [b1, b2] = this.betas;
    noGrad(() => tidy(() => {
      const fused: AdamwItem[] = [];
      for (const [i, group] of this.groups.entries()) {
        const lr = group.lr ?? this.lr;
        // a plain-JS caller can set anything; a non-number would turn every weight to NaN
        for (const [key, v] of [['lr', lr], ['weightDecay', group.weightDecay]] as const) {
          if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`AdamW: group ${group.name ?? i} has ${key} ${String(v)}, expected a finite number`);
        }
        for (const p of group.params) {
          if (!p.grad) continue;
          const s = this.stateOf(p);
          s.step++;
          if (this.fused) {
            fused.push({ p, g: p.grad, m: s.m, v: s.v, o: { lr, wd: group.weightDecay, b1, b2, eps: this.eps, step: s.step, invScale } });
            continue;
          }
          const g = invScale !== 1 ? mul(p.grad, invScale) : p.grad;
          const decayed = group.weightDecay !== 0 ? mul(p, 1 - lr * group.weightDecay) : p;
          s.m.assign(add(mul(s.m, b1), mul(g, 1 - b1)));
          s.v.assign(add(mul(s.v, b2), mul(mul(g, g), 1 - b2)));
          const stepSize = lr / (1 - b1 ** s.step);
          const denom = add(div(sqrt(s.v), Math.sqrt(1 - b2 ** s.step)), this.eps);
          p.assign(add(decayed, mul(div(s.m, denom), -stepSize)));
        }
      }
      adamwUpdateMany(fused);
    }));
  }

  /** Dispose every gradient (they are recreated by the next backward). */
  zeroGrad(): void {
    for (const group of this.groups) for (const p of group.params) { p.grad?.dispose(); p.grad = null; }
  }

  private stateOf(p: Tensor): State {
    let s = this.state.get(p);
    if (!s) {
      s = { m: keep(zeros(p.shape, { backend: p.backend })), v: keep(zeros(p.shape, { backend: p.backend })), step: 0 };
      this.state.set(p, s);
    }
    return s;
  }

  /** Moments and step counts by parameter (for checkpoints); absent before a param's first step. */
  stateFor(p: Tensor): Readonly<State> | undefined { return this.state.get(p); }

  /** Restore a parameter's moments (copied) and step count. */
  loadState(p: Tensor, m: Tensor, v: Tensor, step: number): void {
    const s = this.stateOf(p);
    s.m.assign(m);
    s.v.assign(v);
    s.step = step;
  }

  dispose(): void {
    this.zeroGrad();
    for (const s of this.state.values()) { s.m.dispose(); s.v.dispose(); }
    this.state.clear();
  }
}
