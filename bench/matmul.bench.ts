// matmul.bench: GFLOP/s (2·batch·M·N·K / t) and fraction of the peak kernel, on 1024³ and the
// ViT-Ti/16 training shapes (8 images × 196 patches = 1568 tokens, D = 192, MLP 768, qkv 576,
// 3 heads × 8 images = 24 attention batches of 197 × 64), in the layouts the engine runs them:
//   forward linear   y = x·Wᵀ          NT   (W stored [out, in])
//   backward dx      g·W               NN
//   backward dW      gᵀ·x              TN
//   attention        q·kᵀ (NT), P·v (NN)
// Each shape runs through runMatmul, exactly as the engine dispatches it (the subgroup
// kernel with the tuned tile where the device has subgroups), in samples alternating with the
// scalar kernel (the kernel before the subgroup one) on the same inputs: the score the check
// compares is the speed-up over that naive twin; % of peak is printed beside it.
//
// `--tune` times every tile in SUBGROUP_TILES on every shape and rewrites
// kernels/matmul-tiles.ts with the fastest per shape.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { matmul, MATMUL_TILES, SUBGROUP_TILES, type AdapterTiles, type MatmulParams, type MatmulShape,
  type TunedMatmulTile } from '../kernels/index.ts';
import { runMatmul } from '../engine/ops/table.ts';
import { renderTileTable, tileTableHead, withAdapterTiles } from './tile-table.ts';
import { filled, recordLaunch, subgroupSize, timeLaunches, timeRow, wanted, type BenchContext, type BenchRow, type RefKernel } from './common.ts';

export interface BenchShape extends MatmulShape {
  what: string;
}

const T = true, F = false;
export const MATMUL_SHAPES: readonly BenchShape[] = [
  { batch: 1, M: 1024, N: 1024, K: 1024, transA: F, transB: F, what: 'square' },
  { batch: 1, M: 1568, N: 768, K: 192, transA: F, transB: F, what: '[1568×192]·[192×768]' },
  { batch: 1, M: 1568, N: 768, K: 192, transA: F, transB: T, what: 'fc1 forward x·W1ᵀ' },
  { batch: 1, M: 1568, N: 192, K: 768, transA: F, transB: T, what: 'fc2 forward h·W2ᵀ' },
  { batch: 1, M: 1568, N: 576, K: 192, transA: F, transB: T, what: 'qkv forward x·Wqkvᵀ' },
  { batch: 1, M: 1568, N: 192, K: 768, transA: F, transB: F, what: 'fc1 backward dx = g·W1' },
  { batch: 1, M: 768, N: 192, K: 1568, transA: T, transB: F, what: 'fc1 backward dW1 = gᵀ·x' },
  { batch: 24, M: 197, N: 197, K: 64, transA: F, transB: T, what: 'attention scores q·kᵀ' },
  { batch: 24, M: 197, N: 64, K: 197, transA: F, transB: F, what: 'attention P·v' },
];

export const shapeName = (s: MatmulShape) => `${s.transA ? 'T' : 'N'}${s.transB ? 'T' : 'N'} ${s.batch > 1 ? `${s.batch}×` : ''}${s.M}×${s.N}×${s.K}`;

interface Operands {
  a: ReturnType<typeof filled>;
  b: ReturnType<typeof filled>;
  c: ReturnType<typeof filled>;
}

function operands(ctx: BenchContext, s: MatmulShape): Operands {
  const { backend } = ctx;
  return { a: filled(backend, s.batch * s.M * s.K, 1), b: filled(backend, s.batch * s.K * s.N, 2), c: backend.alloc(s.batch * s.M * s.N, 'f32') };
}
function release(ctx: BenchContext, o: Operands): void {
  for (const s of [o.a, o.b, o.c]) ctx.backend.release(s);
}

function params(s: MatmulShape): MatmulParams {
  return { batch: s.batch, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB, strideA: s.batch > 1 ? s.M * s.K : 0,
    strideB: s.batch > 1 ? s.K * s.N : 0, offA: 0, offB: 0, offC: 0 };
}

const flops = (s: MatmulShape) => 2 * s.batch * s.M * s.N * s.K;

