// optim: in-place parameter updates, one invocation per element, one launch per tensor.
//   adamw  PyTorch's AdamW (torch.optim.AdamW, single-tensor path), in the order of the
//          composed version in engine/optim/adamw.ts, operation for operation, with the same
//          f32 constants, so the two agree bit for bit (on lavapipe: every element of θ, m and
//          v after 3 steps); a compiler that fuses a multiply-add into an fma may move an ulp:
//            θ ← θ·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//            θ ← θ + (m / (√v / √(1 − β2ᵗ) + ε)) · (−lr / (1 − β1ᵗ))
//   ema    θ̄ ← m·θ̄ + (1 − m)·θ
// The bias corrections depend only on the step count, so the host folds them into uniforms.
import { LINEAR_ID, MAIN_1D } from './kernel-source.ts';

export const ADAMW_WGSL = /* wgsl */ `
struct Params {
  n: u32,             // elements
  decay: f32,         // 1 − lr·wd (exactly 1 without decay)
  b1: f32,            // β1
  one_minus_b1: f32,  // 1 − β1
  b2: f32,            // β2
  one_minus_b2: f32,  // 1 − β2
  bc2_sqrt: f32,      // √(1 − β2ᵗ)
  eps: f32,           // ε
  neg_step: f32,      // −lr / (1 − β1ᵗ)
  pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> theta: array<f32>;   // [n] parameter, updated
@group(0) @binding(2) var<storage, read> grad: array<f32>;          // [n]
@group(0) @binding(3) var<storage, read_write> m: array<f32>;       // [n] first moment, updated
@group(0) @binding(4) var<storage, read_write> v: array<f32>;       // [n] second moment, updated
override WG: u32 = 256;
${LINEAR_ID}

${MAIN_1D()}
  if (i >= p.n) { return; }
  let g = grad[i];
  let decayed = theta[i] * p.decay;
  let mi = m[i] * p.b1 + g * p.one_minus_b1;
  let vi = v[i] * p.b2 + (g * g) * p.one_minus_b2;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / p.bc2_sqrt + p.eps;
  theta[i] = decayed + (mi / denom) * p.neg_step;
}
`;

export const EMA_WGSL = /* wgsl */ `
struct Params {
  n: u32,             // elements
  m: f32,             // momentum
  one_minus_m: f32,   // 1 − momentum
  pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> avg: array<f32>;      // [n] θ̄, updated
@group(0) @binding(2) var<storage, read> theta: array<f32>;          // [n] θ
override WG: u32 = 256;
${LINEAR_ID}

${MAIN_1D()}
  if (i >= p.n) { return; }
  avg[i] = avg[i] * p.m + theta[i] * p.one_minus_m;
}
`;
