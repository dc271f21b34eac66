// bench/common: what the kernel suites share. A suite returns rows; run.ts prints them, writes
// the baseline and RESULTS.md, and checks regressions.
//
// Timing: a timed body records R launches into the backend's open pass, then awaits
// `backend.sync()`, so the GPU work is inside the time and the per-dispatch cost (encoding,
// bind group, submit) is spread over R. Inputs are made and pipelines compiled (one untimed
// launch) before. mitata takes several such samples; a row reports the fastest, divided by R:
// on a shared machine, other processes only ever make a sample slower, so the minimum is the
// steadiest estimate of what the kernel costs.
import { measure } from 'mitata';
import { deviceInfo, initWebGPU } from '../engine/device/node.ts';
import type { WebGPUBackend } from '../engine/backend/webgpu.ts';
import type { Storage } from '../engine/backend/backend.ts';
import { adapterKey, type Launch } from '../kernels/index.ts';
import { abPairs, capture, Replay, SAVED, type CapturedKernels } from './ab-guard.ts';

export type Backend = WebGPUBackend;

/** One measured kernel and shape. */
export interface BenchRow {
  /** Suite (kernel family): peak, matmul, elementwise, reduce, softmax. */
  suite: string;
  /** Stable id: the key of the baseline. */
  name: string;
  /** Seconds per launch (fastest sample / R). */
  seconds: number;
  /** Compute-bound kernels: GFLOP/s. */
  gflops?: number;
  /** Bandwidth-bound kernels: GB/s of the bytes the op must move at least. */
  gbs?: number;
  /** The rate divided by a reference measured in the same run: what the check compares. */
  score?: number;
  /**
   * What score is a fraction of: the copy kernel (GB/s), or the kernel's naive twin run on the
   * same inputs (matmul: the scalar kernel), which loads and computes like it and so feels the
   * machine's load like it. (The FMA peak kernel is only the yardstick for % of peak: it runs on
   * other execution ports, so a busy machine slows it differently.)
   */
  ref?: 'copy' | 'twin';
  /** The reference's rate measured interleaved with this row (GFLOP/s or GB/s; see timeAgainst). */
  refRate?: number;
  /** With several rounds (run.ts --rounds): each round's score; `score` is their median. */
  roundScores?: number[];
  /** bench:check: t_baseline / t_today of the row's kernels replayed A/B (ab-guard.ts), the median of every pair's. */
  ab?: number;
  /** bench:check: each round's pairs' ratios. */
  abPairs?: number[][];
  note?: string;
}

/** The references every score is normalised by, measured first in the same run. */
export interface References {
  peakGflops: number;
  copyGbs: number;
}

/** A reference kernel to interleave with a measurement: one launch, and its work (FLOPs or bytes). */
export interface RefKernel {
  record: () => void;
  work: number;
}

export interface BenchContext {
  backend: Backend;
  refs: References;
  /** The reference kernels themselves, for timeAgainst. */
  refKernels: { peak: RefKernel; copy: RefKernel; };
  /** Samples per row (mitata min/max samples). */
  samples: number;
  /** When set, only these rows are measured (bench:check's confirmation pass); see `wanted`. */
  only?: ReadonlySet<string>;
  log: (line: string) => void;
}

/** Whether this run measures the row `name` (every row unless ctx.only names some). */
export const wanted = (ctx: Pick<BenchContext, 'only'>, name: string) => !ctx.only || ctx.only.has(name);

let backendPromise: Promise<Backend> | null = null;
export function getBackend(): Promise<Backend> {
  backendPromise ??= initWebGPU();
  return backendPromise;
}

/** Adapter as one line (vendor, architecture, device, description). */
export function adapterName(): string {
  return adapterKey(deviceInfo().adapter) || 'unknown adapter';
}

/** The device's subgroup size as the engine passes it to the matmul launcher (0: none). */
export function subgroupSize(backend: Backend): number {
  return backend.subgroupSize;
}

/** A storage of `n` values in [-1, 1) (fixed pattern; zeros in i32), uploaded. */
export function filled(backend: Backend, n: number, seed = 1, dtype: 'f32' | 'f16' | 'i32' = 'f32'): Storage {
  const s = backend.alloc(n, dtype);
  const v = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    v[i] = (x >>> 8) / 2 ** 23 - 1;
  }
  backend.upload(s, v);
  return s;
}

