// pos-embed: the fixed 2-D sin-cos position table of I-JEPA/MAE (`get_2d_sincos_pos_embed`,
// docs/ijepa-step.md §2.3), computed in float64 on the host.
//
// Width E = 4Q, ω_k = 10000^(−k/Q), k = 0..Q−1. Token n = i·G + j (row i, column j):
//   [0, Q): sin(j·ω_k)   [Q, 2Q): cos(j·ω_k)   [2Q, 3Q): sin(i·ω_k)   [3Q, 4Q): cos(i·ω_k)
// The FIRST half encodes the column (x) index although the official code calls it "h" (its
// meshgrid is in "xy" order). ω is formed as numpy does it: 1 / 10000^(k/Q) with k/Q computed
// first, so the float64 values agree with the official table before rounding to float32.
//
// Deliberately not here: the official `interpolate_pos_encoding` resize (it assumes a cls token and
// is wrong for I-JEPA), and any tensor code: the model uploads the table as a frozen parameter.

/** The [G·G, E] table, row-major, in float64. Throws unless E is a positive multiple of 4. */
export function sincos2d(E: number, G: number): Float64Array {
  if (!Number.isInteger(E) || E <= 0 || E % 4 !== 0) {
    throw new RangeError(`sincos2d: width E ${E} must be a positive multiple of 4 (sin and cos of row and column)`);
  }
  if (!Number.isInteger(G) || G <= 0) throw new RangeError(`sincos2d: grid side G ${G} must be a positive integer`);
  const Q = E / 4;
  const omega = new Float64Array(Q);
  for (let k = 0; k < Q; k++) omega[k] = 1 / 10000 ** (k / Q);
  const out = new Float64Array(G * G * E);
  for (let i = 0; i < G; i++) {
    for (let j = 0; j < G; j++) {
      const row = (i * G + j) * E;
      for (let k = 0; k < Q; k++) {
        const x = j * omega[k]!, y = i * omega[k]!;
        out[row + k] = Math.sin(x);
        out[row + Q + k] = Math.cos(x);
        out[row + 2 * Q + k] = Math.sin(y);
        out[row + 3 * Q + k] = Math.cos(y);
      }
    }
  }
  return out;
}
