// reduce-rows: out[r, c] = reduce(x[r, c*chunk .. min((c+1)*chunk, cols))) for a contiguous
// [rows, cols] input. With chunk = cols this is a plain row reduction; the launcher splits long
// rows into chunks and reduces the partials in a second launch, so a full reduction of a large
// tensor does not run on a single invocation. One invocation per (row, chunk): no workgroup
// memory and no barriers, which lavapipe (CPU Vulkan) rewards. Accumulates in f32.
import { LINEAR_ID } from './kernel-source.ts';

export const REDUCE_WGSL = /* wgsl */ `
struct Params {
  rows: u32,
  cols: u32,
  chunk: u32,     // elements per invocation along a row
  parts: u32,     // ceil(cols / chunk): outputs per row
  op: u32,        // 0 sum, 1 max
  off_x: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [rows, cols]
@group(0) @binding(2) var<storage, read_write> o: array<f32>;  // [rows, parts]
override WG: u32 = 64;
${LINEAR_ID}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = linearId(wid, nwg, lid, WG);
  if (i >= p.rows * p.parts) { return; }
  let r = i / p.parts;
  let part = i % p.parts;
  let start = p.off_x + r * p.cols + part * p.chunk;
  let end = p.off_x + r * p.cols + min((part + 1u) * p.chunk, p.cols);
  if (p.op == 0u) {
    // four independent partial sums: shorter dependency chains, and less rounding drift
    var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
    var k = start;
    for (; k + 4u <= end; k += 4u) { s0 += x[k]; s1 += x[k + 1u]; s2 += x[k + 2u]; s3 += x[k + 3u]; }
    for (; k < end; k++) { s0 += x[k]; }
    o[i] = (s0 + s1) + (s2 + s3);
  } else {
    var m = x[start];
    for (var k = start + 1u; k < end; k++) { m = max(m, x[k]); }
    o[i] = m;
  }
}
`;
