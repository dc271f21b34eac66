// collapse: cheap signs of representation collapse, computed on the host from a batch of pooled
// features. The loss alone hides collapse (a predictor can lower it from positions alone), so
// the trainer logs these every few steps:
//  - std: the per-feature standard deviation across images, averaged over features;
//  - RankMe (Garrido et al., ICML 2023): exp of the entropy of the normalised singular values of
//    the [B, D] feature matrix — the effective rank, between 1 (collapsed) and min(B, D).
// Singular values come from the eigenvalues of the smaller Gram matrix (Jacobi rotations in f64).

/** Eigenvalues of a symmetric n×n matrix (row-major, copied), by cyclic Jacobi. */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i * n + j]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!, akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!, aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Float64Array.from({ length: n }, (_, i) => m[i * n + i]!);
}

/** The collapse watch: mean per-dimension feature std, RankMe (the entropy effective rank) and its ceiling min(B, D). */
export interface CollapseStats {
  std: number;
  rankMe: number;
  maxRank: number;
}

/** std and RankMe of features [B, D] (row-major). */
export function collapseStats(features: ArrayLike<number>, B: number, D: number): CollapseStats {
  let std = 0;
  for (let d = 0; d < D; d++) {
    let mean = 0;
    for (let b = 0; b < B; b++) mean += features[b * D + d]!;
    mean /= B;
    let v = 0;
    for (let b = 0; b < B; b++) v += (features[b * D + d]! - mean) ** 2;
    std += Math.sqrt(v / Math.max(1, B - 1));
  }
  std /= D;
  // Gram matrix of the smaller side: its eigenvalues are the squared singular values
  const n = Math.min(B, D);
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      if (B <= D) { for (let d = 0; d < D; d++) s += features[i * D + d]! * features[j * D + d]!; }
      else for (let b = 0; b < B; b++) s += features[b * D + i]! * features[b * D + j]!;
      gram[i * n + j] = s;
      gram[j * n + i] = s;
    }
  }
  const sv = Array.from(symmetricEigenvalues(gram, n), (e) => Math.sqrt(Math.max(0, e)));
  const total = sv.reduce((a, b) => a + b, 0) + 1e-12;
  let entropy = 0;
  for (const s of sv) {
    const p = s / total + 1e-12;
    entropy -= p * Math.log(p);
  }
  return { std, rankMe: Math.exp(entropy), maxRank: n };
}
