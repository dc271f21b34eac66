// softmax-rows: y = softmax(x) over the last dim of a contiguous [rows, cols] tensor, and its
// backward dx = y ⊙ (g − Σ_j g_j y_j). One invocation per row, no workgroup memory or barriers
// (lavapipe-friendly), f32 accumulation. The forward is max-subtracted (exp never overflows),
// three passes over the row; it saves nothing: the backward reads y. The backward is two passes
// (the dot product, then dx) where the composed rule took four dispatches.
import { LINEAR_ID, MAIN_1D } from './kernel-source.ts';

export const SOFTMAX_WGSL = /* wgsl */ `
struct Params { rows: u32, cols: u32, off_x: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // [rows, cols]
@group(0) @binding(2) var<storage, read_write> y: array<f32>;   // [rows, cols]
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let xs = p.off_x + r * p.cols;
  let ys = r * p.cols;
  var m = x[xs];
  for (var k = 1u; k < p.cols; k++) { m = max(m, x[xs + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.cols; k++) { let e = exp(x[xs + k] - m); y[ys + k] = e; s += e; }
  let inv = 1.0 / s;
  for (var k = 0u; k < p.cols; k++) { y[ys + k] = y[ys + k] * inv; }
}
`;

export const SOFTMAX_BACKWARD_WGSL = /* wgsl */ `
struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;          // [rows, cols] softmax output
@group(0) @binding(2) var<storage, read> g: array<f32>;          // [rows, cols] its gradient
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;   // [rows, cols]
override WG: u32 = 64;
${LINEAR_ID}

${MAIN_1D('r')}
  if (r >= p.rows) { return; }
  let s = r * p.cols;
  var dot = 0.0;
  for (var k = 0u; k < p.cols; k++) { dot = fma(g[s + k], y[s + k], dot); }
  for (var k = 0u; k < p.cols; k++) { dx[s + k] = y[s + k] * (g[s + k] - dot); }
}
`;
