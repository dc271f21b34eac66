// matmul kernels against a float64 host reference, one launch at a time (no autograd): every
// kernel variant the launcher can pick (subgroup kernel with vec4 or f32 operands, the tuned
// tiles, the scalar fallback), all four transpose combinations, batch strides and broadcast
// (stride 0), and operands at non-zero offsets. Shapes are odd on purpose (1, 3, 17, 197, 257)
// so every edge path runs. A fixed small set: each new pipeline costs 0.4–3 s to compile.
// Last, the benchmark's peak kernel against a float64 replay of its FMA chains.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { initWebGPU } from '../engine/device/node.ts';
import { DEFAULT_SUBGROUP_TILE, matmul, MATMUL_TILES, peak, vec4Operands, type MatmulParams, type MatmulShape,
  type SubgroupTile } from '../kernels/index.ts';
import { LACKS, skipUnless } from './skips.ts';

const backend = await initWebGPU();
const subgroupSize = backend.subgroupSize;

interface Case extends MatmulShape {
  broadcastA?: boolean;
  broadcastB?: boolean;
  offA?: number;
  offB?: number;
}

/** Deterministic values in [-1, 1) (a 32-bit LCG), exactly representable in f32. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) / 2 ** 23 - 1;
  }
  return out;
}

/** Run one launch on the GPU; return C and the f64 reference with the bound per element. */
async function run(c: Case, opts: Partial<MatmulParams>): Promise<{ got: Float32Array; want: Float64Array; bound: Float64Array; p: MatmulParams; }> {
  const { batch, M, N, K, transA, transB } = c;
  const offA = c.offA ?? 0, offB = c.offB ?? 0;
  const strideA = c.broadcastA ? 0 : M * K, strideB = c.broadcastB ? 0 : K * N;
  const nA = offA + (c.broadcastA ? 1 : batch) * M * K, nB = offB + (c.broadcastB ? 1 : batch) * K * N;
  const A = values(nA, 1 + M), B = values(nB, 7 + N);
  const p: MatmulParams = { batch, M, N, K, transA, transB, strideA, strideB, offA, offB, offC: 0, ...opts };
  const launch = matmul(p);
  const sa = backend.alloc(nA, 'f32'), sb = backend.alloc(nB, 'f32'), sc = backend.alloc(batch * M * N, 'f32');
  backend.upload(sa, A);
  backend.upload(sb, B);
  backend.run({
    name: launch.source.name,
    launches: () => [{ ...launch, bindings: [0, 1, 2] }],
    reference: () => {
      throw new Error('GPU only');
    },
  }, [sa, sb, sc]);
  const got = await backend.read(sc, 0, batch * M * N) as Float32Array;
  for (const s of [sa, sb, sc]) backend.release(s);

  const want = new Float64Array(batch * M * N), bound = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ba = offA + z * strideA, bb = offB + z * strideB;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0, mag = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? A[ba + k * M + m]! : A[ba + m * K + k]!;
          const bv = transB ? B[bb + n * K + k]! : B[bb + k * N + n]!;
          s += av * bv;
          mag += Math.abs(av * bv);
        }
        want[(z * M + m) * N + n] = s;
        bound[(z * M + m) * N + n] = mag;
      }
    }
  }
  return { got, want, bound, p };
}

/** f32 accumulation of K products: error ≤ about K·2^-24·Σ|a·b|; allow 4× that, plus a floor. */
function assertMatches(r: Awaited<ReturnType<typeof run>>, what: string): void {
  const { got, want, bound, p } = r;
  for (let i = 0; i < want.length; i++) {
    const tol = 4 * p.K * 2 ** -24 * bound[i]! + 1e-30;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) {
      const z = Math.floor(i / (p.M * p.N)), m = Math.floor(i / p.N) % p.M, n = i % p.N;
      assert.unreachable(`${what}: C[${z}, ${m}, ${n}] = ${got[i]}, expected ${want[i]} (|err| ${err.toExponential(2)} > ${tol.toExponential(2)})`);
    }
  }
}

const name = (c: Case) =>
  `[${c.batch}×${c.M}×${c.K}]${c.transA ? 'ᵀ' : ''}·[${c.K}×${c.N}]${c.transB ? 'ᵀ' : ''}` +
  `${c.broadcastA ? ' A broadcast' : ''}${c.broadcastB ? ' B broadcast' : ''}${c.offA || c.offB ? ` offsets ${c.offA ?? 0}/${c.offB ?? 0}` : ''}`;

const T = true, F = false;

// ---- subgroup kernel ----------------------------------------------------------------------------
const sg = suite('matmul kernels: subgroup (matmul_sg)');
const sgRuns = skipUnless(sg, subgroupSize >= 8, LACKS.subgroups8,
  `the adapter's subgroups are ${subgroupSize || 'absent'}: matmul_sg needs 8 or more`);
const small: SubgroupTile = { tm: 8, tn4: 1 };

