// checkpoint: the training state as one safetensors file, written atomically.
//
// Tensors (official names, so the nets load into the official PyTorch code after stripping the
// group prefix): `encoder/<name>`, `predictor/<name>`, `target_encoder/<name>`, and AdamW's
// moments `opt/exp_avg/<net>/<name>`, `opt/exp_avg_sq/<net>/<name>`. Metadata (strings):
// `format`, `config` (JSON), `step`, `opt_steps` (JSON: per-parameter AdamW step counts),
// `state` (JSON: everything else a resume needs — mask collator and data loader positions, RNG),
// `crc32` (JSON: the CRC-32 of each tensor's bytes).
// Writing goes through a temp file, fsync and rename, so a crash mid-write leaves the previous
// checkpoint intact. Reading goes through one reader, `readCheckpoint`, which checks the file
// against the format before any model is built: the config through model/config-schema.ts, the
// step and the optimizer's step counts as integers, every tensor F32 with the bytes its CRC-32
// says (so a retyped dtype or two tensors' offsets swapped are refused, not loaded), and, on load,
// every tensor the model has present with its shape. Errors name the file and the field or tensor.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeSafetensors, encodeSafetensors, fromArray, noGrad, tidy, type AdamW, type DecodedTensor, type Module,
  type Tensor } from '../engine/index.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { checkFields, MAX_STEPS, RUN_FIELDS, show } from './config-schema.ts';
import { validatePreset, type Preset } from './presets.ts';
import { fmt } from './format-shape.ts';

export const CHECKPOINT_FORMAT = 'ijepa-webgpu-train-state/1';

/** The nets of a train state by their official names; target_encoder is absent for pixel targets. */
export type TrainNets = Partial<Record<'encoder' | 'predictor' | 'target_encoder', Module>>;

/** A run's configuration as a checkpoint stores it (model/cli/train.ts's TrainConfig is one). */
export interface CheckpointConfig {
  preset: Preset;
  /** The image folder, or null for Fashion-MNIST. */
  data: string | null;
  steps: number;
  ipe: number;
  seed: number;
  target: 'features' | 'pixels';
}

export interface CheckpointContents {
  config: unknown;
  step: number;
  /** JSON-serialisable resume state (collator, loader position, RNG...). */
  state: unknown;
}

/** Thrown by encodeTrainState when a tensor holds NaN/Inf: such a state is never written. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/** Index of the first NaN/±Inf in `a`, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/**
 * `data` of tensor `key` read from checkpoint `path`, or an error naming both: a poisoned file
 * (written before the save-side check existed, or by hand) would otherwise evaluate to chance
 * accuracy, resume into NaN or export without a word.
 */
export function finiteOrThrow(path: string, key: string, data: Float32Array): Float32Array {
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new Error(`load ${path}: ${key} holds ${data[bad]} (element ${bad}); the weights are not finite`);
  return data;
}

/** Serialise the nets, the optimizer's moments and the resume state to safetensors bytes. */
export async function encodeTrainState(nets: TrainNets, opt: AdamW | null, c: CheckpointContents): Promise<Uint8Array> {
  const tensors: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array; }> = {};
  const optSteps: Record<string, number> = {};
  // Every value is read back here anyway, so the finiteness check costs no extra GPU work: a
  // step whose update produced NaN/Inf must never become the "last good" checkpoint.
  const add = async (name: string, t: Tensor) => {
    const data = Float32Array.from(await t.data());
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new NonFiniteError(`${name} holds ${data[bad]} (element ${bad}) at step ${c.step}`);
    tensors[name] = { dtype: 'F32', shape: [...t.shape], data };
  };
  for (const [net, module] of Object.entries<Module>(nets)) {
    for (const [name, t] of module.namedTensors()) {
      await add(`${net}/${name}`, t);
      const s = opt?.stateFor(t);
      if (s) {
        await add(`opt/exp_avg/${net}/${name}`, s.m);
        await add(`opt/exp_avg_sq/${net}/${name}`, s.v);
        optSteps[`${net}/${name}`] = s.step;
      }
    }
  }
  return encodeCheckpoint(tensors, optSteps, c);
}