/** A raw launch recorded through the backend's public `custom` entry (bindings 1.. = storages). */
export function recordLaunch(backend: Backend, l: Launch, storages: Storage[]): void {
  backend.run({
    name: l.source.name,
    launches: () => [{ ...l, bindings: storages.map((_, i) => i) }],
    reference: () => {
      throw new Error(`${l.source.name}: no CPU reference in bench`);
    },
  }, storages);
}

/**
 * Seconds per launch of `record` (which records one launch): warm up once (compiles), then
 * `samples` timed bodies of `reps` launches + sync each; the fastest body / reps.
 * `reps` is chosen so a body lasts about `targetMs`, from the warm-up's duration.
 */
export async function timeLaunches(backend: Backend, record: () => void, samples: number, targetMs = 150): Promise<number> {
  record();
  await backend.sync(); // compile + first run, untimed
  const t0 = performance.now();
  record();
  await backend.sync();
  const once = Math.max(0.05, performance.now() - t0);
  const reps = Math.max(1, Math.min(200, Math.round(targetMs / once)));
  const stats = await measure(async () => {
    for (let r = 0; r < reps; r++) record();
    await backend.sync();
  }, { min_samples: samples, max_samples: samples, min_cpu_time: 0, warmup_samples: 0, batch_samples: 1, batch_unroll: 1 });
  return stats.min / 1e9 / reps; // mitata reports ns
}

/** The median of a non-empty list (the mean of the middle two for an even length). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * Seconds per launch of `record` (fastest sample), and the reference's rate as the score should
 * see it. The two run in alternating samples; each adjacent pair gives the ratio
 * (record's rate / ref's rate) under the same load, and the score is the median of those
 * ratios: a machine shared with other processes slows both sides of a pair alike, and the
 * median drops the pairs a burst split. `ratio` is that median of t_ref / t (per launch);
 * `refRate` (ref.work/s / 1e9) is the reference rate that makes rate / refRate equal it, with
 * rate from the fastest sample. `record` may also be a whole step (fused.bench.ts): any body
 * that records GPU work and leaves the waiting to `backend.sync()`.
 */
export async function timeAgainst(backend: Backend, record: () => void, ref: RefKernel, samples: number,
  targetMs = 150): Promise<{ seconds: number; refRate: number; ratio: number; }>
{
  const reps = async (f: () => void) => {
    f();
    await backend.sync(); // compile + first run, untimed
    const t0 = performance.now();
    f();
    await backend.sync();
    return Math.max(1, Math.min(200, Math.round(targetMs / Math.max(0.05, performance.now() - t0))));
  };
  const rk = await reps(record), rr = await reps(ref.record);
  const opts = { min_samples: 1, max_samples: 1, min_cpu_time: 0, warmup_samples: 0, batch_samples: 1, batch_unroll: 1 };
  const times: number[] = [], ratios: number[] = []; // ratios: t_ref / t (both per launch)
  const body = (f: () => void, n: number) =>
    measure(async () => {
      for (let r = 0; r < n; r++) f();
      await backend.sync();
    }, opts);
  for (let s = 0; s < samples; s++) {
    // A B, then B A: a load that grows or fades across a pair favours neither side on average
    let a, b;
    if (s % 2 === 0) {
      a = await body(record, rk);
      b = await body(ref.record, rr);
    } else {
      b = await body(ref.record, rr);
      a = await body(record, rk);
    }
    const t = a.min / 1e9 / rk, tr = b.min / 1e9 / rr;
    times.push(t);
    ratios.push(tr / t);
  }
  const ratio = median(ratios);
  const seconds = Math.min(...times);
  return { seconds, refRate: ref.work / (seconds * ratio) / 1e9, ratio };
}

/** Row names IJEPA_BENCH_SLOW matched in this run (run.ts refuses a spec that matched none). */
export const slowedRows = new Set<string>();

