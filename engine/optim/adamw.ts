// adamw: AdamW (Loshchilov & Hutter 2019) with PyTorch's update order and defaults, in
// composed ops (the fused single-dispatch kernel is checked against this):
//   θ ← θ·(1 − lr·wd)                                  decoupled decay first
//   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
//   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)    t counts this parameter's steps
// Parameters without a gradient are skipped (and their step count does not advance), as torch.
// The values a schedule moves, lr and weight decay, are arguments of each step:
// `step({ lr, wd })`. A group may fix a weight decay of its own (0 for the groups that are never
// decayed); the others take the step's `wd` (default 0.01, PyTorch's). `lr` is one number for
// every group, or one per group.
// Under a loss scale S (optim/grad-scaler.ts) `step({ lr, invScale: 1/S })` multiplies each
// gradient by 1/S first, inside the same launches.
// By default fused launches (fused-updates.ts `adamwUpdateMany`) update θ, m and v in place, several
// parameters per launch; `fused: false` runs the composed ops below, which swap in new storage.
import { zeros } from '../creation.ts';
import { adamwUpdateMany, type AdamwItem } from './fused-updates.ts';
import { add, div, mul, sqrt } from '../ops/table.ts';
import { keep, noGrad, tidy } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

/** Parameters updated alike; `weightDecay` fixes the group's own (else each step's `wd`); `name` labels errors and logs. */
export interface ParamGroup {
  params: Tensor[];
  weightDecay?: number;
  name?: string;
}
/** AdamW's fixed hyper-parameters; what a schedule moves (lr, weight decay) is given to each `step`. */
export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  /** In-place kernel launches, several parameters each (default true); false: the composed ops. */
  fused?: boolean;
}
/** One AdamW step's hyper-parameters. */
export interface AdamWStep {
  /** The learning rate of every group, or one per group in group order. */
  lr: number | readonly number[];
  /** Decoupled weight decay of the groups without a weightDecay of their own (default 0.01, as torch.optim.AdamW). */
  wd?: number;
  /** Multiplies every gradient first: 1/S under a loss scale S (default 1). */
  invScale?: number;
}

interface State {
  m: Tensor;
  v: Tensor;
  step: number;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** AdamW with PyTorch's update order and defaults (see the file header for the update). */
export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  readonly fused: boolean;
  readonly groups: readonly ParamGroup[];
  private readonly state = new Map<Tensor, State>();

  constructor(groups: ParamGroup[], opts: AdamWOptions = {}) {
    this.groups = groups;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.fused = opts.fused ?? true;
    const seen = new Set<Tensor>();
    for (const [i, g] of groups.entries()) {
      // a plain-JS caller can set anything; a non-number would turn every weight to NaN
      if (g.weightDecay !== undefined && !finite(g.weightDecay)) {
        throw new Error(`AdamW: group ${g.name ?? i} has weightDecay ${String(g.weightDecay)}, expected a finite number`);
      }
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`AdamW: parameter ${p.name ?? p.id} appears in two groups`);
        seen.add(p);
      }
    }
  }

  /** One update from the current gradients with this step's lr and weight decay (see AdamWStep). */
  step(hyper: AdamWStep): void {
    const lrs = typeof hyper.lr === 'number' ? this.groups.map(() => hyper.lr as number) : hyper.lr;
    if (lrs.length !== this.groups.length) throw new Error(`AdamW.step: ${lrs.length} learning rates for ${this.groups.length} groups`);
    const wd = hyper.wd ?? 0.01;
    const invScale = hyper.invScale ?? 1;
    const bad = lrs.findIndex((x) => !finite(x));
    if (bad >= 0) {
      throw new RangeError(
        `AdamW.step: lr ${String(lrs[bad])}${
          typeof hyper.lr === 'number' ? '' : ` (group ${this.groups[bad]!.name ?? bad})`
        } must be a finite number`,
      );
    }
    if (!finite(wd)) throw new RangeError(`AdamW.step: wd ${String(wd)} must be a finite number`);
    if (!(invScale > 0 && Number.isFinite(invScale))) throw new RangeError(`AdamW.step: invScale ${invScale} must be a finite number > 0`);
    const [b1, b2] = this.betas;
    noGrad(() =>
      tidy(() => {
        const fused: AdamwItem[] = [];
        for (const [i, group] of this.groups.entries()) {
          const lr = lrs[i]!, decay = group.weightDecay ?? wd;
          for (const p of group.params) {
            if (!p.grad) continue;
            const s = this.stateOf(p);
            s.step++;
            if (this.fused) {
              fused.push({ p, g: p.grad, m: s.m, v: s.v, o: { lr, wd: decay, step: s.step } });
              continue;
            }
            const g = invScale !== 1 ? mul(p.grad, invScale) : p.grad;
            const decayed = decay !== 0 ? mul(p, 1 - lr * decay) : p;
            s.m.assign(add(mul(s.m, b1), mul(g, 1 - b1)));
            s.v.assign(add(mul(s.v, b2), mul(mul(g, g), 1 - b2)));
            const stepSize = lr / (1 - b1 ** s.step);
            const denom = add(div(sqrt(s.v), Math.sqrt(1 - b2 ** s.step)), this.eps);
            p.assign(add(decayed, mul(div(s.m, denom), -stepSize)));
          }
        }
        adamwUpdateMany(fused, { b1, b2, eps: this.eps, invScale });
      })
    );
  }

  /** Dispose every gradient (they are recreated by the next backward). */
  zeroGrad(): void {
    for (const group of this.groups) {
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
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
  stateFor(p: Tensor): Readonly<State> | undefined {
    return this.state.get(p);
  }

  /** Restore a parameter's moments (copied) and step count. */
  loadState(p: Tensor, m: Tensor, v: Tensor, step: number): void {
    const s = this.stateOf(p);
    s.m.assign(m);
    s.v.assign(v);
    s.step = step;
  }

  dispose(): void {
    this.zeroGrad();
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.state.clear();
  }
}
