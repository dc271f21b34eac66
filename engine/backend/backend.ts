// backend: the interface every device implements: memory (raw storage: a GPU buffer, or a
// Float64Array for the CPU reference), `run` for a kernel of kernels/ (its WGSL launches, or its
// float64 twin), flush/sync and memory stats, and the device's capabilities as data. It knows
// nothing of ops, autograd or shapes. Two exist: `webgpu` (f32, deferred: records dispatches and
// submits at sync points) and `cpu` (f64, immediate), which runs every kernel's twin as the
// reference for tests, jax-js style.
import type { Kernel } from '../../kernels/index.ts';

/** Element types: f32 and i32 everywhere; f16 storage (math in f32) where the device has shader-f16. */
export type DType = 'f32' | 'i32' | 'f16';

/** Bytes per element of each dtype. */
export const BYTES: Readonly<Record<DType, number>> = { f32: 4, i32: 4, f16: 2 };

/** A reference-counted allocation. `refs` counts the tensors (views included) that use it. */
export interface Storage {
  readonly id: number;
  readonly numel: number;
  readonly dtype: DType;
  refs: number;
}

/** A strided window onto a storage: what kernels read and write. */
export interface View {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** A backend's storage and dispatch counters (see `memory()`). */
export interface MemoryStats {
  /** Storages in use by tensors. */
  liveStorages: number;
  liveBytes: number;
  /** Bytes held by the pool for reuse (allocated on the device, not in use). */
  pooledBytes: number;
  /** Dispatches and submits since the backend was created. */
  dispatches: number;
  submits: number;
}

/** What a device implements: memory, running a kernel, syncing, and its capabilities. */
export interface Backend {
  readonly name: 'webgpu' | 'cpu';

  // ---- memory ------------------------------------------------------------------------------------
  alloc(numel: number, dtype: DType): Storage;
  /** Return storage to the pool; called when its last tensor is disposed. */
  release(s: Storage): void;
  upload(s: Storage, data: ArrayLike<number>): void;
  /** Read `numel` elements starting at `offset`; never blocks work recorded after the call. */
  read(s: Storage, offset: number, numel: number): Promise<Float32Array | Float64Array | Int32Array>;
  memory(): MemoryStats;
  /** Free pooled allocations (not live ones). */
  trim(): void;

  // ---- capabilities ------------------------------------------------------------------------------
  /** Largest element count one 4-byte-element storage may hold on this device (twice that in f16). */
  readonly maxElements: number;
  /** Whether tensors may hold f16 (the WebGPU device has shader-f16; the CPU reference always). */
  readonly hasF16: boolean;
  /** The smallest subgroup size (0: no subgroups, as on the CPU); ≥ 8 selects the subgroup kernels. */
  readonly subgroupSize: number;
  /** Storage buffers one kernel may bind (the device's maxStorageBuffersPerShaderStage; the CPU: no limit). */
  readonly maxStorageBuffersPerStage: number;
  /** adapterKey() of the device, which picks its rows of the tuned matmul tiles ('' on the CPU, which builds no launches). */
  readonly adapter: string;

  // ---- running kernels ---------------------------------------------------------------------------
  /**
   * Run a kernel (kernels/kernel-source.ts): the WebGPU backend records its launches in order,
   * binding `storages[i]` for each index in `bindings` (binding 1, 2, ...; binding 0 is the
   * uniform block); the CPU backend calls its float64 `reference` on the storages' values
   * instead, then rounds f16 storages.
   */
  run(k: Kernel, storages: readonly Storage[]): void;
  /** Label for errors: the op being recorded. */
  setLabel(label: string): void;
  /** Submit recorded work now. */
  flush(): void;
  /** Resolves when every submitted piece of work has finished. */
  sync(): Promise<void>;
}
