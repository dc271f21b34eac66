// official-config: a run's config as the official I-JEPA yaml (configs/*.yaml of
// facebookresearch/ijepa, the keys src/train.py reads; docs/ijepa-step.md §6), the inverse of
// model/cli/config-file.ts. `ijepa export --to pth` writes it beside the .pth.tar so that the
// official code continues the run under torchrun (README, "Continue with the official code").
//
// The text is JSON, which is also YAML: PyYAML (yaml.load in src/train.py) reads it as the
// official config and `ijepa train --config` reads it back as JSON. One trap: PyYAML follows
// YAML 1.1, where `1e-06` (no decimal point) is a *string*, so every non-integer number is
// written with a decimal point (`1.0e-06`, `0.0002`), which both parsers read as a float.
//
// What has no official key is reported as a note instead of being silently dropped: a model shape
// that is none of the official ViT factories, the pixel-target variant, mask mode 'fixed', a
// fractional epoch count, and the data (the official loader reads {root_path}/{image_folder}/train/).
import type { Preset } from '../index.ts';

/** The keys facebookresearch/ijepa's src/train.py reads (commit 52c1ae95), by section, in the official configs' order. */
export const OFFICIAL_CONFIG_KEYS = {
  meta: ['use_bfloat16', 'model_name', 'load_checkpoint', 'read_checkpoint', 'copy_data', 'pred_depth', 'pred_emb_dim'],
  data: ['use_gaussian_blur', 'use_horizontal_flip', 'use_color_distortion', 'color_jitter_strength', 'batch_size', 'pin_mem', 'num_workers',
    'root_path', 'image_folder', 'crop_size', 'crop_scale'],
  mask: ['allow_overlap', 'patch_size', 'num_enc_masks', 'min_keep', 'enc_mask_scale', 'num_pred_masks', 'pred_mask_scale', 'aspect_ratio'],
  optimization: ['ema', 'ipe_scale', 'weight_decay', 'final_weight_decay', 'epochs', 'warmup', 'start_lr', 'lr', 'final_lr'],
  logging: ['folder', 'write_tag'],
} as const;

/** The official ViT factories (src/models/vision_transformer.py): width, depth, heads (MLP ratio 4). */
const FACTORIES: readonly [name: string, dim: number, depth: number, heads: number][] = [
  ['vit_tiny', 192, 12, 3],
  ['vit_small', 384, 12, 6],
  ['vit_base', 768, 12, 12],
  ['vit_large', 1024, 24, 16],
  ['vit_huge', 1280, 32, 16],
];

export interface OfficialConfigOptions {
  /** What the run trained on: an image folder, or null for Fashion-MNIST. */
  data: string | null;
  target?: 'features' | 'pixels';
  /** Where the official code reads the checkpoint and writes its own (logging.folder). */
  folder: string;
  /** The checkpoint file inside `folder` to continue from (meta.read_checkpoint). */
  checkpoint: string;
}

export type OfficialConfig = { [S in keyof typeof OFFICIAL_CONFIG_KEYS]: Record<(typeof OFFICIAL_CONFIG_KEYS)[S][number], unknown>; };

/** Where the yaml of a .pth.tar export goes: beside it, `x.pth.tar` → `x.yaml`. */
export function officialConfigPath(pth: string): string {
  return `${pth.replace(/(\.pth\.tar|\.pth|\.tar)$/i, '')}.yaml`;
}

/** The official factory name of a model shape, or a name for one to add (with `custom` set). */
export function officialModelName(m: Preset['model']): { name: string; custom: boolean; } {
  const f = FACTORIES.find(([, dim, depth, heads]) => dim === m.dim && depth === m.depth && heads === m.heads);
  if (f && m.mlpRatio === 4) return { name: f[0], custom: false };
  return { name: `vit_d${m.dim}_depth${m.depth}_heads${m.heads}`, custom: true };
}

