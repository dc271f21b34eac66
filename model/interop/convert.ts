// convert: official I-JEPA checkpoints and safetensors ↔ our train-state checkpoint
// (model/checkpoint.ts), as file-to-file conversions on the host. No GPU, and no model is built:
// names and shapes are checked against model/interop/layout.ts before any tensor data is read.
// (The one exception: a file without a predictor gets a freshly initialised one, drawn on the
// engine's current backend; `ijepa import` sets the CPU backend for that.)
// Size: checkpoints are read whole (readFile, 2 GiB in Node), which bounds imports to presets up
// to vit-base; larger presets are refused before the source is opened.
//
// Import sources, detected from the file's first bytes and its tensor names:
//  - `.pth.tar` (torch.save zip): the official dict {encoder, predictor, target_encoder, opt,
//    scaler, epoch, loss, batch_size, world_size, lr} with `module.`-prefixed state dicts
//    (docs/ijepa-step.md §4.6); a bare state dict (with or without `module.`) counts as an encoder;
//  - safetensors with official names, either prefixed by net (`encoder.blocks.0…`, what `export
//    --to safetensors` writes) or bare (one encoder or predictor);
//  - safetensors in transformers' IJepaModel naming (model/interop/hf.ts).
// What the file lacks is filled and reported: no target encoder → a copy of the encoder (and the
// other way round); no predictor → a fresh one (seeded); no pos_embed → the fixed sin-cos table.
// The official AdamW state, when present, is mapped by parameter index (layout.ts) onto our
// moments, so a resumed run continues with the same Adam statistics.
//
// Export targets: `pth` (what the official train.py saves, `torch.load`-able, loadable into the
// official modules after stripping `module.`), `safetensors` (official names), `hf` (IJepaModel
// names, from the context encoder as transformers' conversion does).
//
// Errors name the file and the tensor (style §6). Deliberately not here: state_dict `_metadata`
// (module versions; load_state_dict does not need it), GradScaler state (we train in f32: written
// as None, as the official code does without bf16), and sharded safetensors (`*.index.json`).
import { readFile, open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Generator, decodeSafetensors, encodeSafetensors, type SafetensorsInput } from '../../engine/index.ts';
import { encodeCheckpoint, finiteOrThrow, readCheckpoint, writeFileAtomic, type CheckpointConfig } from '../node.ts';
import { sincos2d, VisionTransformerPredictor, scheduleAt, validatePreset, type Preset } from '../index.ts';
import { hfToOfficial, looksLikeHf, officialToHf, type HostTensor, type LazyTensor } from './hf.ts';
import { FROZEN, NET_NAMES, formatShape as fmt, guessConfig, officialLayout, officialParamGroups, type ModelLayout, type NetName, type TargetKind,
  type TensorSpec } from './layout.ts';
import { PyDict, PyFloat, PyTuple, pyTypeOf, type PyValue } from './pickle.ts';
import { TensorOut, TorchFile, TorchTensor, writeTorchFile } from './torch-file.ts';
import { formatOfficialConfig, officialConfig, officialConfigPath } from './official-config.ts';

export type SourceFormat = 'pth' | 'safetensors' | 'hf-safetensors';

/** The bookkeeping numbers of an official checkpoint (null where the file has none). */
export interface CheckpointMeta {
  epoch: number | null;
  loss: number | null;
  lr: number | null;
  batch_size: number | null;
  world_size: number | null;
}

export interface SourceModel {
  path: string;
  format: SourceFormat;
  nets: Partial<Record<NetName, Map<string, LazyTensor>>>;
  /** The official `opt` (AdamW state_dict) as unpickled, or null. */
  opt: PyValue;
  meta: CheckpointMeta;
  /** Names present in the file but not used (HF pooler, …). */
  skipped: string[];
  close(): Promise<void>;
}

/** Node's fs.readFile limit (2 GiB − 1), which bounds every checkpoint model/checkpoint.ts can load; minus room for the header. */
const MAX_CHECKPOINT_BYTES = 2 ** 31 - 1 - 2 ** 24;

const NO_META: CheckpointMeta = { epoch: null, loss: null, lr: null, batch_size: null, world_size: null };

// ---- reading sources ----------------------------------------------------------------------------