// vec4 A and B in all four transposes (each needs its own alignment: see vec4Operands)
const vecCases: Case[] = [
  { batch: 2, M: 17, N: 36, K: 20, transA: F, transB: F },
  { batch: 3, M: 197, N: 197, K: 64, transA: F, transB: T, broadcastB: true },
  { batch: 1, M: 20, N: 44, K: 257, transA: T, transB: F, offA: 8, offB: 4 },
  { batch: 2, M: 12, N: 3, K: 16, transA: T, transB: T, broadcastA: true },
];
for (const c of vecCases) {
  sgRuns(`vec4 A and B, ${name(c)} matches the f64 reference`, async () => {
    const r = await run(c, { subgroupSize, sgTile: small });
    assert.equal(vec4Operands(r.p), { a: true, b: true }, 'this case should bind both operands as vec4');
    assertMatches(r, name(c));
  });
}

// f32 operands: odd shapes no vec4 can cover, and the remainder of K % 4
const scalarCases: [Case, Partial<MatmulParams>][] = [
  [{ batch: 1, M: 1, N: 1, K: 1, transA: F, transB: F }, {}],
  [{ batch: 2, M: 17, N: 3, K: 257, transA: T, transB: T, offA: 1, offB: 3 }, {}],
  [{ batch: 2, M: 197, N: 64, K: 197, transA: F, transB: F }, {}], // A f32, B vec4 (attention P·V)
  [{ batch: 1, M: 36, N: 13, K: 9, transA: T, transB: F, broadcastB: true }, {}], // A vec4, B f32
  [{ batch: 2, M: 33, N: 40, K: 24, transA: F, transB: F }, { scalarLoads: true }], // f32 forced on aligned rows
];
for (const [c, opts] of scalarCases) {
  sgRuns(`f32 operands where needed, ${name(c)}${opts.scalarLoads ? ' (forced f32)' : ''} matches the f64 reference`, async () => {
    assertMatches(await run(c, { subgroupSize, sgTile: small, ...opts }), name(c));
  });
}

// every tile the tuned table uses on any adapter, and the untuned default, on an aligned shape
// with ragged edges in M and N
const used = [DEFAULT_SUBGROUP_TILE, ...MATMUL_TILES.flatMap((a) => a.tiles)];
const tiles = [...new Map(used.map((t) => [`${t.tm}x${t.tn4}`, { tm: t.tm, tn4: t.tn4 }])).values()];
for (const tile of tiles) {
  const c: Case = { batch: 2, M: 3 * tile.tm + 5, N: 32 * tile.tn4 + 36, K: 12, transA: F, transB: T };
  sgRuns(`tuned tile ${tile.tm}×${32 * tile.tn4}, ${name(c)} matches the f64 reference`, async () => {
    assertMatches(await run(c, { subgroupSize, sgTile: tile }), name(c));
  });
}

sg('rejects a tile whose rows are not a multiple of 8', () => {
  assert.throws(
    () =>
      matmul({ batch: 1, M: 4, N: 4, K: 4, transA: F, transB: F, strideA: 0, strideB: 0, offA: 0, offB: 0, offC: 0, subgroupSize: 8,
        sgTile: { tm: 12, tn4: 1 } }),
    /matmul: subgroup tile tm=12, tn4=1/,
  );
});
sg.run();

// ---- scalar fallback ----------------------------------------------------------------------------
const sc = suite('matmul kernels: scalar fallback (no subgroups)');
const fallbackCases: Case[] = [
  { batch: 2, M: 17, N: 13, K: 5, transA: F, transB: F, broadcastB: true },
  { batch: 1, M: 3, N: 17, K: 9, transA: F, transB: T, offB: 5 },
  { batch: 2, M: 9, N: 1, K: 17, transA: T, transB: F, broadcastA: true },
  { batch: 1, M: 5, N: 6, K: 3, transA: T, transB: T, offA: 2 },
];
for (const c of fallbackCases) {
  sc(`${name(c)} matches the f64 reference`, async () => {
    assertMatches(await run(c, { subgroupSize: 0 }), name(c));
  });
}
sc.run();

// ---- peak kernel (the benchmark's FMA reference) ----------------------------------------------
const pk = suite('peak kernel');
pk('stores the sum of its FMA chains, as a float64 replay of the chains says', async () => {
  const l = peak({ workgroups: 2, iters: 3 });
  const out = backend.alloc(l.outElements, 'f32');
  backend.run({ name: l.source.name, launches: () => [{ ...l, bindings: [0] }], reference: () => {
    throw new Error('GPU only');
  } }, [out]);
  const got = await backend.read(out, 0, l.outElements);
  backend.release(out);
  const f = new Float32Array(l.uniforms);
  const [x, y] = [f[2]!, f[3]!];
  for (let g = 0; g < l.outElements / 4; g++) {
    const seed = Math.fround(g * Math.fround(1e-3));
    const want = [0, 0, 0, 0];
    for (let i = 0; i < 8; i++) {
      const c = [seed + i, seed - i, seed * (i + 1), -seed];
      for (let s = 0; s < 4 * 3; s++) for (let q = 0; q < 4; q++) c[q] = c[q]! * x + y;
      for (let q = 0; q < 4; q++) want[q]! += c[q]!;
    }
    for (let q = 0; q < 4; q++) {
      const err = Math.abs(got[4 * g + q]! - want[q]!);
      assert.ok(err <= 1e-4 * (1 + Math.abs(want[q]!)), `peak out[${g}].${'xyzw'[q]} = ${got[4 * g + q]}, expected ${want[q]}`);
    }
  }
});
pk.run();
