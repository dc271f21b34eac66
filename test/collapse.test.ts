import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { collapseStats, symmetricEigenvalues } from '../model/collapse.ts';

const t = suite('collapse watch');

t('Jacobi eigenvalues of a known symmetric matrix', () => {
  const ev = Array.from(symmetricEigenvalues(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3)).sort((a, b) => a - b);
  [1, 3, 5].forEach((e, i) => assert.ok(Math.abs(ev[i]! - e) < 1e-10, `eigenvalue ${i}: ${ev[i]} vs ${e}`));
});

t('RankMe is ~1 for collapsed features and ~min(B, D) for isotropic ones', () => {
  const B = 16, D = 8;
  const collapsed = new Float64Array(B * D), iso = new Float64Array(B * D);
  let s = 1;
  const rnd = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  };
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      collapsed[b * D + d] = (1 + 0.001 * rnd()) * (d + 1);
      iso[b * D + d] = rnd();
    }
  }
  const c = collapseStats(collapsed, B, D), i = collapseStats(iso, B, D);
  assert.ok(c.rankMe < 1.1, `collapsed rankMe ${c.rankMe}`);
  assert.ok(i.rankMe > 6, `isotropic rankMe ${i.rankMe}`);
  assert.ok(c.std < 0.01 && i.std > 0.2, `std ${c.std} vs ${i.std}`);
  assert.is(i.maxRank, 8);
});

t.run();
