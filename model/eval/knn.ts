// knn: weighted k-nearest-neighbour classification of frozen features (Wu et al. 2018, as DINO's
// eval_knn.py and docs/small-recipe.md): cosine similarity to every training feature, the k most
// similar vote for their class with weight exp(sim / T).
//
//   score[q, c] = Σ_{j ∈ topk(q)} [y_j = c] · exp(s_qj / T),   s_qj = x̂_q · x̂_j,  x̂ = x / ‖x‖
//   pred[q]     = argmax_c score[q, c]   (lowest class index on a tie)
//
// The similarities are one matmul of L2-normalised features on the engine per chunk of queries
// ([chunk, D] · [n, D]ᵀ); the top-k selection and the vote run on the host, because the engine
// has no top-k op. Neighbours that tie on similarity are taken in training-index order.
//
// Memory: the normalised training features live for the call and are disposed at its end; each
// chunk runs in its own tidy. Deliberately not here: approximate search, or k/T sweeps.

import { fromArray, keep, noGrad, tidy, type Tensor } from '../../engine/index.ts';

export interface KnnOptions {
  /** Neighbours (default 20). */
  k?: number;
  /** Temperature T of the vote weights (default 0.07). */
  temperature?: number;
  /** Number of classes (default: 1 + the largest training label). */
  numClasses?: number;
  /** Queries per similarity matmul (default 512). */
  chunk?: number;
}

export interface KnnResult {
  /** [nTest, C] vote scores (f64). */
  scores: Float64Array;
  /** [nTest] predicted class. */
  pred: Int32Array;
  /** Fraction of queries predicted right (NaN without test labels). */
  accuracy: number;
}

/** x / max(‖x‖, 1e-12) per row, on the engine. x [n, D] → [n, D]. */
function l2Rows(x: Tensor): Tensor {
  return x.div(x.mul(x).sum(1, true).sqrt().maximum(1e-12));
}

/**
 * Classify `test` ([nTest, D] row-major) by the weighted vote of its k nearest `train` rows
 * ([nTrain, D]) under cosine similarity. `testLabels` (optional) gives the accuracy.
 */
export async function knnClassify(
  train: Float32Array,
  trainLabels: Int32Array,
  test: Float32Array,
  D: number,
  testLabels: Int32Array | null,
  opts: KnnOptions = {},
): Promise<KnnResult> {
  const nTrain = trainLabels.length, nTest = test.length / D;
  if (train.length !== nTrain * D || !Number.isInteger(nTest)) {
    throw new Error(`knn: train has ${train.length} values for ${nTrain} labels × D ${D}; test has ${test.length} values (not a multiple of D)`);
  }
  if (nTrain === 0) throw new Error('knn: no training features');
  const k = Math.min(opts.k ?? 20, nTrain);
  const T = opts.temperature ?? 0.07;
  const C = opts.numClasses ?? numClassesOf(trainLabels);
  for (let j = 0; j < nTrain; j++) {
    const y = trainLabels[j]!;
    if (!(y >= 0 && y < C)) throw new Error(`knn: training label ${y} at index ${j} is outside 0..${C - 1}`);
  }
  const chunk = opts.chunk ?? 512;
  const scores = new Float64Array(nTest * C);
  const pred = new Int32Array(nTest);
  const bank = keep(noGrad(() => tidy(() => l2Rows(fromArray(train, [nTrain, D]))))); // [nTrain, D]
  const topSim = new Float64Array(k), topIdx = new Int32Array(k);
  try {
    for (let q0 = 0; q0 < nTest; q0 += chunk) {
      const rows = Math.min(chunk, nTest - q0);
      const sims = noGrad(() =>
        tidy(() => {
          const q = l2Rows(fromArray(test.subarray(q0 * D, (q0 + rows) * D), [rows, D])); // [rows, D]
          return q.matmul(bank, { transB: true }); // [rows, nTrain]
        })
      );
      let s: Float32Array | Float64Array | Int32Array;
      try {
        s = await sims.data();
      } finally {
        sims.dispose();
      }
      for (let r = 0; r < rows; r++) {
        const m = topK(s, r * nTrain, nTrain, k, topSim, topIdx);
        const row = (q0 + r) * C;
        for (let t = 0; t < m; t++) scores[row + trainLabels[topIdx[t]!]!]! += Math.exp(topSim[t]! / T);
        let best = 0;
        for (let c = 1; c < C; c++) if (scores[row + c]! > scores[row + best]!) best = c;
        pred[q0 + r] = best;
      }
    }
  } finally {
    bank.dispose();
  }
  return { scores, pred, accuracy: testLabels ? accuracyOf(pred, testLabels) : NaN };
}

/**
 * The k largest of v[off .. off+n) into sim/idx, largest first; ties keep the lower index.
 * Insertion into a sorted buffer: after the first few rows almost every value fails the first
 * comparison, so this is about one comparison per training feature.
 */
function topK(v: ArrayLike<number>, off: number, n: number, k: number, sim: Float64Array, idx: Int32Array): number {
  let m = 0;
  for (let j = 0; j < n; j++) {
    const x = v[off + j]!;
    if (m === k && !(x > sim[k - 1]!)) continue;
    let p = m < k ? m++ : k - 1;
    while (p > 0 && x > sim[p - 1]!) {
      sim[p] = sim[p - 1]!;
      idx[p] = idx[p - 1]!;
      p--;
    }
    sim[p] = x;
    idx[p] = j;
  }
  return m;
}

/** 1 + the largest label (0 for none). */
export function numClassesOf(labels: Int32Array): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i]!);
  return m + 1;
}

export function accuracyOf(pred: Int32Array, labels: Int32Array): number {
  if (pred.length !== labels.length) throw new Error(`accuracy: ${pred.length} predictions for ${labels.length} labels`);
  if (pred.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}
