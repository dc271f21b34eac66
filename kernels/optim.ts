// optim launchers (see optim.wgsl.ts) and their float64 twins, which compute exactly what the
// composed versions compute on the CPU reference backend, in the same order.
import { adamwWgsl, emaWgsl, nonFiniteWgsl } from './optim.wgsl.ts';
import { cached, grid, need, type KernelSource, type Launch } from './kernel-source.ts';

/** One tensor's AdamW step; `step` is t, its step count including this one (t ≥ 1). */
export interface AdamwSegment {
  n: number;
  lr: number;
  wd: number;
  step: number;
}
export interface AdamwShared {
  b1: number;
  b2: number;
  eps: number;
  /** Multiplies every gradient first: 1/S under a loss scale S (default 1, which changes no bit). */
  invScale?: number;
}

const WG = 256;
/** Most tensors one launch updates (each is one more branch in the kernel text). */
export const MAX_SEGMENTS = 8;

const sources = new Map<string, KernelSource>();
const WGSL = { adamw: adamwWgsl, ema: emaWgsl, nonFinite: nonFiniteWgsl };
function source(kind: keyof typeof WGSL, K: number): KernelSource {
  const name = `${kind}_x${K}`;
  return cached(sources, name, () => ({ name, wgsl: WGSL[kind](K), overrides: { WG } }));
}

/** Segment starts (multiples of WG, so no workgroup straddles two tensors) and the invocations in all. */
function layout(ns: readonly number[]): { starts: number[]; total: number; } {
  const starts: number[] = [];
  let at = 0;
  for (const n of ns) {
    starts.push(at);
    at += Math.ceil(n / WG) * WG;
  }
  return { starts, total: at };
}

function checkSegments(op: string, ns: readonly number[]): void {
  need(op, ns.length >= 1 && ns.length <= MAX_SEGMENTS, `${ns.length} tensors per launch (1..${MAX_SEGMENTS})`);
  need(op, ns.every((n) => n >= 1 && n < 2 ** 31), `tensor sizes ${ns.join(', ')}: each must be 1..2^31`);
  need(op, layout(ns).total < 2 ** 31, `${ns.reduce((a, b) => a + b, 0)} elements in one launch`);
}

/** The host-side constants of one segment, in f64; the kernel gets them rounded to f32, as the composed ops do. */
function adamwConstants(s: AdamwSegment, c: AdamwShared) {
  need('adamw', Number.isInteger(s.step) && s.step >= 1, `step ${s.step} must be an integer ≥ 1 (the count including this step)`);
  return {
    decay: s.wd !== 0 ? 1 - s.lr * s.wd : 1,
    bc2Sqrt: Math.sqrt(1 - c.b2 ** s.step),
    negStep: -(s.lr / (1 - c.b1 ** s.step)),
  };
}

/** AdamW on segs.length tensors; bindings: theta, grad, m, v of each in turn. */
export function adamw(segs: readonly AdamwSegment[], c: AdamwShared): Launch {
  checkSegments('adamw', segs.map((s) => s.n));
  const { starts, total } = layout(segs.map((s) => s.n));
  const buf = new ArrayBuffer(32 + 32 * segs.length);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  f.set([c.b1, 1 - c.b1, c.b2, 1 - c.b2, c.eps, c.invScale ?? 1]);
  segs.forEach((s, k) => {
    const k0 = adamwConstants(s, c);
    u.set([starts[k]!, s.n], 8 + 8 * k);
    f.set([k0.decay, k0.bc2Sqrt, k0.negStep], 10 + 8 * k);
  });
  const [x, y] = grid(total, WG);
  return { source: source('adamw', segs.length), uniforms: buf, workgroups: [x, y, 1] };
}

/** EMA on ns.length tensor pairs; bindings: target (in place), source of each in turn. */
export function ema(ns: readonly number[], momentum: number): Launch {
  checkSegments('ema', ns);
  const { starts, total } = layout(ns);
  const buf = new ArrayBuffer(16 + 16 * ns.length);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  f.set([momentum, 1 - momentum]);
  ns.forEach((n, k) => u.set([starts[k]!, n], 4 + 4 * k));
  const [x, y] = grid(total, WG);
  return { source: source('ema', ns.length), uniforms: buf, workgroups: [x, y, 1] };
}

/** Non-finite count over ns.length f32 tensors, added into a u32 counter; bindings: each tensor, then the counter. */
export function nonFinite(ns: readonly number[]): Launch {
  checkSegments('nonFinite', ns);
  const { starts, total } = layout(ns);
  const u = new Uint32Array(4 * ns.length);
  ns.forEach((n, k) => u.set([starts[k]!, n], 4 * k));
  const [x, y] = grid(total, WG);
  return { source: source('nonFinite', ns.length), uniforms: u.buffer, workgroups: [x, y, 1] };
}

// ---- float64 twins ------------------------------------------------------------------------------

/** [theta, grad, m, v] of each segment in turn, as in adamw. */
export function adamwRef(a: readonly Float64Array[], segs: readonly AdamwSegment[], c: AdamwShared): void {
  segs.forEach((s, k) => {
    const [theta, grad, m, v] = a.slice(4 * k, 4 * k + 4) as [Float64Array, Float64Array, Float64Array, Float64Array];
    const k0 = adamwConstants(s, c);
    const invScale = c.invScale ?? 1;
    for (let i = 0; i < s.n; i++) {
      const g = grad[i]! * invScale;
      const decayed = s.wd !== 0 ? theta[i]! * k0.decay : theta[i]!;
      const mi = m[i]! * c.b1 + g * (1 - c.b1);
      const vi = v[i]! * c.b2 + (g * g) * (1 - c.b2);
      m[i] = mi;
      v[i] = vi;
      const denom = Math.sqrt(vi) / k0.bc2Sqrt + c.eps;
      theta[i] = decayed + (mi / denom) * k0.negStep;
    }
  });
}

/** [target, source] of each segment in turn, as in ema. */
export function emaRef(a: readonly Float64Array[], ns: readonly number[], momentum: number): void {
  ns.forEach((n, k) => {
    const [target, src] = [a[2 * k]!, a[2 * k + 1]!];
    for (let i = 0; i < n; i++) target[i] = target[i]! * momentum + src[i]! * (1 - momentum);
  });
}

/** Each tensor of ns in turn, then the counter [1], as in nonFinite. */
export function nonFiniteRef(a: readonly Float64Array[], ns: readonly number[]): void {
  const count = a[ns.length]!;
  ns.forEach((n, k) => {
    for (let i = 0; i < n; i++) if (!Number.isFinite(a[k]![i]!)) count[0] = count[0]! + 1;
  });
}
