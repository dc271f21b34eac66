// ab-guard: what bench:check compares each row with — the baseline's own kernels, replayed in the
// same process, in samples alternating with today's (an A/B test), so a kernel that did not
// change reads 1.0 whatever else the machine is doing.
//
// Why not a score against another kernel: on this shared 2-core machine a row's score against the
// copy kernel or the scalar matmul moved ±29 % from one run to the next (bench/RESULTS.md "Guard
// under load"), more than the 20 % a 25 % slowdown causes, because load from other processes
// slows different kernels differently (caches, memory bandwidth, execution ports). Two copies of
// the same kernel feel the same load alike.
//
// How: `--save` captures, for every row, what its timed body records in CAPTURE_CALLS calls: each
// launch's WGSL, overrides, uniforms and grid, and which storage each binding is (a "slot"); they
// go to bench/baseline.json under `kernels`. `--check` captures today's body the same way and
// times the two replays in alternating samples (common.ts timeAgainst): the row's A/B ratio is
// t_baseline / t_today, 0.8 when today's kernels do 25 % more work. Both sides are replays, so
// neither pays the engine's host-side work (op dispatch, shapes, the tape): this guards the
// kernels, which is what bench/ measures; the step as a whole is bench:step's.
//
// Slots: a storage that existed before the capture and outlived it (the row's inputs and outputs)
// is bound as itself, so both replays read the row's real data (index buffers stay in bounds); a
// storage made inside the body (a temporary, a kernel's scratch) becomes a storage the replay owns,
// keyed by its GPU buffer so that the pool's reuse of a buffer inside the body stays reuse.
import { BYTES, type DType, type Storage } from '../engine/backend/backend.ts';
import type { Kernel, KernelSource, Launch } from '../kernels/index.ts';
import type { Backend } from './common.ts';

/** Calls of a row's body in one capture: a fractional IJEPA_BENCH_SLOW (0.25: one extra launch per 4) shows whole. */
export const CAPTURE_CALLS = 4;

export interface CapturedSlot {
  bytes: number;
  dtype: DType;
  /** Existed before the capture and outlived it: a replay binds the live storage in its place. */
  input: boolean;
}
export interface CapturedLaunch {
  /** Key into CapturedKernels.sources. */
  source: string;
  /** The uniform block, base64. */
  uniforms: string;
  workgroups: [number, number, number];
  /** Slot of each binding (1, 2, ...); null binds the backend's stand-in. */
  bindings: (number | null)[];
}
export interface Capture {
  calls: number;
  slots: CapturedSlot[];
  launches: CapturedLaunch[];
}
/** What `--save` writes: every row's capture, the WGSL texts shared between rows stored once. */
export interface CapturedKernels {
  sources: Record<string, KernelSource>;
  rows: Record<string, Capture>;
}

