// `ijepa check-step`: by default every group has its own tolerance (model/step-bundle.ts
// DEFAULT_TOLERANCE); --tol replaces those of loss, act/* and grad/*, --after-tol those of after/*.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_TOLERANCE } from '../model/step-bundle.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const BUNDLE = join(import.meta.dirname, 'golden', 'bundles', 'ema-0.9-s4.safetensors');
const checkStep = (...args: string[]) => spawnSync(process.execPath, [BIN, 'check-step', BUNDLE, ...args], { encoding: 'utf8', timeout: 120_000 });

const t = suite('check-step CLI');

t("passes with the per-group defaults and prints each group's tolerance", () => {
  const r = checkStep();
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`ok {3}act/target .*\\(tol ${DEFAULT_TOLERANCE.act.toExponential(1)}\\)`));
  assert.match(r.stdout, new RegExp(`ok {3}after/predictor .*\\(tol ${DEFAULT_TOLERANCE['after/predictor'].toExponential(1)}\\)`));
});

t('--tol tightens loss, act and grad only; --after-tol the after/* groups only', () => {
  const rel = checkStep('--tol', '1e-12');
  assert.is(rel.status, 1, rel.stdout);
  assert.match(rel.stdout, /FAIL act\/context/);
  assert.match(rel.stdout, /ok {3}after\/encoder/);
  const after = checkStep('--after-tol', '1e-12');
  assert.is(after.status, 1, after.stdout);
  assert.match(after.stdout, /FAIL after\/encoder/);
  assert.match(after.stdout, /ok {3}act\/context/);
});

t.run();