/** The official config of a run with `preset`, and notes on what the official code cannot express. */
export function officialConfig(preset: Preset, o: OfficialConfigOptions): { config: OfficialConfig; notes: string[]; } {
  const { model: m, mask, optim } = preset;
  const notes: string[] = [];
  const model = officialModelName(m);
  if (model.custom) {
    notes.push(`yaml: the encoder (D ${m.dim}, depth ${m.depth}, ${m.heads} heads, MLP ratio ${m.mlpRatio}) is none of the official ViT sizes; ` +
      `meta.model_name is ${model.name}: add to src/models/vision_transformer.py\n` +
      `    def ${model.name}(patch_size=16, **kwargs):\n` +
      `        return VisionTransformer(patch_size=patch_size, embed_dim=${m.dim}, depth=${m.depth}, num_heads=${m.heads}, mlp_ratio=${m.mlpRatio},\n` +
      '            qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), **kwargs)');
  }
  if (o.target === 'pixels') {
    notes.push('yaml: this run regresses pixels (--target pixels); the official code only trains on target-encoder features');
  }
  if (mask.mode !== 'official') {
    notes.push(`yaml: mask mode '${mask.mode}' has no official key; the official collator draws positions in mode 'official'`);
  }
  if (!Number.isInteger(optim.epochs)) {
    notes.push(
      `yaml: epochs ${optim.epochs} is fractional; src/train.py loops over range(epochs), so raise it to a whole number (at least ${
        Math.max(1, Math.ceil(optim.epochs))
      }) to continue; the schedules stretch with it`,
    );
  }
  notes.push(o.data === null
    ? 'yaml: this run trained on Fashion-MNIST, which the official code cannot load; set data.root_path to a folder with train/<class>/*.png'
    : `yaml: the official loader reads ${o.data}/train/: move the class folders there (or edit data.root_path)`);
  const config: OfficialConfig = {
    meta: {
      // bf16 needs a GradScaler state, which our checkpoint has not (scaler: None); with it, the
      // official loader throws, logs, and silently restarts at epoch 0
      use_bfloat16: false,
      model_name: model.name,
      load_checkpoint: true,
      read_checkpoint: o.checkpoint,
      copy_data: false,
      pred_depth: m.predDepth,
      pred_emb_dim: m.predDim,
    },
    data: {
      use_gaussian_blur: false,
      use_horizontal_flip: false,
      use_color_distortion: false,
      color_jitter_strength: 0.0,
      batch_size: optim.batch,
      pin_mem: true,
      num_workers: 10,
      root_path: o.data ?? null,
      image_folder: '',
      crop_size: m.imgSize,
      crop_scale: [0.3, 1.0],
    },
    mask: {
      allow_overlap: mask.allowOverlap,
      patch_size: m.patchSize,
      num_enc_masks: mask.nenc,
      min_keep: mask.minKeep,
      enc_mask_scale: [...mask.encMaskScale],
      num_pred_masks: mask.npred,
      pred_mask_scale: [...mask.predMaskScale],
      aspect_ratio: [...mask.aspectRatio],
    },
    optimization: {
      ema: [optim.emaStart, optim.emaFinal],
      ipe_scale: optim.ipeScale,
      weight_decay: optim.refWd,
      final_weight_decay: optim.finalWd,
      epochs: optim.epochs,
      warmup: optim.warmupEpochs,
      start_lr: optim.startLr,
      lr: optim.refLr,
      final_lr: optim.finalLr,
    },
    logging: { folder: o.folder, write_tag: 'jepa' },
  };
  return { config, notes };
}

// Keys whose numbers are floats in the official configs: written with a decimal point even when
// whole (ipe_scale 1.0, ema [0.996, 1.0], crop_scale [0.3, 1.0]); counts stay integers.
const FLOAT_KEYS = new Set(['color_jitter_strength', 'crop_scale', 'enc_mask_scale', 'pred_mask_scale', 'aspect_ratio', 'ema', 'ipe_scale',
  'weight_decay', 'final_weight_decay', 'warmup', 'start_lr', 'lr', 'final_lr']);

/** A number as YAML 1.1 and JSON both read it: floats always with a decimal point. */
function yamlNumber(v: number, float: boolean): string {
  if (!Number.isFinite(v)) throw new Error(`official config: ${v} has no YAML/JSON form`);
  if (Number.isInteger(v) && !float) return String(v);
  const s = String(v); // shortest round-trip form: 0.0002, 1e-6, 1.5e+21
  const [mant, exp] = s.split('e');
  const withDot = mant!.includes('.') ? mant! : `${mant}.0`;
  if (exp === undefined) return withDot;
  const e = Number(exp);
  return `${withDot}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** The config as text: JSON with one key per line, which PyYAML reads as the same config. */
export function formatOfficialConfig(config: OfficialConfig): string {
  const value = (key: string, v: unknown): string => {
    if (typeof v === 'number') return yamlNumber(v, FLOAT_KEYS.has(key));
    if (Array.isArray(v)) return `[${v.map((x) => value(key, x)).join(', ')}]`;
    return JSON.stringify(v);
  };
  const sections = Object.entries(config).map(([section, body]) =>
    `  ${JSON.stringify(section)}: {\n${Object.entries(body).map(([k, v]) => `    ${JSON.stringify(k)}: ${value(k, v)}`).join(',\n')}\n  }`
  );
  return `{\n${sections.join(',\n')}\n}\n`;
}
