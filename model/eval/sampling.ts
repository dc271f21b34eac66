// sampling: seeded, class-balanced choices of sample indices, shared by the evaluation sets
// (a class-balanced Fashion-MNIST subset), the probe's 80/20 held-out split, and low-shot labels.
//
// Every function is a pure function of (labels, sizes, seed): the same call gives the same
// indices on every machine. Indices come back sorted ascending, so downstream order does not
// depend on the draw. Streams are separated by a domain tag per use (mixSeed's first part).
//
// Deliberately not: weighted or stratified-by-proportion sampling of imbalanced sets beyond what
// the two functions say.

import { Rng, mixSeed, shuffleInPlace } from '../data/index.ts';

const TAG_BALANCED = 0x4241_4c41;
const TAG_SPLIT = 0x5350_4c54;

/** Indices of each class 0..C-1 (labels < 0 are ignored), in index order. */
export function indicesByClass(labels: ArrayLike<number>, numClasses?: number): number[][] {
  let C = numClasses ?? 0;
  if (numClasses === undefined) { for (let i = 0; i < labels.length; i++) C = Math.max(C, labels[i]! + 1); }
  const out: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y >= 0 && y < C) out[y]!.push(i);
  }
  return out;
}

/**
 * `perClass` random indices of every class (all of a class that has fewer), seeded; sorted.
 * This is how the low-shot sets and the Fashion-MNIST train subset are drawn.
 */
export function classBalancedSample(labels: ArrayLike<number>, perClass: number, seed: number, numClasses?: number): Int32Array {
  if (!(Number.isInteger(perClass) && perClass >= 0)) throw new RangeError(`classBalancedSample: perClass ${perClass} must be an integer ≥ 0`);
  const picked: number[] = [];
  indicesByClass(labels, numClasses).forEach((idx, c) => {
    const a = Int32Array.from(idx);
    shuffleInPlace(a, new Rng(mixSeed(TAG_BALANCED, seed, c)));
    for (let i = 0; i < Math.min(perClass, a.length); i++) picked.push(a[i]!);
  });
  return Int32Array.from(picked.sort((a, b) => a - b));
}

/**
 * Split indices 0..n-1 into fit and held-out parts, per class: round(fraction·count) of each
 * class held out, but at least one when the class has two or more and at most count − 1, so
 * every class with a second sample is seen on both sides. Seeded; both parts sorted.
 */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, seed: number): { fit: Int32Array; held: Int32Array; } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`stratifiedSplit: fraction ${fraction} must be in [0, 1)`);
  const fit: number[] = [], held: number[] = [];
  indicesByClass(labels).forEach((idx, c) => {
    const a = Int32Array.from(idx);
    shuffleInPlace(a, new Rng(mixSeed(TAG_SPLIT, seed, c)));
    const h = a.length < 2 || fraction === 0 ? 0 : Math.min(a.length - 1, Math.max(1, Math.round(fraction * a.length)));
    a.forEach((v, i) => (i < h ? held : fit).push(v));
  });
  return { fit: Int32Array.from(fit.sort((a, b) => a - b)), held: Int32Array.from(held.sort((a, b) => a - b)) };
}

/** Rows `idx` of a row-major [n, D] matrix. */
export function takeRows(x: Float32Array, D: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * D);
  for (let i = 0; i < idx.length; i++) out.set(x.subarray(idx[i]! * D, (idx[i]! + 1) * D), i * D);
  return out;
}

/** Entries `idx` of a label vector. */
export function takeLabels(y: Int32Array, idx: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: idx.length }, (_, i) => y[idx[i]!]!);
}