/** Host tensors (F32) and metadata → the bytes of a train-state checkpoint, each tensor's CRC-32 included. */
export function encodeCheckpoint(
  tensors: Readonly<Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array; }>>,
  optSteps: Readonly<Record<string, number>>,
  c: CheckpointContents,
): Uint8Array {
  const crcs: Record<string, number> = {};
  for (const [name, t] of Object.entries(tensors)) crcs[name] = crc32(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(c.config),
    step: String(c.step),
    opt_steps: JSON.stringify(optSteps),
    state: JSON.stringify(c.state),
    crc32: JSON.stringify(crcs),
  });
}

export async function saveCheckpoint(path: string, nets: TrainNets, opt: AdamW | null, c: CheckpointContents): Promise<void> {
  await writeFileAtomic(path, await encodeTrainState(nets, opt, c));
}

/** A checked checkpoint file: its metadata and its tensors (F32, CRC-checked), by name. */
export interface CheckpointFile {
  path: string;
  config: CheckpointConfig;
  step: number;
  state: unknown;
  /** AdamW step counts by `net/name` (the moments are `opt/exp_avg/net/name`, `opt/exp_avg_sq/...`). */
  optSteps: Record<string, number>;
  tensors: ReadonlyMap<string, DecodedTensor>;
  /** The tensor `key`, which must exist with `shape` (the model's): an error names the file and the tensor. */
  get(key: string, shape: readonly number[]): DecodedTensor;
}

/** Read and check a train-state checkpoint (the one reader: train --resume, eval, embed, report, export). */
export async function readCheckpoint(path: string): Promise<CheckpointFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(
      `load ${path}: ${err.code === 'EISDIR' ? 'is a directory, not a checkpoint file' : err.code === 'ENOENT' ? 'no such file' : err.message}`,
    );
  }
  const file = decodeSafetensors(bytes, path);
  const meta = file.metadata;
  const where = `load ${path}`;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${where}: not an ijepa-webgpu train state (format '${meta.format ?? 'missing'}', expected '${CHECKPOINT_FORMAT}')`);
  }
  const json = (key: string, fallback: string | undefined): unknown => {
    const text = meta[key] ?? fallback;
    if (text === undefined) throw new Error(`${where}: metadata has no '${key}'`);
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new Error(`${where}: metadata '${key}' is not valid JSON (${(e as Error).message})`);
    }
  };
  const config = checkTrainConfig(json('config', undefined), where);
  const stepText = meta.step;
  if (stepText === undefined || !/^\d+$/.test(stepText) || Number(stepText) > MAX_STEPS) {
    throw new Error(`${where}: metadata 'step' ${show(stepText)} must be a whole number of steps in 0..${MAX_STEPS}`);
  }
  const state = json('state', 'null');
  if (typeof state !== 'object' || Array.isArray(state)) throw new Error(`${where}: metadata 'state' must be an object or null, got ${show(state)}`);
  const optSteps = json('opt_steps', '{}');
  if (typeof optSteps !== 'object' || optSteps === null || Array.isArray(optSteps)) {
    throw new Error(`${where}: metadata 'opt_steps' must be an object, got ${show(optSteps)}`);
  }
  for (const [k, n] of Object.entries(optSteps)) {
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > MAX_STEPS) {
      throw new Error(`${where}: metadata 'opt_steps' of ${k} is ${show(n)}, not a step count in 0..${MAX_STEPS}`);
    }
  }
  // files written before the CRCs were recorded carry none; then only the structure is checked
  const crcs = meta.crc32 === undefined ? null : json('crc32', undefined);
  if (crcs !== null && (typeof crcs !== 'object' || Array.isArray(crcs))) {
    throw new Error(`${where}: metadata 'crc32' must be an object, got ${show(crcs)}`);
  }
  for (const [name, t] of file.tensors) {
    if (t.dtype !== 'F32') throw new Error(`${where}: tensor ${name} is ${t.dtype}; a train state holds F32 tensors only`);
    if (crcs === null) continue;
    const want = (crcs as Record<string, unknown>)[name];
    if (want === undefined) throw new Error(`${where}: tensor ${name} has no CRC-32 in the metadata (was it added by hand?)`);
    if (crc32(t.data) !== want) {
      throw new Error(
        `${where}: tensor ${name} fails its CRC-32 check: its bytes are not those saved under that name (corrupt file, or data offsets moved)`,
      );
    }
  }
  return {
    path,
    config,
    step: Number(stepText),
    state: state as unknown,
    optSteps: optSteps as Record<string, number>,
    tensors: file.tensors,
    get(key, shape) {
      const t = file.tensors.get(key);
      if (!t) throw new Error(`${where}: tensor ${key} is missing`);
      if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
        throw new Error(`${where}: ${key} is ${fmt(t.shape)}, the model wants ${fmt(shape)}`);
      }
      return t;
    },
  };
}

/** `value` as a CheckpointConfig, every field checked against model/config-schema.ts; errors start with `where`. */
export function checkTrainConfig(value: unknown, where: string): CheckpointConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: config must be an object holding the run's preset, got ${show(value)}`);
  }
  const c = value as Record<string, unknown>;
  const { steps, ipe, seed, target } = RUN_FIELDS;
  checkFields({ steps, ipe, seed, target }, c, 'config', where, Error);
  if (c.images !== undefined) checkFields({ images: RUN_FIELDS.images }, c, 'config', where, Error);
  if (c.data !== null && typeof c.data !== 'string') throw new Error(`${where}: config.data ${show(c.data)} must be a folder path or null`);
  checkConfigPreset(c.preset, where);
  return value as CheckpointConfig;
}

