// masks: the multi-block collator against torch goldens (test/golden/make_masks.py) and its invariants.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MaskCollator, roundHalfEven, sampleBlockSize, type MaskBatch, type MaskCollatorOptions } from '../model/masks.ts';
import { TorchGenerator } from '../model/torch-rng.ts';

interface GoldenBatch {
  seed: number;
  predSize: [number, number];
  encSize: [number, number];
  Le: number;
  Lp: number;
  relaxations: number;
  encMasks: number[][];
  predMasks: number[][];
  encLengths: number[][];
}
interface GoldenConfig {
  name: string;
  options: MaskCollatorOptions;
  B: number;
  batches: GoldenBatch[];
  nextDraw: number;
}
const golden = (JSON.parse(readFileSync(new URL('./golden/masks.json', import.meta.url), 'utf8')) as { configs: GoldenConfig[]; }).configs;

/** Row b of a [B, L] mask. */
const row = (m: Int32Array, b: number, L: number): number[] => Array.from(m.subarray(b * L, (b + 1) * L));

/** Ascending indices of rectangle (top, left, h, w) minus a set, on a grid of width W. */
function rectMinus(top: number, left: number, h: number, w: number, W: number, minus: Set<number>): number[] {
  const out: number[] = [];
  for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) if (!minus.has(i * W + j)) out.push(i * W + j);
  return out;
}

function allIndices(batch: MaskBatch): Int32Array[] {
  return [...batch.encMasks, ...batch.predMasks];
}

// ---------------------------------------------------------------------------------------------
const g = suite('masks golden (torch 1.13, official semantics)');

for (const cfg of golden) {
  g(`${cfg.name}: every batch, size, length and index matches torch; same number of draws`, () => {
    const c = new MaskCollator({ ...cfg.options, seed: 0 });
    for (const want of cfg.batches) {
      const got = c.next(cfg.B);
      const where = `${cfg.name} batch ${want.seed}`;
      assert.is(got.seed, want.seed, where);
      assert.equal([got.predSize.h, got.predSize.w], want.predSize, `${where} predSize`);
      assert.equal([got.encSize.h, got.encSize.w], want.encSize, `${where} encSize`);
      assert.is(got.Lp, want.Lp, `${where} Lp`);
      assert.is(got.Le, want.Le, `${where} Le`);
      assert.is(got.relaxations, want.relaxations, `${where} relaxations`);
      assert.equal(got.encMasks.map((m) => Array.from(m)), want.encMasks, `${where} encMasks`);
      assert.equal(got.predMasks.map((m) => Array.from(m)), want.predMasks, `${where} predMasks`);
    }
    const rng = new TorchGenerator().setState(c.getState().rng);
    assert.is(rng.randint(0, 2 ** 31), cfg.nextDraw, `${cfg.name}: global generator out of step with torch`);
  });
}

g('the goldens exercise truncation, region relaxation, nenc 2 and a moving context', () => {
  const byName = new Map(golden.map((c) => [c.name, c]));
  const truncated = golden.some((c) => c.batches.some((b) => b.encLengths.flat().some((n) => n > b.Le)));
  assert.ok(truncated, 'some context was cut to the batch minimum');
  assert.ok(byName.get('g10_relax')!.batches.some((b) => b.relaxations > 0), 'relaxation path taken');
  assert.is(byName.get('g6_nenc2')!.batches[0]!.encMasks.length, 2);
  assert.equal(byName.get('g28_b2')!.batches[1]!.encSize, [26, 26]);
});

g.run();

// ---------------------------------------------------------------------------------------------
const s = suite('masks block sizes');

