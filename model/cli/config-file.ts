// config-file: the official I-JEPA yaml configs (as JSON) mapped one-to-one onto a preset.
// Keys that only concern the official cluster setup (paths, workers, logging folders) are
// accepted and ignored; an unknown key is an error naming it, so a typo never passes silently.
import { derivePreset, getPreset, type MaskConfig, type ModelConfig, type OptimConfig, type Preset } from '../presets.ts';

const IGNORED = new Set([
  'data.root_path', 'data.image_folder', 'data.num_workers', 'data.pin_mem', 'data.use_gaussian_blur',
  'data.use_horizontal_flip', 'data.use_color_distortion', 'data.color_jitter_strength', 'data.crop_scale',
  'logging.folder', 'logging.write_tag', 'meta.load_checkpoint', 'meta.read_checkpoint', 'meta.copy_data',
  'meta.use_bfloat16', 'data.copy_data',
]);

const MODEL_NAMES: Record<string, string> = {
  vit_tiny: 'vit-tiny', vit_small: 'vit-small', vit_base: 'vit-base', vit_large: 'vit-large', vit_huge: 'vit-huge',
};

type Json = Record<string, unknown>;

export function applyConfigFile(base: Preset, json: unknown, file: string): Preset {
  if (typeof json !== 'object' || json === null) throw new Error(`--config ${file}: expected a JSON object`);
  const flat: Record<string, unknown> = {};
  for (const [section, body] of Object.entries(json as Json)) {
    if (typeof body !== 'object' || body === null) throw new Error(`--config ${file}: section '${section}' must be an object`);
    for (const [k, val] of Object.entries(body as Json)) flat[`${section}.${k}`] = val;
  }
  let preset = base;
  const model: Partial<ModelConfig> = {}, mask: Partial<MaskConfig> = {}, optim: Partial<OptimConfig> = {};
  const num = (k: string) => { const x = flat[k]; if (typeof x !== 'number') throw new Error(`--config ${file}: ${k} must be a number, got ${JSON.stringify(x)}`); return x; };
  const pair = (k: string) => { const x = flat[k]; if (!Array.isArray(x) || x.length !== 2 || x.some((y) => typeof y !== 'number')) throw new Error(`--config ${file}: ${k} must be [number, number]`); return [x[0], x[1]] as [number, number]; };
  for (const key of Object.keys(flat)) {
    if (IGNORED.has(key)) continue;
    switch (key) {
      case 'meta.model_name': {
        const name = String(flat[key]);
        const size = MODEL_NAMES[name];
        if (!size) throw new Error(`--config ${file}: meta.model_name '${name}' is not one of ${Object.keys(MODEL_NAMES).join(', ')}`);
        const patch = typeof flat['mask.patch_size'] === 'number' ? flat['mask.patch_size'] : 16;
        preset = getPreset(`${size}-${patch === 14 ? 14 : 16}`);
        break;
      }
      case 'meta.pred_depth': model.predDepth = num(key); break;
      case 'meta.pred_emb_dim': model.predDim = num(key); break;
      case 'data.crop_size': model.imgSize = num(key); break;
      case 'mask.patch_size': model.patchSize = num(key); break;
      case 'data.batch_size': optim.batch = num(key); break;
      case 'mask.enc_mask_scale': mask.encMaskScale = pair(key); break;
      case 'mask.pred_mask_scale': mask.predMaskScale = pair(key); break;
      case 'mask.aspect_ratio': mask.aspectRatio = pair(key); break;
      case 'mask.num_enc_masks': mask.nenc = num(key); break;
      case 'mask.num_pred_masks': mask.npred = num(key); break;
      case 'mask.min_keep': mask.minKeep = num(key); break;
      case 'mask.allow_overlap': mask.allowOverlap = flat[key] === true; break;
      case 'optimization.lr': optim.refLr = num(key); break;
      case 'optimization.start_lr': optim.startLr = num(key); break;
      case 'optimization.final_lr': optim.finalLr = num(key); break;
      case 'optimization.weight_decay': optim.refWd = num(key); break;
      case 'optimization.final_weight_decay': optim.finalWd = num(key); break;
      case 'optimization.ema': { const [a, b] = pair(key); optim.emaStart = a; optim.emaFinal = b; break; }
      case 'optimization.warmup': optim.warmupEpochs = num(key); break;
      case 'optimization.epochs': optim.epochs = num(key); break;
      case 'optimization.ipe_scale': optim.ipeScale = num(key); break;
      default: throw new Error(`--config ${file}: unknown key '${key}'`);
    }
  }
  return derivePreset(preset, { model, mask, optim });
}