async function sniff(path: string): Promise<'zip' | 'safetensors' | 'unknown'> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`load ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  try {
    const b = new Uint8Array(9);
    const { bytesRead } = await fh.read(b, 0, 9, 0).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`load ${path}: ${e.code === 'EISDIR' ? 'is a directory, not a checkpoint file' : e.message}`);
    });
    if (bytesRead >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04) return 'zip';
    if (bytesRead === 9 && b[8] === 0x7b) return 'safetensors'; // u64 header length, then '{'
    return 'unknown';
  } finally {
    await fh.close();
  }
}

/**
 * Open an official .pth.tar or a safetensors file (official or HF names) for import. `maxBytes`
 * caps what is read from a .pth.tar's entries in all (a zip bomb stops there).
 */
export async function openSource(path: string, maxBytes?: number): Promise<SourceModel> {
  const kind = await sniff(path);
  if (kind === 'zip') return openPth(path, maxBytes);
  if (kind === 'safetensors') return openSafetensors(path);
  throw new Error(`load ${path}: neither a torch.save zip archive (.pth.tar) nor a safetensors file`);
}

const num = (v: PyValue | undefined): number | null => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);

async function openPth(path: string, maxBytes?: number): Promise<SourceModel> {
  const file = await TorchFile.open(path, maxBytes === undefined ? {} : { maxTotalBytes: maxBytes });
  try {
    const root = file.root;
    if (!(root instanceof PyDict)) throw new Error(`load ${path}: the pickled object is a ${pyTypeOf(root)}, expected a dict`);
    const nets: SourceModel['nets'] = {};
    const hasNets = NET_NAMES.some((n) => root.has(n));
    const stateDict = (v: PyValue, what: string): Map<string, LazyTensor> => {
      if (!(v instanceof PyDict)) throw new Error(`load ${path}: ${what} is a ${pyTypeOf(v)}, expected a state dict`);
      const keys = [...v.keys()];
      const strip = keys.length > 0 && keys.every((k) => typeof k === 'string' && k.startsWith('module.'));
      const out = new Map<string, LazyTensor>();
      for (const [k, t] of v) {
        if (typeof k !== 'string') throw new Error(`load ${path}: ${what} has a ${pyTypeOf(k)} key, expected tensor names`);
        if (!(t instanceof TorchTensor)) throw new Error(`load ${path}: ${what} ${k} is a ${pyTypeOf(t)}, expected a tensor`);
        out.set(strip ? k.slice('module.'.length) : k, { shape: t.shape, read: () => t.toFloat32() });
      }
      return out;
    };
    if (hasNets) {
      for (const n of NET_NAMES) {
        const v = root.get(n);
        if (v !== undefined && v !== null) nets[n] = stateDict(v, n);
      }
    } else if ([...root.values()].every((v) => v instanceof TorchTensor)) {
      const sd = stateDict(root, 'state dict');
      nets[[...sd.keys()].some((k) => k.startsWith('predictor_')) ? 'predictor' : 'encoder'] = sd;
    } else {
      throw new Error(
        `load ${path}: found neither encoder/predictor/target_encoder entries nor a state dict (keys: ${
          [...root.keys()].slice(0, 8).map(String).join(', ')
        })`,
      );
    }
    return {
      path,
      format: 'pth',
      nets,
      opt: root.get('opt') ?? null,
      skipped: [],
      meta: { epoch: num(root.get('epoch')), loss: num(root.get('loss')), lr: num(root.get('lr')), batch_size: num(root.get('batch_size')),
        world_size: num(root.get('world_size')) },
      close: () => file.close(),
    };
  } catch (e) {
    await file.close();
    throw e;
  }
}

async function openSafetensors(path: string): Promise<SourceModel> {
  const file = decodeSafetensors(await readFile(path), path);
  const all = new Map<string, LazyTensor>();
  for (const [name, t] of file.tensors) all.set(name, { shape: t.shape, read: async () => t.toFloat32() });
  const base = { path, opt: null, meta: NO_META, close: async () => undefined };
  if (looksLikeHf(all.keys())) {
    const { tensors, skipped } = hfToOfficial(all, path);
    return { ...base, format: 'hf-safetensors', nets: { encoder: tensors }, skipped };
  }
  const nets: SourceModel['nets'] = {};
  const strip = [...all.keys()].every((k) => k.startsWith('module.'));
  for (const [full, t] of all) {
    const name = strip ? full.slice('module.'.length) : full;
    const net = NET_NAMES.find((n) => name.startsWith(`${n}.`));
    const [key, rest] = net
      ? [net, name.slice(net.length + 1)]
      : [name.startsWith('mask_token') || name.startsWith('predictor_') ? 'predictor' as const : 'encoder' as const, name];
    (nets[key] ??= new Map()).set(rest, t);
  }
  return { ...base, format: 'safetensors', nets, skipped: [] };
}

// ---- checking against the layout ----------------------------------------------------------------

function checkNet(source: SourceModel, net: NetName, got: ReadonlyMap<string, LazyTensor>, want: readonly TensorSpec[], hint: string): void {
  const wanted = new Set(want.map((t) => t.name));
  const extra = [...got.keys()].filter((n) => !wanted.has(n));
  for (const spec of want) {
    const t = got.get(spec.name);
    if (!t) {
      if (spec.name === 'pos_embed' || spec.name === 'predictor_pos_embed') continue; // filled with the fixed table
      throw new Error(
        `load ${source.path}: ${net} tensor ${spec.name} is missing${
          extra.length ? ` (the file has ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''} instead)` : ''
        }${hint}`,
      );
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((v, i) => v !== spec.shape[i])) {
      throw new Error(`load ${source.path}: ${net} ${spec.name} is ${fmt(t.shape)}, the model wants ${fmt(spec.shape)}${hint}`);
    }
  }
  if (extra.length) {
    throw new Error(
      `load ${source.path}: ${net} has ${extra.length} tensor(s) the model does not: ${extra.slice(0, 5).join(', ')}${
        extra.length > 5 ? ', …' : ''
      }${hint}`,
    );
  }
}

function shapeHint(src: SourceModel, preset: Preset): string {
  const shapes = (m?: Map<string, LazyTensor>) => new Map([...(m ?? new Map<string, LazyTensor>())].map(([k, v]) => [k, v.shape] as const));
  const enc = src.nets.encoder ?? src.nets.target_encoder;
  const guess = enc ? guessConfig(shapes(enc), src.nets.predictor ? shapes(src.nets.predictor) : undefined) : null;
  const m = preset.model;
  const have =
    `preset ${preset.name}: dim ${m.dim}, depth ${m.depth}, patch size ${m.patchSize}, channels ${m.chans}, image size ${m.imgSize}, mlp ratio ${m.mlpRatio}, predictor dim ${m.predDim}, predictor depth ${m.predDepth}`;
  return guess ? `\n  the file looks like: ${guess}\n  ${have}` : '';
}

// ---- import -------------------------------------------------------------------------------------

export interface ImportOptions {
  from: string;
  preset: Preset;
  target?: TargetKind;
  /** Seed of a fresh predictor when the file has none (default 0). */
  seed?: number;
  out: string;
}

export interface ImportResult {
  format: SourceFormat;
  /** Where each net came from. */
  sources: Partial<Record<NetName, string>>;
  /** AdamW moments imported (tensor count) and the largest step count. */
  opt: { tensors: number; step: number; } | null;
  notes: string[];
}

type HostNet = Map<string, HostTensor>;

/** Convert an official checkpoint / safetensors file into our train-state checkpoint at `out`. */
export async function importCheckpoint(o: ImportOptions): Promise<ImportResult> {
  const target = o.target ?? 'features';
  validatePreset(o.preset);
  const layout = officialLayout(o.preset.model, target);
  const bytesOf = (specs: readonly TensorSpec[] | null) => (specs ?? []).reduce((a, t) => a + 4 * t.shape.reduce((x, y) => x * y, 1), 0);
  const netBytes = bytesOf(layout.encoder) + bytesOf(layout.predictor) + bytesOf(layout.target_encoder);
  const momentBytes = 2 * (bytesOf(layout.encoder) + bytesOf(layout.predictor));
  if (netBytes > MAX_CHECKPOINT_BYTES) {
    throw new Error(`import ${o.from}: preset ${o.preset.name}'s train state is ${(netBytes / 2 ** 30).toFixed(1)} GiB without optimizer state; ` +
      `checkpoints are read whole (model/checkpoint.ts, readFile), which Node limits to 2 GiB, so presets past vit-base cannot be imported yet`);
  }
  // what an import can need: every net and both moments, twice over (a storage read for two views),
  // and the pickle; a file that inflates to more is not this preset's checkpoint
  const src = await openSource(o.from, 2 * (netBytes + momentBytes) + 2 ** 26);
  try {
    const hint = shapeHint(src, o.preset);
    const notes: string[] = [];
    if (src.skipped.length) {
      notes.push(
        `skipped ${src.skipped.length} tensor(s) with no official counterpart: ${src.skipped.slice(0, 4).join(', ')}${
          src.skipped.length > 4 ? ', …' : ''
        }`,
      );
    }
    for (const n of NET_NAMES) {
      const got = src.nets[n];
      if (!got) continue;
      const want = n === 'target_encoder' ? layout.target_encoder : layout[n];
      if (!want) throw new Error(`load ${o.from}: the file has a target_encoder but --target pixels has none`);
      checkNet(src, n, got, want, hint);
    }
    const sources: ImportResult['sources'] = {};
    const nets: Partial<Record<NetName, HostNet>> = {};
    const readNet = async (net: NetName, from: Map<string, LazyTensor>, specs: readonly TensorSpec[], G: number) => {
      const out: HostNet = new Map();
      for (const s of specs) {
        const t = from.get(s.name);
        if (t) out.set(s.name, { shape: s.shape, data: await t.read() });
        else {
          // only the fixed position tables may be absent (checkNet)
          out.set(s.name, { shape: s.shape, data: Float32Array.from(sincos2d(s.shape[2]!, G)) });
          notes.push(`${net}: ${s.name} not in the file; using the fixed sin-cos table`);
        }
      }
      return out;
    };
    const G = o.preset.model.imgSize / o.preset.model.patchSize;
    const enc = src.nets.encoder ?? src.nets.target_encoder;
    if (!enc) throw new Error(`load ${o.from}: no encoder or target_encoder in the file`);
    nets.encoder = await readNet('encoder', enc, layout.encoder, G);
    sources.encoder = src.nets.encoder ? 'file' : "copy of the file's target_encoder";
    if (layout.target_encoder) {
      if (src.nets.target_encoder && src.nets.encoder) {
        nets.target_encoder = await readNet('target_encoder', src.nets.target_encoder, layout.target_encoder, G);
        sources.target_encoder = 'file';
      } else {
        nets.target_encoder = new Map([...nets.encoder].map(([k, t]) => [k, { shape: t.shape, data: t.data.slice() }]));
        sources.target_encoder = src.nets.target_encoder ? 'file' : 'copy of the encoder';
      }
    }
    if (src.nets.predictor) {
      nets.predictor = await readNet('predictor', src.nets.predictor, layout.predictor, G);
      sources.predictor = 'file';
    } else {
      nets.predictor = await freshPredictor(o.preset, target, o.seed ?? 0);
      sources.predictor = `fresh init (seed ${o.seed ?? 0})`;
    }
    for (const n of NET_NAMES) if (sources[n] && sources[n] !== 'file') notes.push(`${n}: ${sources[n]}`);

    let opt = await importOpt(src, layout, notes);
    if (opt && netBytes + momentBytes > MAX_CHECKPOINT_BYTES) {
      notes.push(
        `opt: AdamW state left out: with it the checkpoint would pass the 2 GiB a checkpoint may have (${
          ((netBytes + momentBytes) / 2 ** 30).toFixed(1)
        } GiB)`,
      );
      opt = null;
    }
    const tensors: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array; }> = {};
    for (const n of NET_NAMES) {
      for (const [name, t] of nets[n] ?? []) tensors[`${n}/${name}`] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    const optSteps: Record<string, number> = {};
    for (const [key, s] of opt?.states ?? []) {
      tensors[`opt/exp_avg/${key}`] = { dtype: 'F32', shape: s.m.shape, data: s.m.data };
      tensors[`opt/exp_avg_sq/${key}`] = { dtype: 'F32', shape: s.v.shape, data: s.v.data };
      optSteps[key] = s.step;
    }
    const config = { preset: o.preset, data: null, steps: 0, ipe: 1, seed: o.seed ?? 0, target };
    const state = { imported: { from: basename(o.from), format: src.format, ...src.meta, sources, notes } };
    await writeFileAtomic(o.out, encodeCheckpoint(tensors, optSteps, { config, step: 0, state }));
    const steps = Object.values(optSteps);
    return { format: src.format, sources, opt: opt ? { tensors: opt.states.size, step: steps.length ? Math.max(...steps) : 0 } : null, notes };
  } finally {
    await src.close();
  }
}