/** Distinct sizes as u sweeps [0, 1), in order of first appearance (sizes are not monotone in u). */
const sweep = (G: number, scale: [number, number], aspect: [number, number]): string[] => {
  const seen: string[] = [];
  for (let k = 0; k < 1 << 16; k++) {
    const { h, w } = sampleBlockSize(k / (1 << 16), G, G, scale, aspect);
    const key = `${h}x${w}`;
    if (!seen.includes(key)) seen.push(key);
  }
  return seen;
};
s('target sizes per grid follow docs/masks.md §2 (one uniform for scale and aspect)', () => {
  assert.equal(sweep(8, [0.15, 0.2], [0.75, 1.5]), ['3x3', '4x3']);
  assert.equal(sweep(14, [0.15, 0.2], [0.75, 1.5]), ['5x6', '6x6', '6x5', '7x5', '8x5']);
  assert.equal(sweep(16, [0.15, 0.2], [0.75, 1.5]), ['5x7', '6x7', '6x6', '7x6', '8x6', '9x6']);
});
s('context is (G−1)² for G ∈ {8, 14, 16}; at G = 28 it is 26² below u ≈ 0.311, then 27²', () => {
  assert.equal(sweep(8, [0.85, 1], [1, 1]), ['7x7']);
  assert.equal(sweep(14, [0.85, 1], [1, 1]), ['13x13']);
  assert.equal(sweep(16, [0.85, 1], [1, 1]), ['15x15']);
  assert.equal(sweep(28, [0.85, 1], [1, 1]), ['26x26', '27x27']);
  assert.equal(sampleBlockSize(0.31, 28, 28, [0.85, 1], [1, 1]), { h: 26, w: 26 });
  assert.equal(sampleBlockSize(0.312, 28, 28, [0.85, 1], [1, 1]), { h: 27, w: 27 });
});
s('fixed mode lets a block reach the full grid', () => {
  assert.equal(sampleBlockSize(0.99, 8, 8, [0.85, 1], [1, 1], 'fixed'), { h: 8, w: 8 });
  assert.equal(sampleBlockSize(0.99, 8, 8, [0.85, 1], [1, 1], 'official'), { h: 7, w: 7 });
});
s('roundHalfEven is Python round, and block sizes use it on exact ties', () => {
  assert.equal([0.5, 1.5, 2.5, 3.5, 2.4999999, 2.5000001, 7].map(roundHalfEven), [0, 2, 2, 4, 2, 3, 7]);
  // max_keep = int(400 · 0.0625) = 25, a = 0.25: h = round(sqrt(6.25)) = round(2.5) = 2 (Math.round: 3).
  assert.equal(sampleBlockSize(0, 20, 20, [0.0625, 0.0625], [0.25, 0.25]), { h: 2, w: 10 });
  // a = 0.49: h = round(sqrt(12.25)) = round(3.5) = 4, w = round(sqrt(25 / 0.49)) = round(7.14…) = 7.
  assert.equal(sampleBlockSize(0, 20, 20, [0.0625, 0.0625], [0.49, 0.49]), { h: 4, w: 7 });
});

s.run();

// ---------------------------------------------------------------------------------------------
const p = suite('masks properties');

const OFFICIAL_CASES: { G: number; minKeep: number; B: number; }[] = [
  { G: 8, minKeep: 4, B: 8 },
  { G: 14, minKeep: 10, B: 16 },
  { G: 16, minKeep: 10, B: 16 },
];

p('shapes: Lp = h·w, every row L long, indices in range and ascending', () => {
  for (const { G, minKeep, B } of OFFICIAL_CASES) {
    const c = new MaskCollator({ gridSize: G, minKeep });
    for (let it = 0; it < 20; it++) {
      const m = c.next(B);
      assert.is(m.B, B);
      assert.is(m.Lp, m.predSize.h * m.predSize.w, `G ${G} Lp`);
      assert.is(m.encMasks.length, 1);
      assert.is(m.predMasks.length, 4);
      for (const a of m.encMasks) assert.is(a.length, B * m.Le);
      for (const a of m.predMasks) assert.is(a.length, B * m.Lp);
      for (const [a, L] of [...m.encMasks.map((x) => [x, m.Le] as const), ...m.predMasks.map((x) => [x, m.Lp] as const)]) {
        for (let b = 0; b < B; b++) {
          const r = row(a, b, L);
          for (let k = 0; k < L; k++) {
            assert.ok(r[k]! >= 0 && r[k]! < G * G, `index ${r[k]} out of [0, ${G * G})`);
            if (k > 0) assert.ok(r[k]! > r[k - 1]!, `G ${G}: row ${b} not strictly ascending at ${k}`);
          }
        }
      }
    }
  }
});

