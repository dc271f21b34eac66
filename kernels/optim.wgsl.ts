// optim: in-place parameter updates for several tensors per launch, one invocation per element.
//   adamw  PyTorch's AdamW (torch.optim.AdamW, single-tensor path), in the order of the
//          composed version in engine/optim/adamw.ts, operation for operation, with the same
//          f32 constants, so the two agree bit for bit (on lavapipe: every element of θ, m and
//          v after 3 steps); a compiler that fuses a multiply-add into an fma may move an ulp:
//            θ ← θ·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
//            θ ← θ + (m / (√v / √(1 − β2ᵗ) + ε)) · (−lr / (1 − β1ᵗ))
//   ema    θ̄ ← m·θ̄ + (1 − m)·θ
//   nonFinite  how many values of K f32 tensors are NaN or ±Inf (a loss scaler's overflow check)
// AdamW multiplies each gradient by `inv_scale` first (1/S under a loss scale S, else exactly 1,
// which changes no bit), so unscaling mixed-precision gradients costs no launch of its own.
// Multi-tensor: one launch updates K tensors ("segments"), each bound on its own (4 buffers a
// segment for AdamW, 2 for EMA, within the device's storage-buffer limit), so a model's ~100
// parameters take a few dozen launches, not one each. Segment k owns the invocations
// [start_k, start_k + n_k); starts are multiples of the workgroup size, so every workgroup lies
// in one segment and takes one branch. The segment code is generated straight-line per k
// (WGSL cannot pass storage buffers to a function).
// The bias corrections depend only on each tensor's step count, so the host folds them into
// per-segment uniforms, with the decay (per-group weight decay).
import { LINEAR_ID, MAIN_1D } from './kernel-source.ts';

/**
 * The branches over segments: `body(k)` is the code for segment k, with `j` its element.
 * Each branch tests both ends of its range: the padding invocations after a segment's last
 * element (up to the next workgroup boundary) belong to no segment and must write nothing.
 * Testing only the upper end sends them into the next branch with `j` wrapped past 2³², an
 * out-of-bounds write that WGSL leaves to the implementation (Vulkan drops it, Dawn's GLES
 * backend clamps it onto the neighbouring tensor's last element).
 */
export function segments(K: number, body: (k: number) => string): string {
  return Array.from({ length: K }, (_, k) =>
    `  if (i >= p.seg[${k}].start && i - p.seg[${k}].start < p.seg[${k}].n) {
    let j = i - p.seg[${k}].start;
${body(k)}
  }`).join('\n');
}

/** AdamW over K segments. Bindings: theta_k (in place), grad_k, m_k (in place), v_k (in place) for each k. */
export function adamwWgsl(K: number): string {
  const bind = Array.from({ length: K }, (_, k) => /* wgsl */ `
@group(0) @binding(${4 * k + 1}) var<storage, read_write> theta${k}: array<f32>;   // parameter, updated
@group(0) @binding(${4 * k + 2}) var<storage, read> grad${k}: array<f32>;
@group(0) @binding(${4 * k + 3}) var<storage, read_write> m${k}: array<f32>;       // first moment, updated
@group(0) @binding(${4 * k + 4}) var<storage, read_write> v${k}: array<f32>;       // second moment, updated`).join('');
  return /* wgsl */ `
struct Segment {
  start: u32,         // first invocation (a multiple of WG)
  n: u32,             // elements
  decay: f32,         // 1 − lr·wd (exactly 1 without decay)
  bc2_sqrt: f32,      // √(1 − β2ᵗ)
  neg_step: f32,      // −lr / (1 − β1ᵗ)
  pad0: u32, pad1: u32, pad2: u32,
}
struct Params {
  b1: f32,            // β1
  one_minus_b1: f32,  // 1 − β1
  b2: f32,            // β2
  one_minus_b2: f32,  // 1 − β2
  eps: f32,           // ε
  inv_scale: f32,     // 1/S: undoes a loss scale S on the gradients (1 without one)
  pad1: u32, pad2: u32,
  seg: array<Segment, ${K}>,
}
@group(0) @binding(0) var<uniform> p: Params;${bind}
override WG: u32 = 256;
${LINEAR_ID}

${MAIN_1D()}
${
    segments(K, (k) =>
      `    let s = p.seg[${k}];
    let g = grad${k}[j] * p.inv_scale;
    let decayed = theta${k}[j] * s.decay;
    let mi = m${k}[j] * p.b1 + g * p.one_minus_b1;
    let vi = v${k}[j] * p.b2 + (g * g) * p.one_minus_b2;
    m${k}[j] = mi;
    v${k}[j] = vi;
    let denom = sqrt(vi) / s.bc2_sqrt + p.eps;
    theta${k}[j] = decayed + (mi / denom) * s.neg_step;`)
  }
}
`;
}

/** EMA over K segments. Bindings: avg_k (θ̄, in place), theta_k (θ) for each k. */
export function emaWgsl(K: number): string {
  const bind = Array.from({ length: K }, (_, k) => /* wgsl */ `
@group(0) @binding(${2 * k + 1}) var<storage, read_write> avg${k}: array<f32>;   // θ̄, updated
@group(0) @binding(${2 * k + 2}) var<storage, read> theta${k}: array<f32>;       // θ`).join('');
  return /* wgsl */ `
struct Segment { start: u32, n: u32, pad0: u32, pad1: u32 }
struct Params {
  m: f32,             // momentum
  one_minus_m: f32,   // 1 − momentum
  pad0: u32, pad1: u32,
  seg: array<Segment, ${K}>,
}
@group(0) @binding(0) var<uniform> p: Params;${bind}
override WG: u32 = 256;
${LINEAR_ID}

${MAIN_1D()}
${segments(K, (k) => `    avg${k}[j] = avg${k}[j] * p.m + theta${k}[j] * p.one_minus_m;`)}
}
`;
}

/**
 * Count of NaN/±Inf values over K f32 segments into count[0] (added to, so several launches sum
 * into one counter). The test is on the bits (exponent all ones): WGSL lets an implementation
 * assume that no float is NaN or infinite, so `x != x` or a compare against a bound may be
 * folded away. Bindings: x_k for each k, then the counter.
 */
export function nonFiniteWgsl(K: number): string {
  const bind = Array.from({ length: K }, (_, k) => /* wgsl */ `
@group(0) @binding(${k + 1}) var<storage, read> x${k}: array<u32>;   // f32 values, read as their bits`).join('');
  return /* wgsl */ `
struct Segment { start: u32, n: u32, pad0: u32, pad1: u32 }
struct Params { seg: array<Segment, ${K}> }
@group(0) @binding(0) var<uniform> p: Params;${bind}
@group(0) @binding(${K + 1}) var<storage, read_write> count: array<atomic<u32>>;   // [1], added to
override WG: u32 = 256;
${LINEAR_ID}

${MAIN_1D()}
${segments(K, (k) => `    if ((x${k}[j] & 0x7f800000u) == 0x7f800000u) { atomicAdd(&count[0], 1u); }`)}
}
`;
}
