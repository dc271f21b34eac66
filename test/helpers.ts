// helpers: what the op tests share. `checkOp` runs one op on the f64 CPU reference and on the
// f32 WebGPU device from the same seeded inputs and checks, separately,
//   1. GPU forward and GPU gradients against the CPU (this tests the kernels);
//   2. CPU gradients against central finite differences in f64 (this tests the backward rule).
// `checkLeaks` makes a suite (made with this file's `suite`) fail when a test leaves tensors or
// storages alive, and keeps a test's own failure first when it also leaks.
// Importing this file creates the WebGPU device (top-level await), once per process: the test
// runner imports every test file into one process, so the device and its pipelines are shared.
// Nothing here reads a clock.
import { suite as uvuSuite, type Callback, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend, fromArray, Generator, memory, mul, noGrad, sum, tidy, type Backend, type Tensor, type WebGPUBackend } from '../engine/index.ts';
import { initWebGPU } from '../engine/device/node.ts';

const webgpu = await initWebGPU();

/** The process's WebGPU backend (f32). Also the engine's default backend. */
export const gpu = (): WebGPUBackend => webgpu;
/** The f64 reference backend. */
export const cpu = new CpuBackend();

// ---- suites and leaks -------------------------------------------------------------------------

/** The context field where a test's own error is kept (by `suite`) for checkLeaks to see. */
interface FailureCrumb {
  __failed__?: unknown;
}
const recordingSuites = new WeakSet<object>();

/**
 * uvu's `suite`, except that each test's own error is recorded on its context before uvu sees it,
 * so that an after.each hook can tell that the test failed (uvu tells hooks nothing): see
 * checkLeaks.
 */
export function suite<T extends object = Record<string, unknown>>(name: string): Test<T> {
  const t = uvuSuite<T>(name);
  const recording = (fn: Callback<T>): Callback<T> => async (ctx) => {
    const crumb = ctx as FailureCrumb;
    crumb.__failed__ = undefined;
    try {
      await fn(ctx);
    } catch (e) {
      crumb.__failed__ = e;
      throw e;
    }
  };
  const s = ((n: string, fn: Callback<T>) => t(n, recording(fn))) as Test<T>;
  s.only = (n, fn) => t.only(n, recording(fn));
  s.skip = t.skip;
  s.before = t.before;
  s.after = t.after;
  s.run = t.run;
  recordingSuites.add(s);
  return s;
}

interface Snapshot {
  tensors: number;
  gpuStorages: number;
  cpuStorages: number;
}
const snapshot = (): Snapshot => ({
  tensors: memory(cpu).liveTensors,
  gpuStorages: memory(webgpu).liveStorages,
  cpuStorages: memory(cpu).liveStorages,
});

/**
 * Fail each test of `t` that ends with more (or fewer) live tensors or storages, on either
 * backend, than it started with. uvu calls after.each again from its catch block when it throws,
 * so the hook throws once per test (then adopts the new counts). When the test itself already
 * failed, the hook runs in uvu's catch block, where a throw would be swallowed together with the
 * test's error (and stop the suite, leaving only a count like "(0 / 8)"); so there the leak is
 * appended to the test's error instead: the first failure is printed first, then the leak.
 * Leaks are also counted in globalThis.__TEST_HOOK_FAILURES__, which test/run.ts reports.
 * `t` must come from this file's `suite`. Tests keep failures leak-free with tidy, `take` and `owned`.
 */
export function checkLeaks<T>(t: Test<T>): void {
  if (!recordingSuites.has(t)) {
    throw new Error("checkLeaks: make the suite with suite() from test/helpers.ts (it records each test's failure, so a leak never hides it)");
  }
  let before: Snapshot | null = null;
  t.before.each((ctx) => {
    before = snapshot();
    (ctx as FailureCrumb).__failed__ = undefined;
  });
  t.after.each((ctx) => {
    const b = before;
    if (!b) return;
    const now = snapshot();
    if (now.tensors === b.tensors && now.gpuStorages === b.gpuStorages && now.cpuStorages === b.cpuStorages) return;
    before = now; // report once: uvu re-runs after.each after a throw
    const g = globalThis as { __TEST_HOOK_FAILURES__?: number; };
    g.__TEST_HOOK_FAILURES__ = (g.__TEST_HOOK_FAILURES__ ?? 0) + 1;
    const msg = `leak in "${ctx.__suite__} / ${ctx.__test__}": live tensors ${b.tensors} → ${now.tensors}, ` +
      `webgpu storages ${b.gpuStorages} → ${now.gpuStorages}, cpu storages ${b.cpuStorages} → ${now.cpuStorages}`;
    const failed = (ctx as FailureCrumb).__failed__;
    if (failed === undefined) throw new assert.Assertion({ message: msg, operator: 'leak', expects: b, actual: now, generated: false });
    if (failed instanceof Error) {
      const stack = failed.stack; // V8 formats it lazily: fix it with the test's own message, which uvu prints above it
      failed.message += `\n    and then ${msg}`;
      failed.stack = stack;
    } else console.error(`\n  ${msg} (after the test threw ${String(failed)})`);
  });
}

