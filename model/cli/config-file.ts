// config-file: the official I-JEPA yaml configs (as JSON) mapped one-to-one onto a preset.
// Keys that only concern the official cluster setup (paths, workers, logging folders) are
// accepted and ignored; an unknown key is an error naming it, so a typo never passes silently.
// Every value is checked against its field's range in model/config-schema.ts (the CLI's), and
// every error is an OptionError (a usage error, exit 2) naming the file and the key.
import { readFile } from 'node:fs/promises';
import { checkField, MASK_FIELDS, MODEL_FIELDS, OPTIM_FIELDS, show, derivePreset, getPreset, type Field, type MaskConfig, type ModelConfig,
  type OptimConfig, type Preset } from '../index.ts';
import { OptionError } from './options.ts';

const IGNORED = new Set([
  'data.root_path',
  'data.image_folder',
  'data.num_workers',
  'data.pin_mem',
  'data.use_gaussian_blur',
  'data.use_horizontal_flip',
  'data.use_color_distortion',
  'data.color_jitter_strength',
  'data.crop_scale',
  'logging.folder',
  'logging.write_tag',
  'meta.load_checkpoint',
  'meta.read_checkpoint',
  'meta.copy_data',
  'meta.use_bfloat16',
  'data.copy_data',
]);

const MODEL_NAMES: Record<string, string> = {
  vit_tiny: 'vit-tiny',
  vit_small: 'vit-small',
  vit_base: 'vit-base',
  vit_large: 'vit-large',
  vit_huge: 'vit-huge',
};

type Json = Record<string, unknown>;

// Each official key that sets a preset field, and that field (its range is the schema's).
const FIELD_OF: Record<string, ['model', keyof ModelConfig] | ['mask', keyof MaskConfig] | ['optim', keyof OptimConfig]> = {
  'meta.pred_depth': ['model', 'predDepth'],
  'meta.pred_emb_dim': ['model', 'predDim'],
  'data.crop_size': ['model', 'imgSize'],
  'mask.patch_size': ['model', 'patchSize'],
  'data.batch_size': ['optim', 'batch'],
  'mask.enc_mask_scale': ['mask', 'encMaskScale'],
  'mask.pred_mask_scale': ['mask', 'predMaskScale'],
  'mask.aspect_ratio': ['mask', 'aspectRatio'],
  'mask.num_enc_masks': ['mask', 'nenc'],
  'mask.num_pred_masks': ['mask', 'npred'],
  'mask.min_keep': ['mask', 'minKeep'],
  'mask.allow_overlap': ['mask', 'allowOverlap'],
  'optimization.lr': ['optim', 'refLr'],
  'optimization.start_lr': ['optim', 'startLr'],
  'optimization.final_lr': ['optim', 'finalLr'],
  'optimization.weight_decay': ['optim', 'refWd'],
  'optimization.final_weight_decay': ['optim', 'finalWd'],
  'optimization.warmup': ['optim', 'warmupEpochs'],
  'optimization.epochs': ['optim', 'epochs'],
  'optimization.ipe_scale': ['optim', 'ipeScale'],
};
const SCHEMA = { model: MODEL_FIELDS, mask: MASK_FIELDS, optim: OPTIM_FIELDS } as const;

/** Read and parse a `--config` file; every failure names the file (and a JSON error its position). */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new OptionError(
      `--config ${file}: ${err.code === 'EISDIR' ? 'is a directory, not a file' : err.code === 'ENOENT' ? 'no such file' : err.message}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const yaml = /\.ya?ml$/i.test(file) ? ' (the official yaml keys are read as JSON: write the file as JSON)' : '';
    throw new OptionError(`--config ${file}: not valid JSON: ${(e as Error).message}${yaml}`);
  }
}

/**
 * The preset `base` with the official keys of `json` applied. Each value is checked against the
 * field it sets (model/config-schema.ts) before anything is built: an error names the file and the key.
 */
export function applyConfigFile(base: Preset, json: unknown, file: string): Preset {
  const where = `--config ${file}`;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new OptionError(`${where}: expected a JSON object of sections (data, mask, meta, optimization)`);
  }
  const flat: Record<string, unknown> = {};
  for (const [section, body] of Object.entries(json as Json)) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new OptionError(`${where}: section '${section}' must be an object`);
    for (const [k, val] of Object.entries(body as Json)) flat[`${section}.${k}`] = val;
  }
  let preset = base;
  const over = { model: {} as Json, mask: {} as Json, optim: {} as Json };
  for (const [key, value] of Object.entries(flat)) {
    if (IGNORED.has(key)) continue;
    const target = FIELD_OF[key];
    if (target) {
      const [group, field] = target;
      checkField((SCHEMA[group] as Record<string, Field>)[field]!, value, key, where, OptionError);
      over[group][field] = value;
    } else if (key === 'optimization.ema') {
      // [start, final]: not a range, so no order between the two
      if (!Array.isArray(value) || value.length !== 2) throw new OptionError(`${where}: ${key} ${show(value)} must be [start, final]`);
      checkField(OPTIM_FIELDS.emaStart, value[0], `${key}[0]`, where, OptionError);
      checkField(OPTIM_FIELDS.emaFinal, value[1], `${key}[1]`, where, OptionError);
      over.optim.emaStart = value[0];
      over.optim.emaFinal = value[1];
    } else if (key === 'meta.model_name') {
      const size = typeof value === 'string' ? MODEL_NAMES[value] : undefined;
      // `ijepa export` names a size the official code lacks vit_d{D}_depth{L}_heads{H}: the base
      // preset keeps what the name does not say (MLP ratio, patch-embedding init)
      const custom = typeof value === 'string' ? /^vit_d(\d+)_depth(\d+)_heads(\d+)$/.exec(value) : null;
      if (custom) {
        (['dim', 'depth', 'heads'] as const).forEach((field, i) => {
          checkField(MODEL_FIELDS[field], Number(custom[i + 1]), `${key} (${field})`, where, OptionError);
          over.model[field] = Number(custom[i + 1]);
        });
        continue;
      }
      if (!size) {
        throw new OptionError(
          `${where}: meta.model_name ${show(value)} is not one of ${Object.keys(MODEL_NAMES).join(', ')} (or vit_d{D}_depth{L}_heads{H})`,
        );
      }
      const patch = flat['mask.patch_size'] === 14 ? 14 : 16;
      preset = getPreset(`${size}-${patch}`);
    } else {
      throw new OptionError(`${where}: unknown key '${key}'`);
    }
  }
  try {
    return derivePreset(preset, over);
  } catch (e) {
    // a rule between fields (crop_size not a multiple of patch_size, warmup past epochs)
    throw new OptionError(`${where}: ${(e as Error).message}`);
  }
}
