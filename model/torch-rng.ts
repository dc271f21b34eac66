// torch-rng: PyTorch's CPU generator (MT19937) reproduced draw for draw, for the mask collator.
//
// What it reproduces (checked against torch 1.13 on the CPU generator, test/golden/make_masks.py
// and test/torch-rng.test.ts):
//   manual_seed(s)          MT19937 init_genrand with the low 32 bits of s (torch truncates the seed);
//   torch.rand(1)           (u32 & 0xFFFFFF) / 2^24: one 32-bit draw per float32 value;
//   torch.randint(lo, hi)   lo + (u % (hi − lo)), one 32-bit draw when hi − lo < 2^32 (even when
//                           hi − lo = 1, where the result is always lo but a draw is still consumed);
//                           when hi − lo ≥ 2^32, one 64-bit value built from two draws,
//                           (first << 32) | second, taken mod (hi − lo). Modulo bias is torch's too.
// Invariants: every method consumes exactly the draws torch would, so interleaved rand/randint
// sequences stay in lockstep with PyTorch; the state is 624 words plus a position and round-trips
// through getState/setState exactly.
// Deliberately not here: normal/double draws (torch caches a spare normal in the generator, which this
// state does not model), torch.get_state()'s byte layout, and CUDA generators (Philox, unrelated).

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const TWO_POW_32 = 2 ** 32;

/** A checkpointable snapshot: the 624-word MT state and the index of the next word to temper. */
export interface TorchGeneratorState {
  /** 624 words of MT19937 state (a copy; mutating it does not touch the generator). */
  mt: Uint32Array;
  /** Next word to use, 0..624; 624 means "twist before the next draw" (as right after seeding). */
  index: number;
  /** The seed last passed to manualSeed, low 32 bits (torch.initial_seed()). */
  seed: number;
}

export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private index = N;
  private seed = 0;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /**
   * torch.manual_seed(seed) / Generator.manual_seed(seed). torch keeps a 64-bit seed but initialises
   * MT19937 from its low 32 bits only, so seeds that agree mod 2^32 give the same stream.
   */
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`TorchGenerator.manualSeed: seed ${seed} must be a non-negative safe integer`);
    }
    const s = seed % TWO_POW_32;
    this.seed = s;
    this.mt[0] = s;
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1]!;
      // 1812433253 · (prev ^ prev>>30) + i, mod 2^32: Math.imul keeps the low 32 bits exact.
      this.mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
    this.index = N;
    return this;
  }

  /** torch.initial_seed() for this generator (low 32 bits). */
  initialSeed(): number {
    return this.seed;
  }

  /** One raw 32-bit MT19937 output (torch's generator->random()). */
  nextU32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** torch's generator->random64(): two draws, the first in the high word. */
  nextU64(): bigint {
    const hi = this.nextU32();
    const lo = this.nextU32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * One float32 value of torch.rand on this generator, as the double `.item()` returns:
   * (u32 & (2^24 − 1)) · 2^−24, in [0, 1). torch keeps 24 bits (the float32 mantissa) of a 32-bit draw.
   */
  rand(): number {
    return (this.nextU32() & 0xffffff) / 16777216;
  }

  /**
   * torch.randint(lo, hi, (1,)).item() on this generator: uniform in [lo, hi), hi EXCLUSIVE.
   * Ranges below 2^32 use one 32-bit draw, larger ones a 64-bit value from two draws; both reduce
   * with a plain modulo, so this is exactly torch's (slightly biased) integer, not an unbiased one.
   */
  randint(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) {
      throw new RangeError(`TorchGenerator.randint: need integers lo < hi, got [${lo}, ${hi})`);
    }
    const range = hi - lo;
    if (!Number.isSafeInteger(range)) {
      throw new RangeError(`TorchGenerator.randint: range ${hi} − ${lo} exceeds 2^53`);
    }
    if (range < TWO_POW_32) return lo + (this.nextU32() % range);
    return lo + Number(this.nextU64() % BigInt(range));
  }

  /** A copy of the full state, to store in a checkpoint. */
  getState(): TorchGeneratorState {
    return { mt: this.mt.slice(), index: this.index, seed: this.seed };
  }

  /** Restore a state from getState (or a checkpoint); later draws continue exactly from there. */
  setState(state: TorchGeneratorState): this {
    if (state.mt.length !== N) {
      throw new RangeError(`TorchGenerator.setState: mt has ${state.mt.length} words, expected ${N}`);
    }
    if (!Number.isInteger(state.index) || state.index < 0 || state.index > N) {
      throw new RangeError(`TorchGenerator.setState: index ${state.index} must be an integer in [0, ${N}]`);
    }
    this.mt.set(state.mt);
    this.index = state.index;
    this.seed = state.seed >>> 0;
    return this;
  }

  /** Regenerate all 624 words (the MT19937 "twist"). */
  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & UPPER) | (mt[(i + 1) % N]! & LOWER);
      mt[i] = (mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)) >>> 0;
    }
    this.index = 0;
  }
}