/** A predictor initialised as model/predictor.ts does, from its own seeded generator. Needs a backend. */
async function freshPredictor(p: Preset, target: TargetKind, seed: number): Promise<HostNet> {
  const m = p.model;
  const pred = new VisionTransformerPredictor({
    G: m.imgSize / m.patchSize,
    dim: m.dim,
    predDim: m.predDim,
    predDepth: m.predDepth,
    heads: m.heads,
    mlpRatio: m.mlpRatio,
    outDim: target === 'pixels' ? m.chans * m.patchSize * m.patchSize : m.dim,
  }, new Generator(seed));
  try {
    const out: HostNet = new Map();
    for (const [name, t] of pred.namedTensors()) out.set(name, { shape: [...t.shape], data: Float32Array.from(await t.data()) });
    return out;
  } finally {
    pred.dispose();
  }
}

interface OptStates {
  states: Map<string, { m: HostTensor; v: HostTensor; step: number; }>;
}

/** Map the official AdamW state (indices in init_opt's group order) onto `net/name` keys. */
async function importOpt(src: SourceModel, layout: ModelLayout, notes: string[]): Promise<OptStates | null> {
  const opt = src.opt;
  if (opt === null) return null;
  const where = `load ${src.path}: opt`;
  if (!(opt instanceof PyDict) || !(opt.get('state') instanceof PyDict) || !Array.isArray(opt.get('param_groups'))) {
    notes.push(`opt: not an optimizer state_dict (${pyTypeOf(opt)}); skipped`);
    return null;
  }
  if (!src.nets.encoder || !src.nets.predictor) {
    notes.push('opt: skipped (the file lacks the encoder or the predictor it belongs to)');
    return null;
  }
  const groups = officialParamGroups(layout);
  const saved = opt.get('param_groups') as PyValue[];
  if (saved.length !== groups.length) {
    notes.push(`opt: ${saved.length} parameter groups, the official AdamW setup has ${groups.length}; skipped`);
    return null;
  }
  const state = opt.get('state') as PyDict;
  const states: OptStates['states'] = new Map();
  for (let g = 0; g < groups.length; g++) {
    const sg = saved[g];
    const params = sg instanceof PyDict ? sg.get('params') : undefined;
    if (!Array.isArray(params) || params.length !== groups[g]!.length) {
      notes.push(
        `opt: group ${g} lists ${Array.isArray(params) ? params.length : 'no'} parameters, the model's group ${g} has ${groups[g]!.length}; skipped`,
      );
      return null;
    }
    for (let j = 0; j < params.length; j++) {
      const idx = params[j];
      const ref = groups[g]![j]!;
      const st = typeof idx === 'number' ? state.get(idx) : undefined;
      if (st === undefined) continue; // never stepped (the frozen tables)
      if (FROZEN.has(ref.name)) continue;
      if (!(st instanceof PyDict)) throw new Error(`${where}: state ${String(idx)} is a ${pyTypeOf(st)}`);
      const tensor = async (k: string): Promise<HostTensor> => {
        const t = st.get(k);
        if (!(t instanceof TorchTensor)) throw new Error(`${where}: state ${String(idx)} (${ref.net} ${ref.name}) has no tensor ${k}`);
        if (t.shape.length !== ref.shape.length || t.shape.some((v, i) => v !== ref.shape[i])) {
          throw new Error(
            `${where}: ${k} of state ${String(idx)} is ${fmt(t.shape)}, but index ${String(idx)} is ${ref.net} ${ref.name} ${fmt(ref.shape)}`,
          );
        }
        return { shape: ref.shape, data: await t.toFloat32() };
      };
      const stepV = st.get('step');
      const step = stepV instanceof TorchTensor ? (await stepV.toFloat32())[0]! : num(stepV ?? null);
      if (step === null || step === undefined || !Number.isFinite(step)) throw new Error(`${where}: state ${String(idx)} has no numeric step`);
      states.set(`${ref.net}/${ref.name}`, { m: await tensor('exp_avg'), v: await tensor('exp_avg_sq'), step });
    }
  }
  return { states };
}

