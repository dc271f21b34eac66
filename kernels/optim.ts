// optim launchers (see optim.wgsl.ts) and their float64 twins, which compute exactly what the
// composed versions compute on the CPU reference backend, in the same order.
import { ADAMW_WGSL, EMA_WGSL } from './optim.wgsl.ts';
import { grid, need, type KernelSource } from './kernel-source.ts';

export interface OptimLaunch { source: KernelSource; uniforms: ArrayBuffer; workgroups: [number, number, number] }

/** One AdamW step; `step` is t, this parameter's step count including this one (t ≥ 1). */
export interface AdamwParams { n: number; lr: number; wd: number; b1: number; b2: number; eps: number; step: number }

const WG = 256;
const ADAMW: KernelSource = { name: 'adamw', wgsl: ADAMW_WGSL, overrides: { WG } };
const EMA: KernelSource = { name: 'ema', wgsl: EMA_WGSL, overrides: { WG } };

/** The host-side constants, in f64; the kernel gets them rounded to f32, as the composed ops do. */
function adamwConstants(p: AdamwParams) {
  return {
    decay: p.wd !== 0 ? 1 - p.lr * p.wd : 1,
    b1: p.b1, oneMinusB1: 1 - p.b1, b2: p.b2, oneMinusB2: 1 - p.b2,
    bc2Sqrt: Math.sqrt(1 - p.b2 ** p.step),
    eps: p.eps,
    negStep: -(p.lr / (1 - p.b1 ** p.step)),
  };
}

function checkAdamw(p: AdamwParams): void {
  need('adamw', Number.isInteger(p.step) && p.step >= 1, `step ${p.step} must be an integer ≥ 1 (the count including this step)`);
  need('adamw', p.n >= 0 && p.n < 2 ** 31, `${p.n} elements`);
}

/** Bindings: theta (in place), grad, m (in place), v (in place). */
export function adamw(p: AdamwParams): OptimLaunch {
  checkAdamw(p);
  const c = adamwConstants(p);
  const buf = new ArrayBuffer(48);
  new Uint32Array(buf)[0] = p.n;
  new Float32Array(buf).set([c.decay, c.b1, c.oneMinusB1, c.b2, c.oneMinusB2, c.bc2Sqrt, c.eps, c.negStep], 1);
  const [x, y] = grid(p.n, WG);
  return { source: ADAMW, uniforms: buf, workgroups: [x, y, 1] };
}

/** Bindings: target (in place), source. */
export function ema(p: { n: number; momentum: number }): OptimLaunch {
  need('ema', p.n >= 0 && p.n < 2 ** 31, `${p.n} elements`);
  const buf = new ArrayBuffer(16);
  new Uint32Array(buf)[0] = p.n;
  new Float32Array(buf).set([p.momentum, 1 - p.momentum], 1);
  const [x, y] = grid(p.n, WG);
  return { source: EMA, uniforms: buf, workgroups: [x, y, 1] };
}

// ---- float64 twins ------------------------------------------------------------------------------

/** [theta, grad, m, v] as in adamw. */
export function adamwRef(a: readonly Float64Array[], p: AdamwParams): void {
  checkAdamw(p);
  const [theta, grad, m, v] = a as [Float64Array, Float64Array, Float64Array, Float64Array];
  const c = adamwConstants(p);
  for (let i = 0; i < p.n; i++) {
    const g = grad[i]!;
    const decayed = p.wd !== 0 ? theta[i]! * c.decay : theta[i]!;
    const mi = m[i]! * c.b1 + g * c.oneMinusB1;
    const vi = v[i]! * c.b2 + (g * g) * c.oneMinusB2;
    m[i] = mi;
    v[i] = vi;
    const denom = Math.sqrt(vi) / c.bc2Sqrt + c.eps;
    theta[i] = decayed + (mi / denom) * c.negStep;
  }
}

/** [target, source] as in ema. */
export function emaRef(a: readonly Float64Array[], p: { n: number; momentum: number }): void {
  const [target, source] = a as [Float64Array, Float64Array];
  for (let i = 0; i < p.n; i++) target[i] = target[i]! * p.momentum + source[i]! * (1 - p.momentum);
}
