// checkpoint: the training state as one safetensors file, written atomically.
//
// Tensors (official names, so the nets load into the official PyTorch code after stripping the
// group prefix): `encoder/<name>`, `predictor/<name>`, `target_encoder/<name>`, and AdamW's
// moments `opt/exp_avg/<net>/<name>`, `opt/exp_avg_sq/<net>/<name>`. Metadata (strings):
// `format`, `config` (JSON), `step`, `opt_steps` (JSON: per-parameter AdamW step counts),
// `state` (JSON: everything else a resume needs — mask collator and data loader positions, RNG).
// Writing goes through a temp file, fsync and rename, so a crash mid-write leaves the previous
// checkpoint intact; loading checks every name and shape and names the file and tensor on error.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, fromArray, noGrad, tidy, type AdamW, type Module, type Tensor } from '../engine/index.ts';
import { writeFileAtomic } from './atomic-write.ts';

export const CHECKPOINT_FORMAT = 'ijepa-webgpu-train-state/1';

/** The nets of a train state by their official names; target_encoder is absent for pixel targets. */
export type TrainNets = Partial<Record<'encoder' | 'predictor' | 'target_encoder', Module>>;

export interface CheckpointContents {
  config: unknown;
  step: number;
  /** JSON-serialisable resume state (collator, loader position, RNG...). */
  state: unknown;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Thrown by encodeTrainState when a tensor holds NaN/Inf: such a state is never written. */
export class NonFiniteError extends Error { override name = 'NonFiniteError'; }

/** Index of the first NaN/±Inf in `a`, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/** Serialise the nets, the optimizer's moments and the resume state to safetensors bytes. */
export async function encodeTrainState(nets: TrainNets, opt: AdamW | null, c: CheckpointContents): Promise<Uint8Array> {
  const tensors: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }> = {};
  const optSteps: Record<string, number> = {};
  // Every value is read back here anyway, so the finiteness check costs no extra GPU work: a
  // step whose update produced NaN/Inf must never become the "last good" checkpoint.
  const add = async (name: string, t: Tensor) => {
    const data = Float32Array.from(await t.data());
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new NonFiniteError(`${name} holds ${data[bad]} (element ${bad}) at step ${c.step}`);
    tensors[name] = { dtype: 'F32', shape: [...t.shape], data };
  };
  for (const [net, module] of Object.entries(nets) as [string, Module][]) {
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
  return encodeSafetensors(tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(c.config),
    step: String(c.step),
    opt_steps: JSON.stringify(optSteps),
    state: JSON.stringify(c.state),
  });
}

export async function saveCheckpoint(path: string, nets: TrainNets, opt: AdamW | null, c: CheckpointContents): Promise<void> {
  await writeFileAtomic(path, await encodeTrainState(nets, opt, c));
}

/** Read a checkpoint's metadata without touching any model (to build the model from its config). */
export async function readCheckpointMeta(path: string): Promise<CheckpointContents> {
  const file = decodeSafetensors(await readFile(path), path);
  return parseMeta(path, file.metadata);
}

function parseMeta(path: string, meta: Record<string, string>): CheckpointContents {
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`load ${path}: not an ijepa-webgpu train state (format '${meta.format ?? 'missing'}', expected '${CHECKPOINT_FORMAT}')`);
  try {
    return { config: JSON.parse(meta.config ?? 'null'), step: Number(meta.step), state: JSON.parse(meta.state ?? 'null') };
  } catch (e) {
    throw new Error(`load ${path}: metadata is not valid JSON (${(e as Error).message})`);
  }
}

/** Load a checkpoint into existing nets (and optimizer): every tensor must be present with its shape. */
export async function loadCheckpoint(path: string, nets: TrainNets, opt: AdamW | null): Promise<CheckpointContents> {
  const file = decodeSafetensors(await readFile(path), path);
  const meta = parseMeta(path, file.metadata);
  const optSteps = JSON.parse(file.metadata.opt_steps ?? '{}') as Record<string, number>;
  const get = (key: string, like: Tensor): Tensor => {
    const t = file.tensors.get(key);
    if (!t) throw new Error(`load ${path}: tensor ${key} is missing`);
    if (t.shape.length !== like.shape.length || t.shape.some((v, i) => v !== like.shape[i])) {
      throw new Error(`load ${path}: ${key} is ${fmt(t.shape)}, the model wants ${fmt(like.shape)}`);
    }
    // a poisoned file (written before this check existed, or by hand) would otherwise evaluate
    // to chance accuracy or resume into NaN without a word
    const data = t.toFloat32();
    const bad = firstNonFinite(data);
    if (bad >= 0) throw new Error(`load ${path}: ${key} holds ${data[bad]} (element ${bad}); the weights are not finite`);
    return fromArray(data, t.shape, { backend: like.backend });
  };
  noGrad(() => tidy(() => {
    for (const [net, module] of Object.entries(nets) as [string, Module][]) {
      for (const [name, t] of module.namedTensors()) {
        t.assign(get(`${net}/${name}`, t));
        const key = `${net}/${name}`;
        if (opt && optSteps[key] !== undefined) {
          opt.loadState(t, get(`opt/exp_avg/${key}`, t), get(`opt/exp_avg_sq/${key}`, t), optSteps[key]!);
        }
      }
    }
  }));
  return meta;
}

const CKPT = /^ckpt-(\d+)\.safetensors$/;
export const checkpointName = (step: number) => `ckpt-${String(step).padStart(7, '0')}.safetensors`;

/** Checkpoints in a run directory, oldest first. */
export async function listCheckpoints(dir: string): Promise<{ step: number; path: string }[]> {
  let names: string[] = [];
  try { names = await readdir(dir); } catch { return []; }
  return names.flatMap((n) => { const m = CKPT.exec(n); return m ? [{ step: Number(m[1]), path: join(dir, n) }] : []; })
    .sort((a, b) => a.step - b.step);
}

/** Delete all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(dir: string, keep: number): Promise<void> {
  const all = await listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) await unlink(c.path).catch(() => undefined);
}
