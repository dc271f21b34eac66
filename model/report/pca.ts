// pca: the first three principal components of a set of feature vectors, mapped to RGB bytes
// (the DINO-style "PCA of patch features" picture).
//
// X [M, D] is centred; the top-3 right singular vectors come from subspace (orthogonal) iteration
// Q ← orth(Xᵀ X Q), which needs only products with X (2·M·D·3 flops per sweep) rather than the
// D×D covariance, so ViT-H widths cost no more than a few milliseconds per sweep. Everything in
// f64; deterministic (fixed start, fixed sweep count, sign fixed so each component's largest-|·|
// projection is positive). Each component is then mapped to [0, 255] between its 1st and 99th
// percentile over all M vectors, so a few outliers do not wash out the picture.

/** Projections of the centred X onto its top-k principal directions: [M, k] (k ≤ min(M, D)). */
export function principalComponents(X: ArrayLike<number>, M: number, D: number, k = 3, sweeps = 100): Float64Array {
  if (X.length !== M * D) throw new RangeError(`principalComponents: ${X.length} values are not [${M}, ${D}]`);
  const K = Math.min(k, M, D);
  const Xc = new Float64Array(M * D);
  for (let d = 0; d < D; d++) {
    let mean = 0;
    for (let i = 0; i < M; i++) mean += X[i * D + d]!;
    mean /= M;
    for (let i = 0; i < M; i++) Xc[i * D + d] = X[i * D + d]! - mean;
  }
  // Q [D, K]: a fixed, well-spread start (a deterministic pseudo-random sequence)
  let Q = new Float64Array(D * K);
  for (let i = 0; i < D * K; i++) Q[i] = Math.sin(12.9898 * (i + 1)) * 43758.5453 % 1;
  orthonormalize(Q, D, K);
  const Y = new Float64Array(M * K);
  for (let s = 0; s < sweeps; s++) {
    // Y = Xc Q  [M, K];  Q = Xcᵀ Y  [D, K]
    Y.fill(0);
    for (let i = 0; i < M; i++) {
      for (let d = 0; d < D; d++) {
        const x = Xc[i * D + d]!;
        if (x === 0) continue;
        for (let j = 0; j < K; j++) Y[i * K + j]! += x * Q[d * K + j]!;
      }
    }
    const next = new Float64Array(D * K);
    for (let i = 0; i < M; i++) {
      for (let d = 0; d < D; d++) {
        const x = Xc[i * D + d]!;
        if (x === 0) continue;
        for (let j = 0; j < K; j++) next[d * K + j]! += x * Y[i * K + j]!;
      }
    }
    if (!orthonormalize(next, D, K)) break; // rank-deficient: keep the last good basis
    Q = next;
  }
  const P = new Float64Array(M * k);
  for (let i = 0; i < M; i++) {
    for (let d = 0; d < D; d++) {
      const x = Xc[i * D + d]!;
      for (let j = 0; j < K; j++) P[i * k + j]! += x * Q[d * K + j]!;
    }
  }
  for (let j = 0; j < K; j++) {
    let best = 0;
    for (let i = 0; i < M; i++) if (Math.abs(P[i * k + j]!) > Math.abs(best)) best = P[i * k + j]!;
    if (best < 0) { for (let i = 0; i < M; i++) P[i * k + j] = -P[i * k + j]!; }
  }
  return P;
}

/** Modified Gram–Schmidt on the K columns of Q [D, K], in place; false if a column vanished. */
function orthonormalize(Q: Float64Array, D: number, K: number): boolean {
  for (let j = 0; j < K; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += Q[d * K + j]! * Q[d * K + i]!;
      for (let d = 0; d < D; d++) Q[d * K + j]! -= dot * Q[d * K + i]!;
    }
    let n = 0;
    for (let d = 0; d < D; d++) n += Q[d * K + j]! ** 2;
    n = Math.sqrt(n);
    if (!(n > 1e-300)) return false;
    for (let d = 0; d < D; d++) Q[d * K + j]! /= n;
  }
  return true;
}

/** Features [M, D] → RGB bytes [M, 3] from their first three principal components. */
export function pcaRgb(X: ArrayLike<number>, M: number, D: number): Uint8Array {
  const P = principalComponents(X, M, D, 3);
  const out = new Uint8Array(M * 3);
  for (let j = 0; j < 3; j++) {
    const col = Float64Array.from({ length: M }, (_, i) => P[i * 3 + j]!).sort();
    const lo = col[Math.floor(0.01 * (M - 1))]!, hi = col[Math.ceil(0.99 * (M - 1))]!;
    const span = hi > lo ? hi - lo : 1;
    for (let i = 0; i < M; i++) out[i * 3 + j] = Math.round(255 * Math.min(1, Math.max(0, (P[i * 3 + j]! - lo) / span)));
  }
  return out;
}