/**
 * Run `body`; every tensor it passes to `own` is disposed afterwards with its `.grad`, also when
 * the body throws. A failing test that leaked would trip checkLeaks in uvu's catch path, where a
 * throw is swallowed together with the test's own error (see checkLeaks).
 */
export async function owned(body: (own: <T extends Tensor>(t: T) => T) => unknown): Promise<void> {
  const list: Tensor[] = [];
  try {
    await body((t) => {
      list.push(t);
      return t;
    });
  } finally {
    for (const t of list) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

// ---- input generators -------------------------------------------------------------------------

/** Values for input `i` (row-major over the shape it is stored in); `prev` holds earlier inputs. */
export type Gen = (g: Generator, n: number, i: number, prev: readonly Float64Array[]) => ArrayLike<number>;

export const gens = {
  normal: (scale = 1): Gen => (g, n) => Float64Array.from({ length: n }, () => scale * g.normal()),
  uniform: (lo: number, hi: number): Gen => (g, n) => Float64Array.from({ length: n }, () => lo + (hi - lo) * g.uniform()),
  /** Normal draws redrawn until at least `margin` from every point in `kinks` (abs, where...). */
  awayFrom: (kinks: readonly number[], margin = 0.05, scale = 1): Gen => (g, n) =>
    Float64Array.from({ length: n }, () => {
      for (;;) {
        const v = scale * g.normal();
        if (kinks.every((k) => Math.abs(v - k) >= margin)) return v;
      }
    }),
  /** Distinct values at least `gap` apart, shuffled (max without ties or near-ties). */
  spaced: (gap = 0.05): Gen => (g, n) => {
    const v = Float64Array.from({ length: n }, (_, k) => (k - n / 2) * gap);
    for (let k = n - 1; k > 0; k--) {
      const j = Math.floor(g.uniform() * (k + 1));
      [v[k], v[j]] = [v[j]!, v[k]!];
    }
    return v;
  },
  /** Per-input generators. */
  each: (...gs: Gen[]): Gen => (g, n, i, prev) => gs[i]!(g, n, i, prev),
};

// ---- comparisons ------------------------------------------------------------------------------

const maxAbs = (v: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]!));
  return m;
};

function coordOf(i: number, shape: readonly number[]): string {
  const c: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    c.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return `(${c.join(', ')})`;
}

