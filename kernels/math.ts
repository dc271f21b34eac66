// math: double-precision special functions for the CPU reference device and host-side init.

/** erf(x) to ~1e-15: Maclaurin series for |x| < 2.5, Lentz continued fraction for erfc beyond. */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = z, sum = z;
    for (let n = 1; n < 80; n++) {
      term *= -z * z / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = sum * 2 / Math.sqrt(Math.PI);
    return x < 0 ? -r : r;
  }
  // erfc(z) = exp(-z²)/sqrt(pi) · 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...))))
  let f = z, c = z, d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = z + an * d;
    d = 1 / d;
    c = z + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** GELU with the exact Gaussian CDF: x · Φ(x) = x/2 · (1 + erf(x/√2)). */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** d/dx of geluExact: Φ(x) + x·φ(x), with φ the standard normal density. */
export function geluGradExact(x: number): number {
  const erfx = x === Infinity ? 1 : x === -Infinity ? -1 : erf(x / Math.SQRT2);
  return 0.5 * (1 + erfx) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}
