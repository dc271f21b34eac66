// `ijepa check-step BUNDLE...`: run one I-JEPA step from a step bundle's state (written by
// test/golden/make_step_bundle.py or any implementation of its format) and compare loss,
// activations, gradients, updated parameters and the EMA target with the bundle's.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { initWebGPU } from '../../engine/device/node.ts';
import { checkStepBundle, DEFAULT_TOLERANCE, formatParityReport, parseStepBundle, type ParityTolerance } from '../index.ts';
import { command, OptionError, type OptionTable } from './options.ts';

const OPTIONS = {
  tol: { type: 'number', help: "max error of loss, activations and gradients, relative to each tensor's largest magnitude",
    defaultText: 'per group, 4× the measured error', min: 0, max: 1 },
  'after-tol': { type: 'number', help: 'max absolute error of parameters after the step, in units of lr',
    defaultText: 'per group, 4× the measured error', min: 0, max: 1e6 },
} satisfies OptionTable;

/** The per-group defaults, with --tol and --after-tol (when given) replacing a whole class. */
function tolerance(rel: unknown, after: unknown): ParityTolerance {
  const t = { ...DEFAULT_TOLERANCE };
  if (rel !== undefined) t.loss = t.act = t.grad = Number(rel);
  if (after !== undefined) t['after/encoder'] = t['after/predictor'] = t['after/target_encoder'] = Number(after);
  return t;
}
const SUMMARY = 'Check one training step against a PyTorch step bundle (.safetensors); exits 1 above tolerance.';

export const checkStepCommand = command({ name: 'check-step', summary: SUMMARY, options: OPTIONS,
  usage: 'ijepa check-step <bundle.safetensors>... [options]', positionals: true }, async ({ values, positionals }): Promise<void> => {
  if (positionals.length === 0) throw new OptionError('check-step: give at least one bundle file');
  await initWebGPU();
  let failed = 0;
  for (const path of positionals) {
    const r = await checkStepBundle(parseStepBundle(readFileSync(path), basename(path)), { tol: tolerance(values.tol, values['after-tol']) });
    console.log(formatParityReport(r));
    if (!r.ok) failed++;
  }
  if (failed) throw new Error(`${failed} of ${positionals.length} bundles above tolerance`);
});