/** A short stable key of a kernel source (53-bit FNV-style hash of its name, overrides and text). */
function sourceKey(s: KernelSource): string {
  const text = `${s.name}\n${JSON.stringify(s.overrides)}\n${s.wgsl}`;
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

const toBase64 = (b: ArrayBuffer) => Buffer.from(b).toString('base64');
function fromBase64(s: string): ArrayBuffer {
  const bytes = Buffer.from(s, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/**
 * Run `body` CAPTURE_CALLS times, for real, and record what it launched: the capture (its
 * sources added to `sources`) and the live storage of each input slot. Works by wrapping the
 * backend's run/alloc/release for the duration.
 */
export function capture(backend: Backend, body: () => void, sources: Record<string, KernelSource>): { capture: Capture; live: Storage[]; } {
  const run = backend.run, alloc = backend.alloc, release = backend.release;
  const madeHere = new Set<number>(), releasedHere = new Set<number>();
  const slots: { bytes: number; dtype: DType; first: Storage; }[] = [];
  const slotOfKey = new Map<object, number>();
  const launches: CapturedLaunch[] = [];
  let scratch: Storage[] | null = null;
  const slotOf = (s: Storage): number => {
    const key = (s as Storage & { buffer?: object; }).buffer ?? s; // the GPU buffer: pooled reuse is the same slot
    const bytes = s.numel * BYTES[s.dtype];
    let i = slotOfKey.get(key);
    if (i === undefined) {
      i = slots.push({ bytes, dtype: s.dtype, first: s }) - 1;
      slotOfKey.set(key, i);
    }
    slots[i]!.bytes = Math.max(slots[i]!.bytes, bytes);
    return i;
  };
  backend.alloc = (numel: number, dtype: DType) => {
    const s = alloc.call(backend, numel, dtype);
    madeHere.add(s.id);
    scratch?.push(s); // inside run: the kernel's scratch, in order
    return s;
  };
  backend.release = (s: Storage) => {
    releasedHere.add(s.id);
    release.call(backend, s);
  };
  backend.run = (k: Kernel, storages: readonly Storage[]) => {
    const ls = k.launches();
    scratch = [];
    run.call(backend, { ...k, launches: () => ls }, storages);
    const all = [...storages, ...scratch];
    scratch = null;
    for (const l of ls) {
      const key = sourceKey(l.source);
      sources[key] ??= { name: l.source.name, wgsl: l.source.wgsl, overrides: { ...l.source.overrides } };
      launches.push({ source: key, uniforms: toBase64(l.uniforms), workgroups: [...l.workgroups],
        bindings: l.bindings.map((i) => (i === null ? null : slotOf(all[i]!))) });
    }
  };
  try {
    for (let c = 0; c < CAPTURE_CALLS; c++) body();
  } finally {
    backend.run = run;
    backend.alloc = alloc;
    backend.release = release;
  }
  const isInput = (s: Storage) => !madeHere.has(s.id) && !releasedHere.has(s.id);
  return {
    capture: { calls: CAPTURE_CALLS, slots: slots.map((s) => ({ bytes: s.bytes, dtype: s.dtype, input: isInput(s.first) })), launches },
    live: slots.map((s) => s.first),
  };
}

/**
 * A capture made runnable: `record()` records its launches once more. Input slots bind `live[i]`
 * where that storage can stand in (same dtype, at least the bytes; so a baseline replays on today's
 * inputs while the row's memory layout is unchanged); every other slot is a storage the replay
 * owns, filled with a fixed pattern (zeros in i32), released by dispose().
 */
export class Replay {
  private readonly storages: Storage[];
  private readonly owned: Storage[] = [];
  private readonly kernel: Kernel;

  /**
   * `prefix` goes before every source's name: the baseline's replay gets `saved:`, so its
   * pipelines are its own (the backend caches pipelines by name, overrides and text length, which
   * an edited kernel may share) and its GPU time is told apart from today's.
   */
  constructor(private readonly backend: Backend, c: Capture, sources: Readonly<Record<string, KernelSource>>, live: readonly Storage[],
    fill: (numel: number, dtype: DType) => Storage, prefix = '')
  {
    const launches = c.launches.map((l): Launch & { bindings: (number | null)[]; } => {
      const source = sources[l.source];
      if (!source) throw new Error(`bench: the baseline's kernels lack source ${l.source}; run \`npm run bench -- --save\` again`);
      return { source: { ...source, name: prefix + source.name }, uniforms: fromBase64(l.uniforms), workgroups: l.workgroups, bindings: l.bindings };
    });
    this.storages = c.slots.map((slot, i) => {
      const s = live[i];
      if (slot.input && s && s.dtype === slot.dtype && s.numel * BYTES[s.dtype] >= slot.bytes) return s;
      const own = fill(Math.ceil(slot.bytes / BYTES[slot.dtype]), slot.dtype);
      this.owned.push(own);
      return own;
    });
    this.kernel = {
      name: 'replay',
      launches: () => launches,
      reference: () => {
        throw new Error('bench: a replay has no CPU reference');
      },
    };
  }

  readonly record = (): void => this.backend.run(this.kernel, this.storages);

  dispose(): void {
    for (const s of this.owned) this.backend.release(s);
  }
}

/** The name prefix of the baseline's replay (see Replay). */
export const SAVED = 'saved:';

/** GPU time each A/B pair of a row gets per round, about: enough pairs that their median steadies. */
const PAIRS_MS = 1500;
const MIN_PAIRS = 8, MAX_PAIRS = 64;

/**
 * t_saved / t_today for pairs of one replay of each, run back to back in alternating order (A B,
 * B A, ...): on lavapipe two runs of the same dispatch differ by ±25 % even on a quiet machine,
 * so a row gets as many pairs as fit PAIRS_MS and the caller takes the median of all of them.
 * Each side's time is its dispatches' GPU time from timestamp queries where the adapter has
 * them (no submit or wait inside), else the wall time of its record + sync.
 */
export async function abPairs(backend: Backend, today: Replay, saved: Replay): Promise<number[]> {
  today.record();
  saved.record();
  await backend.sync(); // compiles the saved side's pipelines, untimed
  const t0 = performance.now();
  today.record();
  saved.record();
  await backend.sync();
  const pairs = Math.max(MIN_PAIRS, Math.min(MAX_PAIRS, Math.round(PAIRS_MS / (performance.now() - t0))));
  const timestamps = backend.hasTimestamps;
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 ? [today, saved] : [saved, today];
    let tToday = 0, tSaved = 0;
    if (timestamps) {
      backend.startProfile();
      for (const r of order) r.record();
      for (const [name, t] of await backend.stopProfile()) {
        if (name.startsWith(SAVED)) tSaved += t.ms;
        else tToday += t.ms;
      }
    } else {
      for (const r of order) {
        const t = performance.now();
        r.record();
        await backend.sync();
        if (r === saved) tSaved = performance.now() - t;
        else tToday = performance.now() - t;
      }
    }
    ratios.push(tSaved / tToday);
  }
  return ratios;
}