// ---- our train state ----------------------------------------------------------------------------

export interface TrainState {
  path: string;
  config: CheckpointConfig;
  step: number;
  state: { imported?: Partial<CheckpointMeta>; } | null;
  nets: Partial<Record<NetName, HostNet>>;
  /** AdamW moments and step counts by `net/name`. */
  opt: Map<string, { m: HostTensor; v: HostTensor; step: number; }>;
  layout: ModelLayout;
}

/** Read one of our checkpoints into host tensors in official order (through model/checkpoint.ts's reader). */
export async function readTrainState(path: string): Promise<TrainState> {
  const file = await readCheckpoint(path);
  const { config, optSteps } = file;
  const layout = officialLayout(config.preset.model, config.target);
  const get = (key: string, shape: readonly number[]): HostTensor => ({ shape, data: finiteOrThrow(path, key, file.get(key, shape).toFloat32()) });
  const nets: TrainState['nets'] = {};
  const opt: TrainState['opt'] = new Map();
  for (const n of NET_NAMES) {
    const specs = n === 'target_encoder' ? layout.target_encoder : layout[n];
    if (!specs) continue;
    const net: HostNet = new Map();
    for (const s of specs) {
      net.set(s.name, get(`${n}/${s.name}`, s.shape));
      const key = `${n}/${s.name}`;
      if (optSteps[key] !== undefined) {
        opt.set(key, { m: get(`opt/exp_avg/${key}`, s.shape), v: get(`opt/exp_avg_sq/${key}`, s.shape), step: optSteps[key] });
      }
    }
    nets[n] = net;
  }
  return { path, config, step: file.step, state: file.state as TrainState['state'], nets, opt, layout };
}