p('official: context = top-left (G−1)² square minus the targets, cut to the first Le entries', () => {
  for (const { G, minKeep, B } of OFFICIAL_CASES) {
    const c = new MaskCollator({ gridSize: G, minKeep });
    for (let it = 0; it < 20; it++) {
      const m = c.next(B);
      assert.is(m.relaxations, 0, 'the default geometry never needs to relax regions');
      const full: number[][] = [];
      for (let b = 0; b < B; b++) {
        const targets = new Set(m.predMasks.flatMap((a) => row(a, b, m.Lp)));
        const ctx = row(m.encMasks[0]!, b, m.Le);
        // Disjoint: no context patch lies in any of this image's targets.
        for (const n of ctx) assert.not.ok(targets.has(n), `G ${G} image ${b}: context ${n} inside a target`);
        full.push(rectMinus(0, 0, G - 1, G - 1, G, targets));
        assert.equal(ctx, full[b]!.slice(0, m.Le), `G ${G} image ${b}: truncation must keep the first entries`);
      }
      assert.is(m.Le, Math.min(...full.map((f) => f.length)), 'Le = batch minimum of the untruncated contexts');
    }
  }
});

p('official: the last patch row and column are never used, over many batches', () => {
  for (const { G, minKeep } of OFFICIAL_CASES) {
    const c = new MaskCollator({ gridSize: G, minKeep });
    for (let it = 0; it < 100; it++) {
      for (const a of allIndices(c.next(4))) {
        for (const n of a) {
          assert.ok(Math.floor(n / G) < G - 1 && n % G < G - 1, `G ${G}: index ${n} in the last row/column`);
        }
      }
    }
  }
});

p('fixed: targets and context reach the last row and column, and the context moves', () => {
  for (const { G, minKeep } of OFFICIAL_CASES) {
    const c = new MaskCollator({ gridSize: G, minKeep, mode: 'fixed' });
    let lastRow = false;
    let lastCol = false;
    let ctxLast = false;
    let ctxNotAtOrigin = false;
    for (let it = 0; it < 200; it++) {
      const m = c.next(4);
      for (const a of allIndices(m)) {
        for (const n of a) {
          if (Math.floor(n / G) === G - 1) lastRow = true;
          if (n % G === G - 1) lastCol = true;
        }
      }
      const e = m.encMasks[0]!;
      for (let b = 0; b < 4; b++) {
        const r = row(e, b, m.Le);
        const touchesEdge = r.some((n) => Math.floor(n / G) === G - 1 || n % G === G - 1);
        if (touchesEdge) ctxLast = true;
        // A (G−1)-sided context at the origin cannot touch the last row/column: it must have moved.
        if (touchesEdge && m.encSize.h < G && m.encSize.w < G) ctxNotAtOrigin = true;
      }
      for (const a of m.predMasks) assert.is(a.length, 4 * m.Lp);
    }
    assert.ok(lastRow && lastCol, `G ${G}: fixed mode never used the last row/column`);
    assert.ok(ctxLast, `G ${G}: the context never reached the last row/column`);
    assert.ok(ctxNotAtOrigin, `G ${G}: the context never left the origin`);
  }
});

