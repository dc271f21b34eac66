// random: a counter-based generator on the host. Value i of a stream is a pure function of
// (seed, counter + i), so runs repeat exactly, results do not depend on the device, and the
// generator state (two integers) goes into a checkpoint. Draws happen on the host and are
// uploaded: initialisation and masks are not on the per-step hot path.
import { erf } from '../kernels/math.ts';

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A counter-based stream: seed selects the stream, counter advances by one per draw. */
export class Generator {
  constructor(public seed = 0, public counter = 0) {}

  /** The next 32 random bits. */
  nextU32(): number {
    const c = this.counter++;
    const lo = c >>> 0, hi = Math.floor(c / 2 ** 32) >>> 0;
    return fmix32(fmix32(lo ^ fmix32(this.seed ^ 0x9e3779b9)) ^ Math.imul(hi + 1, 0x27d4eb2f) ^ this.seed);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return (this.nextU32() * 2 ** 21 + (this.nextU32() >>> 11)) / 2 ** 53;
  }

  /** Standard normal (Box-Muller; one pair of uniforms per value, so draws stay aligned). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log never sees 0
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  state(): { seed: number; counter: number; } {
    return { seed: this.seed, counter: this.counter };
  }
}

/**
 * The generator that random creation (`randn`, `rand`, `truncNormal`) and `new Linear(...)` use
 * when none is passed, like PyTorch's default generator. It starts at seed 0, so a program that
 * never seeds still repeats exactly; `manualSeed` restarts it.
 */
export const defaultGenerator = new Generator(0);

/** Restart the default generator at `seed` (counter 0), like `torch.manual_seed`. */
export function manualSeed(seed: number): Generator {
  if (!Number.isInteger(seed)) throw new Error(`manualSeed: seed must be an integer, got ${seed}`);
  defaultGenerator.seed = seed;
  defaultGenerator.counter = 0;
  return defaultGenerator;
}

/** Inverse error function: Giles' single-precision start, then two Newton steps on erf. */
export function erfinv(y: number): number {
  if (y <= -1) return -Infinity;
  if (y >= 1) return Infinity;
  let w = -Math.log((1 - y) * (1 + y)), x: number;
  if (w < 5) {
    w -= 2.5;
    let p = 2.81022636e-08;
    for (const c of [3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) {
      p = c + p * w;
    }
    x = p * y;
  } else {
    w = Math.sqrt(w) - 3;
    let p = -0.000200214257;
    for (const c of [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) {
      p = c + p * w;
    }
    x = p * y;
  }
  for (let i = 0; i < 2; i++) x -= (erf(x) - y) / (2 / Math.sqrt(Math.PI) * Math.exp(-x * x));
  return x;
}

/**
 * Truncated normal, PyTorch's `trunc_normal_` algorithm: a uniform between the CDF values of the
 * bounds, mapped back through the inverse CDF. `a`, `b` are absolute bounds (not in std units),
 * exactly as in timm/I-JEPA (so at std 0.02 the bounds ±2 never bind).
 */
export function truncNormalSample(g: Generator, mean: number, std: number, a: number, b: number): number {
  // Bounds 8σ or more away bind with probability < 1e-15 (I-JEPA's ±2 at std 0.02 are 100σ):
  // a plain normal draw has the same distribution and skips the inverse erf (20× faster).
  if ((a - mean) / std <= -8 && (b - mean) / std >= 8) return Math.min(b, Math.max(a, mean + std * g.normal()));
  const cdf = (x: number) => (1 + erf(x / Math.SQRT2)) / 2;
  const l = cdf((a - mean) / std), u = cdf((b - mean) / std);
  const v = 2 * (l + (u - l) * g.uniform()) - 1;
  const x = erfinv(v) * std * Math.SQRT2 + mean;
  return Math.min(b, Math.max(a, x));
}
