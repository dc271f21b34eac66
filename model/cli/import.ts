// `ijepa import`: an official I-JEPA checkpoint (.pth.tar), an official-name safetensors file or a
// Hugging Face IJepaModel safetensors file → our train-state checkpoint, which `ijepa eval
// --checkpoint` and `ijepa export` read. A host-side file conversion (model/interop/convert.ts):
// names and shapes are checked against the preset before any tensor data is read, and nothing in
// the pickle is executed. The preset supplies the model shape (heads cannot be read off weights);
// the shape options override it for files that match no preset.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CpuBackend, setBackend } from '../../engine/index.ts';
import { importCheckpoint } from '../interop/index.ts';
import { derivePreset, getPreset, PRESET_NAMES, MODEL_FIELDS, RUN_FIELDS, optionRange, type ModelConfig } from '../index.ts';
import { makeDirs } from '../node.ts';
import { command, OptionError, type OptionTable } from './options.ts';

const FROM_PRESET = 'from the preset';

export const IMPORT_OPTIONS = {
  from: { type: 'string', help: 'file to import: official .pth.tar, or safetensors (official or Hugging Face IJepaModel names)' },
  preset: { type: 'string', help: 'model shape the file must match', choices: PRESET_NAMES },
  out: { type: 'string', help: 'checkpoint to write (ijepa-webgpu train state, .safetensors)' },
  'img-size': { ...optionRange(MODEL_FIELDS.imgSize), help: 'input side in pixels', defaultText: FROM_PRESET },
  'patch-size': { ...optionRange(MODEL_FIELDS.patchSize), help: 'patch side', defaultText: FROM_PRESET },
  dim: { ...optionRange(MODEL_FIELDS.dim), help: 'encoder width D', defaultText: FROM_PRESET },
  depth: { ...optionRange(MODEL_FIELDS.depth), help: 'encoder blocks', defaultText: FROM_PRESET },
  heads: { ...optionRange(MODEL_FIELDS.heads), help: 'attention heads (not recorded in the weights)', defaultText: FROM_PRESET },
  'pred-dim': { ...optionRange(MODEL_FIELDS.predDim), help: 'predictor width Dp', defaultText: FROM_PRESET },
  'pred-depth': { ...optionRange(MODEL_FIELDS.predDepth), help: 'predictor blocks', defaultText: FROM_PRESET },
  target: { type: 'string', help: 'what the predictor regresses', default: 'features', choices: ['features', 'pixels'] },
  seed: { ...optionRange(RUN_FIELDS.seed), help: 'seed of a fresh predictor when the file has none', default: 0 },
} satisfies OptionTable;

const SUMMARY = 'Import an official I-JEPA checkpoint or safetensors file as an ijepa-webgpu checkpoint.';
const USAGE = 'ijepa import --from FILE.pth.tar|FILE.safetensors --preset NAME --out FILE [options]';

export const importCommand = command({ name: 'import', summary: SUMMARY, options: IMPORT_OPTIONS, usage: USAGE },
  async ({ values: v }): Promise<void> => {
    for (const k of ['from', 'preset', 'out'] as const) {
      if (v[k] === undefined) throw new OptionError(`--${k} is required; see 'ijepa import --help'`);
    }
    const model: Partial<ModelConfig> = {};
    const over: [keyof typeof IMPORT_OPTIONS, keyof ModelConfig][] = [['img-size', 'imgSize'], ['patch-size', 'patchSize'], ['dim', 'dim'], ['depth',
      'depth'], ['heads', 'heads'], ['pred-dim', 'predDim'], ['pred-depth', 'predDepth']];
    for (const [opt, field] of over) if (v[opt] !== undefined) model[field] = Number(v[opt]);
    const base = getPreset(String(v.preset));
    const preset = Object.keys(model).length ? derivePreset(base, { name: `${base.name}+overrides`, model }) : base;
    // A fresh predictor (when the file has none) is initialised on the host: no GPU needed here.
    setBackend(new CpuBackend());
    const from = resolve(String(v.from)), out = resolve(String(v.out));
    // the file being read is never the one written (the same path, or a link to it): a failed
    // import would otherwise have destroyed its source
    if (from === out || sameFile(from, out)) throw new OptionError(`--out ${out} is the --from file; give another path for the checkpoint`);
    // --out into a folder that does not exist yet, as export and embed do
    await makeDirs(dirname(out)).catch((e: Error) => {
      throw new OptionError(`--out ${out}: ${e.message}`);
    });
    const r = await importCheckpoint({ from, preset, out, target: v.target as 'features' | 'pixels', seed: Number(v.seed) });
    console.log(`imported ${from} (${r.format}) → ${out}`);
    for (const [net, src] of Object.entries(r.sources)) console.log(`  ${net.padEnd(15)} ${src}`);
    console.log(`  ${'opt'.padEnd(15)} ${r.opt ? `AdamW moments for ${r.opt.tensors} tensors (step ${r.opt.step})` : 'none'}`);
    for (const n of r.notes) if (!/^(encoder|predictor|target_encoder): (fresh|copy)/.test(n)) console.log(`  note: ${n}`);
  });

/** Whether two paths name one existing file (hard or symbolic links included). */
function sameFile(a: string, b: string): boolean {
  const sa = statSync(a, { throwIfNoEntry: false }), sb = statSync(b, { throwIfNoEntry: false });
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}