/** IJEPA_BENCH_SLOW as { name, fraction }, or null when unset; a malformed value is an error naming it. */
export function slowdownSpec(): { name: string; fraction: number; } | null {
  const spec = process.env.IJEPA_BENCH_SLOW;
  if (!spec) return null;
  const at = spec.lastIndexOf(':');
  const fraction = Number(spec.slice(at + 1));
  if (at < 0 || !(fraction > 0)) throw new Error(`bench: IJEPA_BENCH_SLOW must be "<row name>:<fraction>", got "${spec}"`);
  return { name: spec.slice(0, at), fraction };
}

/**
 * The bench's self-test: IJEPA_BENCH_SLOW=<row name>:<fraction> (e.g. "elementwise add 4194304:0.25")
 * makes the named row record `fraction` extra launches of its own kernel per timed launch, so that
 * row does that much more work and `bench:check` must flag it. Read here only, never by engine/.
 */
export function injectSlowdown(name: string, record: () => void): () => void {
  const spec = slowdownSpec();
  if (!spec || spec.name !== name) return record;
  slowedRows.add(name);
  let owed = 0;
  return () => {
    record();
    for (owed += spec.fraction; owed >= 1; owed -= 1) record();
  };
}

/**
 * What `--save` and `--check` add to every row (run.ts sets `mode` and `baseline`; ab-guard.ts):
 * save captures each row's kernels into `saved`; check replays today's and the baseline's in
 * alternating pairs and keeps each row's latest pairs' ratios (t_baseline / t_today) in `ratios`.
 */
export const guard: {
  mode: 'save' | 'check' | null;
  baseline: CapturedKernels | null;
  saved: CapturedKernels;
  ratios: Map<string, number[]>;
  log: (line: string) => void;
} = {
  log: console.log,
  mode: null,
  baseline: null,
  saved: { sources: {}, rows: {} },
  ratios: new Map(),
};

/**
 * A bench row's measurement: IJEPA_BENCH_SLOW applied to its body (injectSlowdown), then
 * - plain and --save: the body timed against its reference (timeAgainst); --save also captures
 *   the kernels the body launches into `guard.saved`;
 * - --check: only the A/B of today's kernels against the saved ones (the time and score are NaN:
 *   the check compares no score, and skipping them leaves the time to the pairs).
 * Every suite times its rows through this.
 */
export async function timeRow(backend: Backend, name: string, record: () => void, ref: RefKernel,
  samples: number): Promise<{ seconds: number; refRate: number; ratio: number; }>
{
  const body = injectSlowdown(name, record);
  if (guard.mode === 'check') {
    await checkRow(backend, name, body);
    return { seconds: NaN, refRate: NaN, ratio: NaN };
  }
  const m = await timeAgainst(backend, body, ref, samples);
  if (guard.mode === 'save') guard.saved.rows[name] = capture(backend, body, guard.saved.sources).capture;
  return m;
}

/** bench:check's measurement of one row: its A/B pairs against the saved kernels, into guard.ratios. */
async function checkRow(backend: Backend, name: string, body: () => void): Promise<void> {
  const today = capture(backend, body, guard.saved.sources);
  const base = guard.baseline?.rows[name];
  if (!guard.baseline || !base) {
    guard.log(`  ${name.padEnd(44)} no saved kernels`);
    return;
  }
  const fill = (n: number, dtype: 'f32' | 'f16' | 'i32') => filled(backend, n, 3, dtype);
  const mine = new Replay(backend, today.capture, guard.saved.sources, today.live, fill);
  const theirs = new Replay(backend, base, guard.baseline.sources, today.live, fill, SAVED);
  const pairs = await abPairs(backend, mine, theirs);
  await backend.sync();
  mine.dispose();
  theirs.dispose();
  guard.ratios.set(name, pairs);
  // the same source keys in the same order: today's WGSL is the saved WGSL, launch for launch
  const same = today.capture.launches.map((l) => l.source).join() === base.launches.map((l) => l.source).join();
  guard.log(
    `  ${name.padEnd(44)} A/B ${median(pairs).toFixed(3)} (median of ${pairs.length} pairs; ${same ? 'same WGSL as saved' : 'WGSL changed'})`,
  );
}

export const fmtShape = (dims: readonly number[]) => dims.join('×');