// ---- export -------------------------------------------------------------------------------------

export type ExportFormat = 'pth' | 'safetensors' | 'hf';

export interface ExportOptions {
  checkpoint: string;
  to: ExportFormat;
  out: string;
  /** safetensors: one net with bare names, or 'all' (default) prefixed `<net>.`; hf: encoder (default) or target_encoder. */
  net?: NetName | 'all';
  /** The run's log.jsonl, for the epoch's average loss in a .pth (optional). */
  log?: string | null;
}

/** Write one of our checkpoints as an official .pth.tar, official-name safetensors or HF safetensors. */
export async function exportCheckpoint(o: ExportOptions): Promise<{ notes: string[]; }> {
  const ts = await readTrainState(o.checkpoint);
  const notes: string[] = [];
  if (o.to === 'pth') {
    await writeTorchFile(o.out, await officialCheckpointValue(ts, o.log ?? null, notes));
    // the matching official yaml beside it, so that src/train.py continues the run (official-config.ts)
    const yaml = officialConfigPath(o.out);
    const { config, notes: yamlNotes } = officialConfig(ts.config.preset, {
      data: ts.config.data,
      target: ts.config.target,
      folder: dirname(o.out),
      checkpoint: basename(o.out),
    });
    await writeFileAtomic(yaml, formatOfficialConfig(config));
    notes.push(`wrote ${yaml} (the official config: meta.read_checkpoint is this file)`, ...yamlNotes);
    return { notes };
  }
  const tensors: Record<string, SafetensorsInput> = {};
  const put = (name: string, t: HostTensor) => {
    tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  };
  const net = o.net ?? (o.to === 'hf' ? 'encoder' : 'all');
  if (o.to === 'hf') {
    if (net !== 'encoder' && net !== 'target_encoder') {
      throw new Error(`export --to hf: --net ${net}: IJepaModel holds one encoder; use encoder or target_encoder`);
    }
    const enc = ts.nets[net];
    if (!enc) throw new Error(`export ${o.checkpoint}: the checkpoint has no ${net}`);
    for (const [name, t] of officialToHf(enc)) put(name, t);
  } else if (net === 'all') {
    for (const n of NET_NAMES) for (const [name, t] of ts.nets[n] ?? []) put(`${n}.${name}`, t);
  } else {
    const one = ts.nets[net];
    if (!one) throw new Error(`export ${o.checkpoint}: the checkpoint has no ${net}`);
    for (const [name, t] of one) put(name, t);
  }
  await writeFileAtomic(o.out, encodeSafetensors(tensors, {
    format: 'pt',
    ijepa_model: JSON.stringify(ts.config.preset.model),
    ijepa_source: basename(o.checkpoint),
  }));
  return { notes };
}

