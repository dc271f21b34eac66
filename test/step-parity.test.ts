// step-parity: one I-JEPA training step from each PyTorch step bundle (test/golden/bundles,
// written by test/golden/make_step_bundle.py) against its float64 reference: loss, activations,
// gradients, the parameters after AdamW and the EMA target (model/step-bundle.ts). Runs in Node
// and, unchanged, on every browser adapter of test/browser/run.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkStepBundle, formatParityReport, parseStepBundle } from '../model/step-bundle.ts';
import { bundleNames, readBundle } from './golden-bundles.ts';
import { checkLeaks } from './helpers.ts';

const t = suite('step-parity');
checkLeaks(t);

const names = await bundleNames();
t('the golden bundles are there', () => assert.ok(names.length >= 3, `bundles: ${names.join(', ')}`));

for (const name of names) {
  t(`one step matches the PyTorch bundle ${name} (f32)`, async () => {
    const r = await checkStepBundle(parseStepBundle(await readBundle(name), name));
    assert.ok(r.ok, formatParityReport(r));
    const groups = r.groups.map((g) => g.group);
    for (const g of ['loss', 'act/context', 'act/target', 'act/prediction', 'grad/encoder', 'grad/predictor',
      'after/encoder', 'after/predictor', 'after/target_encoder']) assert.ok(groups.includes(g), `group ${g} compared`);
  });
}

t.run();
