// official-config: `ijepa export --to pth` writes the official yaml beside the checkpoint. The yaml
// has exactly the keys the official src/train.py reads, PyYAML reads its numbers as the types the
// official code uses (1e-06 without a decimal point would be a string in YAML 1.1), and
// `ijepa train --config` reads it back to the same preset.
import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import { skipUnless } from './skips.ts';
import * as assert from 'uvu/assert';
import { applyConfigFile } from '../model/cli/config-file.ts';
import { formatOfficialConfig, OFFICIAL_CONFIG_KEYS, officialConfig, officialConfigPath } from '../model/interop/official-config.ts';
import { derivePreset, getPreset, type Preset } from '../model/presets.ts';

// An official-size encoder with every other field moved off its default, tiny numbers included.
const PRESET: Preset = derivePreset(getPreset('vit-small-16'), {
  name: 'round-trip',
  model: { imgSize: 96, predDepth: 3, predDim: 192 },
  mask: { encMaskScale: [0.8, 0.95], predMaskScale: [0.1, 0.25], aspectRatio: [0.5, 2], nenc: 2, npred: 3, minKeep: 4, allowOverlap: true },
  optim: { batch: 24, refLr: 3.5e-4, startLr: 1e-7, finalLr: 2.5e-8, refWd: 0.05, finalWd: 0.3, emaStart: 0.99, emaFinal: 1, warmupEpochs: 2.5,
    epochs: 12, ipeScale: 1 },
});
const OPTS = { data: '/data/imgs', folder: '/runs/x', checkpoint: 'jepa-latest.pth.tar' };

const t = suite('official config');

t('the yaml has exactly the keys src/train.py reads, section by section', () => {
  const json = JSON.parse(formatOfficialConfig(officialConfig(PRESET, OPTS).config)) as Record<string, Record<string, unknown>>;
  assert.equal(Object.keys(json), Object.keys(OFFICIAL_CONFIG_KEYS));
  for (const [section, keys] of Object.entries(OFFICIAL_CONFIG_KEYS)) assert.equal(Object.keys(json[section]!).sort(), [...keys].sort(), section);
  assert.is(json.meta!.model_name, 'vit_small');
  assert.is(json.meta!.use_bfloat16, false, 'no bf16: our checkpoint has no GradScaler state to resume');
  assert.is(json.meta!.read_checkpoint, 'jepa-latest.pth.tar');
  assert.is(json.logging!.folder, '/runs/x');
});

t('--config reads the exported yaml back to the same preset', () => {
  const text = formatOfficialConfig(officialConfig(PRESET, OPTS).config);
  const back = applyConfigFile(getPreset('micro'), JSON.parse(text), 'x.yaml');
  assert.equal(back.model, PRESET.model);
  assert.equal(back.mask, PRESET.mask);
  assert.equal(back.optim, PRESET.optim);
});

t('a model size the official code lacks reads back too, onto the preset that names the rest (MLP ratio, init)', () => {
  const small = getPreset('small-recipe');
  const text = formatOfficialConfig(officialConfig(small, OPTS).config);
  const back = applyConfigFile(small, JSON.parse(text), 'x.yaml');
  assert.equal(back.model, small.model);
  assert.equal(back.mask, small.mask);
  assert.throws(() => applyConfigFile(small, { meta: { model_name: 'vit_d100000_depth4_heads4' } }, 'x.yaml'), /meta\.model_name \(dim\)/);
});

t('every float is written with a decimal point, so YAML 1.1 reads it as a float', () => {
  const text = formatOfficialConfig(officialConfig(PRESET, OPTS).config);
  assert.match(text, /"start_lr": 1\.0e-07,/);
  assert.match(text, /"final_lr": 2\.5e-08/);
  assert.match(text, /"ema": \[0\.99, 1\.0\]/);
  assert.match(text, /"ipe_scale": 1\.0,/);
  assert.match(text, /"batch_size": 24,/);
  for (const m of text.matchAll(/-?\d[\d.]*(e[-+]?\d+)?/gi)) {
    if (/e/i.test(m[0])) assert.ok(m[0].includes('.') && /e[-+]\d/i.test(m[0]), `${m[0]} would be a string in YAML 1.1`);
  }
});

const py = spawnSync('/usr/bin/python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;
skipUnless(t, py, 'python3-yaml',
  '/usr/bin/python3 cannot import yaml (bash scripts/setup.sh --test installs it); the decimal-point check above still runs')(
    'PyYAML reads it as the official config (floats as floats, flags as booleans)',
    () => {
      const text = formatOfficialConfig(officialConfig(PRESET, OPTS).config);
      const r = spawnSync('/usr/bin/python3', ['-c', [
        'import sys, yaml, json',
        'c = yaml.load(sys.stdin.read(), Loader=yaml.FullLoader)',
        'o = c["optimization"]',
        'print(json.dumps({k: type(v).__name__ for k, v in [("start_lr", o["start_lr"]), ("final_lr", o["final_lr"]), ("lr", o["lr"]), ("ema", o["ema"][1]),',
        '  ("batch_size", c["data"]["batch_size"]), ("use_bfloat16", c["meta"]["use_bfloat16"]), ("root_path", c["data"]["root_path"])]}))',
      ].join('\n')], { input: text, encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout), { start_lr: 'float', final_lr: 'float', lr: 'float', ema: 'float', batch_size: 'int', use_bfloat16: 'bool',
        root_path: 'str' });
    },
  );

t('what the official code cannot express is a note: custom model size, pixel targets, mode fixed, fractional epochs, the data', () => {
  const small = getPreset('small-recipe');
  const { config, notes } = officialConfig(derivePreset(small, { mask: { mode: 'fixed' } }), { ...OPTS, data: null, target: 'pixels' });
  assert.is(config.meta.model_name, 'vit_d128_depth4_heads4');
  const all = notes.join('\n');
  assert.match(all, /none of the official ViT sizes; meta\.model_name is vit_d128_depth4_heads4: add to src\/models\/vision_transformer\.py/);
  assert.match(all, /def vit_d128_depth4_heads4\(patch_size=16, \*\*kwargs\):\n.*embed_dim=128, depth=4, num_heads=4, mlp_ratio=4/);
  assert.match(all, /regresses pixels/);
  assert.match(all, /mask mode 'fixed' has no official key/);
  assert.match(all, /epochs 0\.683\d* is fractional/);
  assert.match(all, /Fashion-MNIST, which the official code cannot load/);
  assert.is(officialConfigPath('/a/jepa-latest.pth.tar'), '/a/jepa-latest.yaml');
  assert.is(officialConfigPath('/a/run.pth'), '/a/run.yaml');
});

t.run();