/** `config.preset` of a stored config, checked as validatePreset checks presets; errors start with `where`. */
export function checkConfigPreset(p: unknown, where: string): Preset {
  if (p === undefined) throw new Error(`${where}: config.preset is missing (the run's preset: model, mask and optimizer settings)`);
  if (typeof p !== 'object' || p === null || typeof (p as { name?: unknown; }).name !== 'string') {
    throw new Error(`${where}: config.preset ${show(p)} must be a preset object with a name`);
  }
  try {
    validatePreset(p as Preset);
  } catch (e) {
    throw new Error(`${where}: config.${(e as Error).message.replace(/^preset '.*?': /, 'preset.')}`);
  }
  return p as Preset;
}

/** Read a checkpoint's metadata without touching any model (to build the model from its config). */
export async function readCheckpointMeta(path: string): Promise<CheckpointContents & { config: CheckpointConfig; }> {
  const f = await readCheckpoint(path);
  return { config: f.config, step: f.step, state: f.state };
}

/** Load a checkpoint into existing nets (and optimizer): every tensor must be present with its shape. */
export async function loadCheckpoint(path: string, nets: TrainNets, opt: AdamW | null): Promise<CheckpointContents & { config: CheckpointConfig; }> {
  const file = await readCheckpoint(path);
  const get = (key: string, like: Tensor): Tensor => {
    const data = finiteOrThrow(path, key, file.get(key, like.shape).toFloat32());
    return fromArray(data, like.shape, { backend: like.backend });
  };
  noGrad(() =>
    tidy(() => {
      for (const [net, module] of Object.entries<Module>(nets)) {
        for (const [name, t] of module.namedTensors()) {
          const key = `${net}/${name}`;
          t.assign(get(key, t));
          const steps = file.optSteps[key];
          if (opt && steps !== undefined) opt.loadState(t, get(`opt/exp_avg/${key}`, t), get(`opt/exp_avg_sq/${key}`, t), steps);
        }
      }
    })
  );
  return { config: file.config, step: file.step, state: file.state };
}

const CKPT = /^ckpt-(\d+)\.safetensors$/;
export const checkpointName = (step: number) => `ckpt-${String(step).padStart(7, '0')}.safetensors`;

/** Checkpoints in a run directory, oldest first. */
export async function listCheckpoints(dir: string): Promise<{ step: number; path: string; }[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = CKPT.exec(n);
    return m ? [{ step: Number(m[1]), path: join(dir, n) }] : [];
  })
    .sort((a, b) => a.step - b.step);
}

/** Delete all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) await unlink(c.path).catch(() => undefined);
}
