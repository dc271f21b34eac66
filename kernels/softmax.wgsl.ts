// softmax-rows: y = softmax(x) over the last dim of a contiguous [rows, cols] tensor, and its
// backward dx = y ⊙ (g − Σ_j g_j y_j). One invocation per row, no workgroup memory or barriers
// (lavapipe-friendly), f32 accumulation. The forward is max-subtracted (exp never overflows),
// three passes over the row; it saves nothing: the backward reads y. The backward is two passes
// (the dot product, then dx) where the composed rule took four dispatches.
// Buffers hold T (f32 or f16, see floatStorage); the row's max, sum and dot stay f32.
import { floatStorage, LINEAR_ID, MAIN_1D, type FloatStorage } from './kernel-source.ts';

export const softmaxWgsl = (t: FloatStorage) =>
  /* wgsl */ `${floatStorage(t)}
struct Params { rows: u32, cols: u32, off_x: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;         // [rows, cols]
@group(0) @binding(2) var<storage, read_write> y: array<T>;   // [rows, cols]
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let xs = p.off_x + r * p.cols;
  let ys = r * p.cols;
  var m = f32(x[xs]);
  for (var k = 1u; k < p.cols; k++) { m = max(m, f32(x[xs + k])); }
  var s = 0.0;
  ${
    t === 'f16'
      // f16: exp is computed again in the last pass, so y is rounded to f16 once
      ? `for (var k = 0u; k < p.cols; k++) { s += exp(f32(x[xs + k]) - m); }
  let inv = 1.0 / s;
  for (var k = 0u; k < p.cols; k++) { y[ys + k] = T(exp(f32(x[xs + k]) - m) * inv); }`
      // f32: y holds exp(x − m) between the passes (one exp per element)
      : `for (var k = 0u; k < p.cols; k++) { let e = exp(f32(x[xs + k]) - m); y[ys + k] = T(e); s += e; }
  let inv = 1.0 / s;
  for (var k = 0u; k < p.cols; k++) { y[ys + k] = T(f32(y[ys + k]) * inv); }`
  }
}
`;

export const softmaxBackwardWgsl = (t: FloatStorage) =>
  /* wgsl */ `${floatStorage(t)}
struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<T>;          // [rows, cols] softmax output
@group(0) @binding(2) var<storage, read> g: array<T>;          // [rows, cols] its gradient
@group(0) @binding(3) var<storage, read_write> dx: array<T>;   // [rows, cols]
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let s = r * p.cols;
  var dot = 0.0;
  for (var k = 0u; k < p.cols; k++) { dot = fma(f32(g[s + k]), f32(y[s + k]), dot); }
  for (var k = 0u; k < p.cols; k++) { dx[s + k] = T(f32(y[s + k]) * (f32(g[s + k]) - dot)); }
}
`;