export async function benchMatmul(ctx: BenchContext): Promise<BenchRow[]> {
  const { backend, refs, samples } = ctx;
  const sg = subgroupSize(backend);
  const rows: BenchRow[] = [];
  for (const s of MATMUL_SHAPES) {
    const name = `matmul ${shapeName(s)}`;
    if (!wanted(ctx, name)) continue;
    const o = operands(ctx, s);
    const p = params(s);
    const chosen = matmul({ ...p, subgroupSize: sg }).source.name;
    // the naive twin: the scalar kernel (the kernel before the subgroup one, and the fallback
    // without subgroups), timed in samples alternating with the engine's path
    const scalar = matmul({ ...p, subgroupSize: 0 });
    const twin: RefKernel = { record: () => recordLaunch(backend, scalar, [o.a, o.b, o.c]), work: flops(s) };
    const m = await timeRow(backend, name, () => runMatmul(backend, o.a, 0, o.b, 0, o.c, p), twin, samples);
    release(ctx, o);
    const g = flops(s) / m.seconds / 1e9;
    rows.push({ suite: 'matmul', name, seconds: m.seconds, gflops: g, ref: 'twin', refRate: m.refRate,
      note: `${s.what}; ${chosen} vs ${scalar.source.name}` });
    ctx.log(`  matmul ${shapeName(s).padEnd(22)} ${(m.seconds * 1e3).toFixed(2).padStart(8)} ms ${g.toFixed(1).padStart(6)} GFLOP/s ` +
      `${(100 * g / refs.peakGflops).toFixed(1).padStart(5)}% of peak   ${(g / m.refRate).toFixed(2)}× the scalar kernel ` +
      `(${m.refRate.toFixed(1)} GFLOP/s, ${(100 * m.refRate / refs.peakGflops).toFixed(1)}% of peak)   ${chosen}`);
  }
  // f16 storage (f32 math) against the f32 path on the same shapes: the score is f32 time over
  // f16 time, so > 1 means halving the bytes paid for the conversions
  if (backend.hasF16) {
    for (const s of [MATMUL_SHAPES[0]!, MATMUL_SHAPES[2]!]) {
      const name = `matmul f16 ${shapeName(s)}`;
      if (!wanted(ctx, name)) continue;
      const p = params(s);
      const h = { a: filled(backend, s.batch * s.M * s.K, 1, 'f16'), b: filled(backend, s.batch * s.K * s.N, 2, 'f16'),
        c: backend.alloc(s.batch * s.M * s.N, 'f16') };
      const f = operands(ctx, s);
      const f32: RefKernel = { record: () => runMatmul(backend, f.a, 0, f.b, 0, f.c, p), work: flops(s) };
      const m = await timeRow(backend, name, () => runMatmul(backend, h.a, 0, h.b, 0, h.c, p), f32, samples);
      for (const x of [h.a, h.b, h.c]) backend.release(x);
      release(ctx, f);
      const g = flops(s) / m.seconds / 1e9;
      rows.push({ suite: 'matmul', name, seconds: m.seconds, gflops: g, ref: 'twin', refRate: m.refRate,
        note: `${s.what}, f16 storage, f32 accumulation; twin = the same kernel on f32 storage` });
      ctx.log(`  matmul f16 ${shapeName(s).padEnd(18)} ${(m.seconds * 1e3).toFixed(2).padStart(8)} ms ${g.toFixed(1).padStart(6)} GFLOP/s ` +
        `${(100 * g / refs.peakGflops).toFixed(1).padStart(5)}% of peak   ${(g / m.refRate).toFixed(2)}× the f32 storage path`);
    }
  }
  return rows;
}

/**
 * Time every candidate tile on every shape; rewrite kernels/matmul-tiles.ts. Candidates are
 * timed in interleaved rounds (round-robin, fastest sample kept; the first also compiles), so a
 * burst of load from other processes doesn't pick a tile. Each distinct tile is one more
 * pipeline per layout to compile (1–10 s on lavapipe), so each shape takes, among the tiles
 * within 15 % of its fastest, the one with the best geometric mean over all shapes.
 */
export async function tuneMatmul(ctx: BenchContext): Promise<void> {
  const { backend, samples } = ctx;
  const sg = subgroupSize(backend);
  if (sg < 8) {
    ctx.log('tune: this device has no subgroups of 8+ lanes; the scalar kernel has nothing to tune');
    return;
  }
  const rates: number[][] = []; // [shape][tile] GFLOP/s
  for (const s of MATMUL_SHAPES) {
    const o = operands(ctx, s);
    const launches = SUBGROUP_TILES.map((tile) => matmul({ ...params(s), subgroupSize: sg, sgTile: tile }));
    const best = launches.map(() => Infinity);
    for (let round = 0; round < samples; round++) {
      for (let i = 0; i < launches.length; i++) {
        const t = await timeLaunches(backend, () => recordLaunch(backend, launches[i]!, [o.a, o.b, o.c]), 1, 100);
        best[i] = Math.min(best[i]!, t);
      }
    }
    release(ctx, o);
    rates.push(best.map((t) => flops(s) / t / 1e9));
    ctx.log(
      `  tune ${shapeName(s).padEnd(22)} ` + SUBGROUP_TILES.map((tile, i) =>
        `${tile.tm}×${32 * tile.tn4} ${rates.at(-1)![i]!.toFixed(1)}`
      ).join('  ') + ' GFLOP/s',
    );
  }
  const geo = SUBGROUP_TILES.map((_, i) => Math.exp(rates.reduce((acc, r) => acc + Math.log(r[i]!), 0) / rates.length));
  const overall = geo.indexOf(Math.max(...geo));
  ctx.log(
    `  tune: best over all shapes ${SUBGROUP_TILES[overall]!.tm}×${32 * SUBGROUP_TILES[overall]!.tn4} (geometric mean ${
      geo[overall]!.toFixed(1)
    } GFLOP/s)`,
  );
  const winners = MATMUL_SHAPES.map((s, k) => {
    const r = rates[k]!;
    // among the tiles within 15 % of this shape's fastest, the one best over all shapes
    const near = SUBGROUP_TILES.map((_, i) => i).filter((i) => r[i]! * 1.15 >= Math.max(...r));
    const pick = near.reduce((x, y) => (geo[y]! > geo[x]! ? y : x));
    return { ...s, ...SUBGROUP_TILES[pick]!, gflops: r[pick]! };
  });
  const adapter = backend.adapter;
  const entry: AdapterTiles = { adapter, tuned: new Date().toISOString().slice(0, 10), tiles: winners.map(({ batch: _b, what: _w, ...t }) => t) };
  const path = fileURLToPath(new URL('../kernels/matmul-tiles.ts', import.meta.url));
  const label = (t: TunedMatmulTile) =>
    MATMUL_SHAPES.find((m) => m.M === t.M && m.N === t.N && m.K === t.K && m.transA === t.transA && m.transB === t.transB)?.what ?? '';
  writeFileSync(path, renderTileTable(tileTableHead(readFileSync(path, 'utf8')), withAdapterTiles(MATMUL_TILES, entry), label));
  ctx.log(`tune: wrote the rows of ${adapter} into ${path} (takes effect in the next process)`);
}