/** Mean loss of the epoch that `step` belongs to, from log.jsonl records (null without a log). */
async function epochLoss(log: string | null, step: number): Promise<number | null> {
  if (!log) return null;
  let text: string;
  try {
    text = await readFile(log, 'utf8');
  } catch {
    return null;
  }
  const recs = text.split('\n').filter((l) => l.trim()).flatMap((l) => {
    try {
      return [JSON.parse(l) as { step?: number; epoch?: number; loss?: number; }];
    } catch {
      return [];
    }
  }).filter((r) => typeof r.step === 'number' && r.step <= step && typeof r.loss === 'number');
  const last = recs.at(-1);
  if (!last) return null;
  const same = recs.filter((r) => r.epoch === last.epoch);
  return same.reduce((a, r) => a + r.loss!, 0) / same.length;
}

/** The dict official train.py passes to torch.save (docs/ijepa-step.md §4.6), from our train state. */
export async function officialCheckpointValue(ts: TrainState, log: string | null, notes: string[]): Promise<PyDict> {
  const { preset } = ts.config;
  const ipe = ts.config.ipe ?? 0;
  const imported = ts.state?.imported;
  const stateDict = (net: HostNet) =>
    new PyDict(true, [...net].map(([name, t]) => [`module.${name}`, new TensorOut(t.shape, t.data)] as [PyValue, PyValue]));
  const root = new PyDict();
  for (const n of NET_NAMES) if (ts.nets[n]) root.set(n, stateDict(ts.nets[n]));

  // AdamW state_dict: indices follow init_opt's four groups (layout.ts); only stepped params have state.
  let lr = preset.optim.refLr, wd = preset.optim.refWd;
  if (ts.step >= 1 && ipe >= 1) {
    try {
      ({ lr, wd } = scheduleAt(ts.step, { ...preset.optim, ipe }));
    } catch {
      notes.push(`opt: step ${ts.step} is outside the schedule; param_groups carry the reference lr/wd`);
    }
  }
  const groups = officialParamGroups(ts.layout);
  const state = new PyDict();
  const paramGroups: PyValue[] = [];
  let idx = 0;
  groups.forEach((g, gi) => {
    const ids: PyValue[] = [];
    for (const ref of g) {
      const s = ts.opt.get(`${ref.net}/${ref.name}`);
      if (s) {
        state.set(idx, new PyDict(false, [
          ['step', new TensorOut([], Float32Array.of(s.step))],
          ['exp_avg', new TensorOut(s.m.shape, s.m.data)],
          ['exp_avg_sq', new TensorOut(s.v.shape, s.v.data)],
        ]));
      }
      ids.push(idx++);
    }
    const excluded = gi >= 2;
    const entries: [PyValue, PyValue][] = [['params', ids]];
    if (excluded) entries.push(['WD_exclude', true]);
    entries.push(
      ['weight_decay', new PyFloat(excluded ? 0 : wd)],
      ['lr', new PyFloat(lr)],
      ['betas', new PyTuple([new PyFloat(0.9), new PyFloat(0.999)])],
      ['eps', new PyFloat(1e-8)],
      ['amsgrad', false],
      ['foreach', null],
      ['maximize', false],
      ['capturable', false],
    );
    paramGroups.push(new PyDict(false, entries));
  });
  if (ts.opt.size === 0) notes.push('opt: the checkpoint has no AdamW state; written with empty state');
  root.set('opt', new PyDict(false, [['state', state], ['param_groups', paramGroups]]));
  root.set('scaler', null);

  const epoch = ts.step === 0 && imported?.epoch != null ? imported.epoch : ipe >= 1 ? Math.floor(ts.step / ipe) : 0;
  const loss = (await epochLoss(log, ts.step)) ?? (ts.step === 0 ? imported?.loss ?? null : null);
  if (loss === null) notes.push('loss: no log.jsonl to average; written as None');
  root.set('epoch', epoch);
  root.set('loss', loss === null ? null : new PyFloat(loss));
  root.set('batch_size', imported?.batch_size ?? preset.optim.batch);
  root.set('world_size', imported?.world_size ?? 1);
  root.set('lr', new PyFloat(imported?.lr ?? preset.optim.refLr));
  return root;
}