/**
 * Assert |actual − expected| ≤ atol·max(1, max|expected|) + rtol·|expected| everywhere (NaN only
 * where expected is NaN). Names the worst element with its coordinates.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, shape: readonly number[], what: string, atol: number,
  rtol: number): void
{
  assert.is(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  const scale = Math.max(1, maxAbs(expected));
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (e === a) continue; // equal infinities
    const err = Math.abs(a - e), tol = atol * scale + rtol * Math.abs(e);
    const excess = Number.isNaN(err) ? Infinity : err / tol;
    if (excess > 1 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    const a = actual[worst]!, e = expected[worst]!;
    assert.unreachable(`${what}: at ${coordOf(worst, shape)} got ${a}, expected ${e} (|err| ${Math.abs(a - e).toExponential(2)}, ` +
      `tolerance ${(atol * scale + rtol * Math.abs(e)).toExponential(2)}, scale ${scale.toPrecision(3)})`);
  }
}

/** Host values of a tensor (as f64 numbers), then dispose it. */
export async function take(t: Tensor): Promise<Float64Array> {
  try {
    return Float64Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

// ---- checkOp ----------------------------------------------------------------------------------

export interface CheckOpOptions {
  /** Seed for inputs, R and finite-difference sampling (default 1). */
  seed?: number;
  /** Input values (default standard normal); they are rounded to f32 so both backends see the same. */
  gen?: Gen;
  /** Build input i as its last two dims swapped, then `.transpose()` it: a strided view. */
  transposed?: boolean | readonly boolean[];
  /** Which inputs get gradients (default all); `false`: forward only (ops with no backward). */
  grad?: boolean | readonly boolean[];
  /** Expected output shape. */
  shape?: readonly number[];
  /** GPU vs CPU forward: |err| ≤ atol·max(1, max|ref|) + rtol·|ref| (defaults 1e-6, 1e-5). */
  atol?: number;
  rtol?: number;
  /** GPU vs CPU gradients, same form (defaults 1e-5, 1e-4). */
  gradAtol?: number;
  gradRtol?: number;
  /** Central-difference step (default 1e-6) and tolerance relative to the gradient scale (1e-6). */
  fdEps?: number;
  fdTol?: number;
  /** Finite differences on at most this many elements per input (default 128, sampled). */
  fdSamples?: number;
}

export interface CheckOpResult {
  shape: number[];
  cpu: Float64Array;
  gpu: Float64Array;
  /** CPU gradient of each input (null where none was asked for). */
  cpuGrads: (Float64Array | null)[];
}

const pick = <T>(v: T | readonly T[] | undefined, i: number, dflt: T): T =>
  v === undefined ? dflt : Array.isArray(v) ? ((v as readonly T[])[i] ?? dflt) : (v as T);

/** The shape an input is stored in: transposed inputs swap their last two dims. */
const storedShape = (shape: readonly number[], t: boolean) => t ? [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!] : [...shape];

interface Run {
  shape: number[];
  y: Float64Array;
  grads: (Float64Array | null)[];
}

/**
 * Run fn on `backend` from host values: returns its output, and with `r` the gradients of
 * sum(fn(...) · R) for the inputs flagged in `wantGrad`. Disposes everything it made.
 */
async function runOn(
  backend: Backend,
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  values: readonly Float64Array[],
  shapes: readonly (readonly number[])[],
  transposed: readonly boolean[],
  wantGrad: readonly boolean[] | null,
  r: ((n: number) => Float64Array) | null,
): Promise<Run> {
  const leaves: Tensor[] = [];
  let y: Tensor, grads: (Tensor | null)[] = [];
  try {
    y = tidy(() => {
      values.forEach((v, i) => leaves.push(fromArray(v, storedShape(shapes[i]!, transposed[i]!), { backend, requiresGrad: wantGrad?.[i] ?? false })));
      const out = fn(...leaves.map((l, i) => (transposed[i] ? l.transpose() : l)));
      if (wantGrad && r) {
        if (!out.requiresGrad) throw new Error(`${name}: output does not require grad (no backward rule?); pass grad: false for forward-only ops`);
        const R = fromArray(r(out.size), out.shape, { backend });
        sum(mul(out, R)).backward();
      }
      return out; // the leaves die with the scope; their .grad is kept out of scopes
    });
    grads = leaves.map((l) => l.grad);
    const shape = [...y.shape];
    const yv = await take(y);
    const gv = await Promise.all(grads.map((g) => (g ? take(g) : Promise.resolve(null))));
    return { shape, y: yv, grads: gv };
  } finally {
    for (const l of leaves) {
      l.grad?.dispose();
      l.grad = null;
      l.dispose();
    }
  }
}

/**
 * Check op `fn` on inputs of `inputShapes`: GPU f32 forward and gradients against the CPU f64
 * reference, and the CPU gradients against central finite differences. See CheckOpOptions.
 */
export async function checkOp(
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputShapes: readonly (readonly number[])[],
  opts: CheckOpOptions = {},
): Promise<CheckOpResult> {
  const g = new Generator(opts.seed ?? 1);
  const gen = opts.gen ?? gens.normal();
  const transposed = inputShapes.map((_, i) => pick(opts.transposed, i, false));
  const doGrad = opts.grad !== false;
  const wantGrad = doGrad ? inputShapes.map((_, i) => pick(opts.grad, i, true)) : null;

  const values: Float64Array[] = [];
  inputShapes.forEach((s, i) => {
    const n = s.reduce((a, b) => a * b, 1);
    const v = gen(g, n, i, values);
    assert.is(v.length, n, `${name}: generator gave ${v.length} values for input ${i} [${s.join(', ')}]`);
    values.push(Float64Array.from(v, Math.fround));
  });
  // R is drawn once the output size is known, from its own stream so every run sees the same R
  const rSeed = (opts.seed ?? 1) * 7919 + 13;
  const r = (n: number) => {
    const rg = new Generator(rSeed);
    return Float64Array.from({ length: n }, () => Math.fround(rg.normal()));
  };

  const ref = await runOn(cpu, name, fn, values, inputShapes, transposed, wantGrad, r);
  const dev = await runOn(webgpu, name, fn, values, inputShapes, transposed, wantGrad, r);
  if (opts.shape) assert.equal(ref.shape, [...opts.shape], `${name}: output shape`);
  assert.equal(dev.shape, ref.shape, `${name}: GPU output shape vs CPU`);
  assertClose(dev.y, ref.y, ref.shape, `${name}: GPU forward vs f64 CPU`, opts.atol ?? 1e-6, opts.rtol ?? 1e-5);

  if (wantGrad) {
    for (let i = 0; i < inputShapes.length; i++) {
      const st = storedShape(inputShapes[i]!, transposed[i]!);
      if (!wantGrad[i]) {
        assert.ok(ref.grads[i] === null && dev.grads[i] === null, `${name}: input ${i} got a gradient without requiresGrad`);
        continue;
      }
      const gc = ref.grads[i], gg = dev.grads[i];
      if (!gc || !gg) assert.unreachable(`${name}: input ${i} got no gradient (cpu ${!!gc}, gpu ${!!gg})`);
      assertClose(gg!, gc!, st, `${name}: GPU gradient of input ${i} vs f64 CPU`, opts.gradAtol ?? 1e-5, opts.gradRtol ?? 1e-4);
      await checkFiniteDifferences(name, fn, values, inputShapes, transposed, i, gc!, r, g, opts);
    }
  }
  return { shape: ref.shape, cpu: ref.y, gpu: dev.y, cpuGrads: ref.grads };
}

/** CPU gradient of input i against (L(x + εe_j) − L(x − εe_j)) / 2ε, L = Σ fn(...)·R. */
async function checkFiniteDifferences(
  name: string,
  fn: (...xs: Tensor[]) => Tensor,
  values: readonly Float64Array[],
  shapes: readonly (readonly number[])[],
  transposed: readonly boolean[],
  i: number,
  grad: Float64Array,
  r: (n: number) => Float64Array,
  g: Generator,
  opts: CheckOpOptions,
): Promise<void> {
  const eps = opts.fdEps ?? 1e-6, tol = opts.fdTol ?? 1e-6;
  const n = values[i]!.length;
  const samples = Math.min(n, opts.fdSamples ?? 128);
  let idx = Array.from({ length: n }, (_, k) => k);
  if (samples < n) {
    for (let k = n - 1; k > 0; k--) {
      const j = Math.floor(g.uniform() * (k + 1));
      [idx[k], idx[j]] = [idx[j]!, idx[k]!];
    }
    idx = idx.slice(0, samples);
  }
  let R: Float64Array | null = null;
  const loss = async (vals: readonly Float64Array[]): Promise<number> => {
    const y = tidy(() =>
      noGrad(() =>
        fn(...vals.map((v, k) => {
          const t = fromArray(v, storedShape(shapes[k]!, transposed[k]!), { backend: cpu });
          return transposed[k] ? t.transpose() : t;
        }))
      )
    );
    const yv = await take(y);
    R ??= r(yv.length);
    let s = 0;
    for (let k = 0; k < yv.length; k++) s += yv[k]! * R[k]!;
    return s;
  };
  const scale = maxAbs(grad);
  const vals = values.map((v) => Float64Array.from(v));
  const st = storedShape(shapes[i]!, transposed[i]!);
  for (const j of idx) {
    const x0 = values[i]![j]!;
    vals[i]![j] = x0 + eps;
    const lp = await loss(vals);
    vals[i]![j] = x0 - eps;
    const lm = await loss(vals);
    vals[i]![j] = x0;
    const fd = (lp - lm) / (2 * eps);
    // rounding in L itself (f64) divided by 2ε is the noise floor of the difference
    const noise = 1e-15 * (Math.abs(lp) + Math.abs(lm)) / (2 * eps);
    const err = Math.abs(fd - grad[j]!);
    if (!(err <= tol * scale + noise)) {
      assert.unreachable(`${name}: CPU gradient of input ${i} at ${coordOf(j, st)} is ${grad[j]}, finite differences give ${fd} ` +
        `(|err| ${err.toExponential(2)}, tolerance ${(tol * scale + noise).toExponential(2)} for gradient scale ${scale.toPrecision(3)})`);
    }
  }
}

/** Assert fn throws an error whose message matches `re` (and, when given, of class `cls`). */
export function throwsWith(fn: () => unknown, re: RegExp, cls?: new(...a: never[]) => Error): Error {
  try {
    fn();
  } catch (e) {
    if (cls && !(e instanceof cls)) assert.unreachable(`expected a ${cls.name}, got ${String(e)}`);
    if (!(e instanceof Error)) throw assertionError(`expected an Error, got ${String(e)}`);
    if (!re.test(e.message)) assert.unreachable(`expected an error matching ${re}, got "${e.message}"`);
    return e;
  }
  throw assertionError(`expected an error matching ${re}, but nothing was thrown`);
}

const assertionError = (message: string) => new assert.Assertion({ message, operator: 'throws', expects: true, actual: false, generated: false });
