// cpu backend: the float64 reference device, the runner of twins. It runs the same op table as
// the GPU, each kernel by its float64 twin (kernels/: the loops beside each kernel's WGSL), with
// no pooling or deferral, so tests can check (1) the GPU kernels against it and (2) the backward
// rules against finite differences on it, separately. It is for correctness, not speed.
// f16 storages hold float64 values rounded to f16 after every kernel: math in f64, storage in
// f16, as the GPU does math in f32 over f16 storage.
import { f16round } from '@petamoriken/float16';
import type { Kernel } from '../../kernels/index.ts';
import type { Backend, DType, MemoryStats, Storage } from './backend.ts';

interface CpuStorage extends Storage {
  data: Float64Array;
}

let nextId = 1;

/** The f64 reference backend: runs the same op table on the host, immediately (for tests and finite differences). */
export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly maxElements = 2 ** 31 - 1;
  readonly hasF16 = true;
  readonly subgroupSize = 0;
  readonly maxStorageBuffersPerStage = Number.POSITIVE_INFINITY;
  readonly adapter = '';
  private stats = { liveStorages: 0, liveBytes: 0, pooledBytes: 0, dispatches: 0, submits: 0 };

  alloc(numel: number, dtype: DType): CpuStorage {
    this.stats.liveStorages++;
    this.stats.liveBytes += numel * 8;
    return { id: nextId++, numel, dtype, refs: 0, data: new Float64Array(numel) };
  }
  release(s: Storage): void {
    this.stats.liveStorages--;
    this.stats.liveBytes -= s.numel * 8;
  }
  upload(s: Storage, data: ArrayLike<number>): void {
    (s as CpuStorage).data.set(data);
    this.round(s);
  }
  read(s: Storage, offset: number, numel: number): Promise<Float64Array> {
    return Promise.resolve((s as CpuStorage).data.slice(offset, offset + numel));
  }
  private d(s: Storage): Float64Array {
    return (s as CpuStorage).data;
  }
  /** Round an f16 storage's values to f16 after a write (whole storage: this is the slow reference). */
  private round(s: Storage): void {
    if (s.dtype !== 'f16') return;
    const d = this.d(s);
    for (let i = 0; i < d.length; i++) d[i] = f16round(d[i]!);
  }

  run(k: Kernel, storages: readonly Storage[]): void {
    this.stats.dispatches++;
    k.reference(storages.map((s) => this.d(s)));
    for (const s of storages) this.round(s); // f16 outputs of the float64 twin
  }

  flush(): void {}
  sync(): Promise<void> {
    return Promise.resolve();
  }
  memory(): MemoryStats {
    return { ...this.stats };
  }
  setLabel(): void {}
  trim(): void {}
}