p('nenc 2 and allowOverlap: every mask list is filled; overlap lets the context cover targets', () => {
  const c = new MaskCollator({ gridSize: 10, minKeep: 4, nenc: 2, npred: 3, allowOverlap: true });
  let overlapped = false;
  for (let it = 0; it < 10; it++) {
    const m = c.next(3);
    assert.is(m.encMasks.length, 2);
    assert.is(m.predMasks.length, 3);
    for (let b = 0; b < 3; b++) {
      const targets = new Set(m.predMasks.flatMap((a) => row(a, b, m.Lp)));
      if (row(m.encMasks[0]!, b, m.Le).some((n) => targets.has(n))) overlapped = true;
    }
  }
  assert.ok(overlapped);
});

p('a target area ≤ minKeep throws (the official loop would hang), naming grid, block and minKeep', () => {
  // G = 8, minKeep 10: 3×3 = 9 targets for u < 0.485; the constructor's scan catches it.
  assert.throws(() => new MaskCollator({ gridSize: 8, minKeep: 10 }),
    (e: unknown) =>
      e instanceof Error && /target block 3×3 \(9 patches/.test(e.message) && /8×8 grid/.test(e.message) &&
      /minKeep 10/.test(e.message));
  // Without the scan, next() throws on the first hanging batch and leaves the state untouched.
  const c = new MaskCollator({ gridSize: 8, minKeep: 10, precheck: false });
  let threw = false;
  for (let it = 0; it < 50 && !threw; it++) {
    const before = c.getState();
    try {
      c.next(2);
    } catch (e) {
      threw = true;
      assert.ok(e instanceof Error && /8×8 grid/.test(e.message) && /minKeep 10/.test(e.message) &&
        /3×3/.test(e.message), String(e));
      const after = c.getState();
      assert.is(after.nextSeed, before.nextSeed);
      assert.equal(Array.from(after.rng.mt), Array.from(before.rng.mt));
      assert.is(after.rng.index, before.rng.index);
    }
  }
  assert.ok(threw, 'some seed below 50 gives u < 0.485');
  // A context that cannot exceed minKeep even with every region relaxed also hangs officially:
  // encMaskScale 0.1 on 8×8 gives max_keep 6 → a 2×2 context.
  assert.throws(() => new MaskCollator({ gridSize: 8, minKeep: 4, encMaskScale: [0.1, 0.11] }), /context block 2×2 \(4 patches.*8×8 grid.*minKeep 4/);
});

p('deterministic from a seed; another seed differs', () => {
  const draw = (seed: number): number[][] => {
    const c = new MaskCollator({ gridSize: 14, seed });
    const out: number[][] = [];
    for (let it = 0; it < 5; it++) {
      const m = c.next(4);
      out.push(...allIndices(m).map((a) => Array.from(a)));
    }
    return out;
  };
  assert.equal(draw(7), draw(7));
  assert.not.equal(draw(7), draw(8));
});

p('getState/setState resumes exactly; the state is a copy', () => {
  const opts: MaskCollatorOptions = { gridSize: 16, mode: 'fixed' };
  const a = new MaskCollator(opts);
  for (let it = 0; it < 3; it++) a.next(8);
  const state = a.getState();
  const want = [a.next(8), a.next(5), a.next(8)];
  const b = new MaskCollator({ ...opts, seed: 1234 });
  b.setState(state);
  const got = [b.next(8), b.next(5), b.next(8)];
  assert.equal(got, want);
  assert.is(state.nextSeed, 3, 'drawing after getState must not change the snapshot');
});

p('rejects bad options with the option name and value', () => {
  assert.throws(() => new MaskCollator({}), /give gridSize, or inputSize and patchSize/);
  assert.throws(() => new MaskCollator({ gridSize: 8, minKeep: 4, npred: 0 }), /npred 0 must be an integer ≥ 1/);
  assert.throws(() => new MaskCollator({ gridSize: 8, minKeep: 4 }).next(0), /batch size 0/);
  assert.is(new MaskCollator({ inputSize: 224, patchSize: 16 }).height, 14);
});

p.run();
