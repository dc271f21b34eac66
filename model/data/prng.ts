// prng: a tiny seedable PRNG (splitmix32) and a seed-mixing hash for the data pipeline.
//
// Every random choice in model/data (shuffles, crops, flips) draws from an `Rng` built here, so a run
// repeats exactly given its seed. The loader derives one generator per (seed, epoch, sample position)
// with `mixSeed`, which is what makes batches independent of decode order and prefetch depth.
//
// Deliberately not: cryptographic, and not bit-compatible with torch/numpy generators (the official
// code's crops cannot be reproduced sample for sample anyway; only the distributions are matched).

/**
 * splitmix32: state advances by the golden-ratio increment, output is a bijective 32-bit mix of the
 * state (the "lowbias32" finaliser, C. Wellons 2018). Period 2^32 per stream, which is plenty for one
 * sample's handful of draws or one epoch's shuffle.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Rng: seed must be an integer, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi), like Python's `random.uniform` / torch's `empty().uniform_(lo, hi)`. */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * Uniform integer in [0, n), like `torch.randint(0, n)`. Multiply-shift rather than `% n`, whose
   * bias is worse for n near 2^32; the remaining bias (< n / 2^32) is irrelevant for n ≤ a few million.
   */
  int(n: number): number {
    if (!(Number.isInteger(n) && n > 0 && n <= 4294967296)) {
      throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** True with probability p (`torch.rand(1) < p`). */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }
}

/** lowbias32: a 32-bit integer hash with good avalanche; a bijection on u32. */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Hash any number of integers into one 32-bit seed. Order matters (mixSeed(1, 2) ≠ mixSeed(2, 1)),
 * so callers put a distinct domain tag first to keep e.g. shuffle and crop streams unrelated.
 * Inputs are taken modulo 2^32.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const p of parts) {
    if (!Number.isInteger(p)) throw new Error(`mixSeed: parts must be integers, got ${p}`);
    h = mix32((h ^ mix32((p >>> 0) + 0x9e3779b9)) + 0x85ebca6b);
  }
  return h;
}

/** In-place Fisher–Yates shuffle of `a`; every permutation equally likely given a uniform `rng.int`. */
export function shuffleInPlace<T extends { length: number; [i: number]: number; }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
  return a;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return shuffleInPlace(a, rng);
}
