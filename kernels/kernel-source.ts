// kernel-source: the one shape every kernel builder returns, plus the small helpers
// builders share. Pure: no GPU objects here, so kernels can be tested and benchmarked alone.

/** WGSL text plus everything needed to launch it; built by a kernel builder, run by a backend. */
export interface KernelSource {
  /** Stable name for errors and for the pipeline cache (with the overrides). */
  readonly name: string;
  readonly wgsl: string;
  /** Pipeline-overridable constants (`override X: u32`), part of the pipeline identity. */
  readonly overrides: Readonly<Record<string, number>>;
}

/**
 * `cache`'s value for `key`, built by `build` the first time: kernel texts are pure functions of
 * their parameters, and building one per launch would cost more than the launch's host work.
 */
export function cached<T>(cache: Map<string, T>, key: string, build: () => T): T {
  let v = cache.get(key);
  if (v === undefined) {
    v = build();
    cache.set(key, v);
  }
  return v;
}

/** Workgroups along x and y for `n` invocations: WebGPU caps each dimension at 65535. */
export function grid(n: number, workgroupSize: number, maxPerDim = 65535): [number, number] {
  const groups = Math.max(1, Math.ceil(n / workgroupSize));
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  if (y > maxPerDim) throw new Error(`kernel launch: ${n} invocations exceed ${maxPerDim}² workgroups of ${workgroupSize}`);
  return [Math.ceil(groups / y), y];
}

/** Throw a named, readable error when a builder gets a parameter it can't honour. */
export function need(op: string, ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(`${op}: ${message}`);
}

/** WGSL snippet: the linear invocation id of a 1-D launch split over a 2-D grid (see `grid`). */
export const LINEAR_ID = /* wgsl */ `
fn linearId(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>, wg: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * wg + lid.x;
}`;

/**
 * WGSL: the entry point of a 1-D launch split over a 2-D grid (see `grid`): `fn main` binding
 * `id` to the linear invocation id. Needs LINEAR_ID and `override WG` in the shader.
 */
export const MAIN_1D = (id = 'i') =>
  /* wgsl */ `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let ${id} = linearId(wid, nwg, lid, WG);`;

/** Maximum tensor rank the strided kernels index; higher ranks are an error before dispatch. */
export const MAX_RANK = 8;

/** Element types a float tensor's storage may hold: f32, or f16 where the device has shader-f16. */
export type FloatStorage = 'f32' | 'f16';

/**
 * WGSL preamble of a kernel whose float buffers hold `t`: `enable f16;` when needed and
 * `alias T = t;`. Kernels declare those buffers as array<T> (or array<vec4<T>>) and convert on
 * every load (`f32(x)`, `vec4<f32>(x)`; identities for f32) and store (`T(v)`), so all
 * arithmetic and accumulation stays in f32 whatever the storage holds. Must open the shader
 * (enable directives precede every declaration).
 */
export const floatStorage = (t: FloatStorage): string => t === 'f16' ? 'enable f16;\nalias T = f16;\n' : 'alias T = f32;\n';

/** One dispatch: the kernel, its uniform block and its workgroup grid. */
export interface Launch {
  readonly source: KernelSource;
  readonly uniforms: ArrayBuffer;
  readonly workgroups: [number, number, number];
}

/**
 * What a backend runs (Backend.run): launches in order over a list of storages, each binding
 * the storages at its `bindings` indices as bindings 1, 2, ... (binding 0 is its uniform block;
 * a null index binds a stand-in the kernel never touches), and the float64 twin the CPU backend
 * runs on the same storages' values instead. Launches are built on demand, so the CPU backend
 * never builds WGSL (nor the launch checks that belong to the GPU's limits).
 */
export interface Kernel {
  readonly name: string;
  /**
   * Element counts of f32 temporaries the launches use (a split reduction's partials): the
   * WebGPU backend allocates them before the launches, as storages after the caller's (indices
   * storages.length, +1, ...), and releases them after. The twin gets none.
   */
  readonly scratch?: readonly number[];
  launches(): readonly (Launch & { readonly bindings: readonly (number | null)[]; })[];
  reference(arrays: readonly Float64Array[]): void;
}

/**
 * A Kernel from launches run in order, each with its binding indices into the storage list and
 * its float64 twin, which the CPU backend calls on the same storages in the same order.
 */
export function kernel(name: string, launches: readonly [Launch, readonly number[], (a: Float64Array[]) => void][]): Kernel {
  return {
    name,
    launches: () => launches.map(([l, bindings]) => ({ ...l, bindings })),
    reference: (arrays) => {
      for (const [, bindings, twin] of launches) twin(bindings.map((i) => arrays[i]!));
    },
  };
}
