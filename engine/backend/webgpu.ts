// webgpu backend: f32/i32 (and f16 with shader-f16) storage in GPU buffers, kernels from kernels/, deferred execution.
//
// Execution model: every op records a dispatch into one open compute pass; work is submitted
// at sync points (a readback, an upload into reused memory, `flush`, or every
// MAX_PENDING dispatches). Nothing here awaits the GPU except `read` and `sync`.
// Invariants:
//  - Buffers come from a size-bucketed pool. A buffer released while recorded work still uses
//    it may be handed to a later op at once: the queue runs commands in order, so later GPU
//    writes cannot overtake earlier reads. Host uploads (queue.writeBuffer) are queue
//    operations that would overtake unsubmitted commands, so an upload first submits them.
//  - Uniforms of one submit live in 64 KiB arena chunks written with one writeBuffer each
//    just before the submit; chunks are reused only by later submits (queue order again).
//  - Pipelines are created once per (kernel, overrides) per device.
//  - Validation errors and device loss are thrown at the next sync point, naming the op that
//    was being recorded.
// Bounds sanitizer (`sanitize`, on in the tests): lavapipe drops out-of-bounds storage writes
// silently, and a pooled buffer's bucket slack hides small overruns anyway. So each buffer gets
// a guard tail of GUARD_BYTES right after the tensor's last word, filled with SENTINEL, and every
// storage is bound with exactly its words plus that tail (a runtime-sized WGSL array takes its
// length from the binding, so an overrunning write lands in the tail instead of vanishing). At
// every submit the tails of the storages bound writable since the last one are copied into one
// readback buffer; `read` and `sync` wait for that and throw a DeviceError naming the kernels
// that bound the storage writable. No extra dispatches: `dispatches` counts stay as they are.
// Only `navigator.gpu` types are used: this file runs in a browser as it is.
import { adapterKey, type Kernel, type KernelSource } from '../../kernels/index.ts';
import { Float16Array } from '@petamoriken/float16';
import { DeviceError } from '../errors.ts';
import { BYTES, type Backend, type DType, type MemoryStats, type Storage } from './backend.ts';

interface GpuStorage extends Storage {
  buffer: GPUBuffer;
  bucket: number;
}

/** Guard tail per storage in sanitize mode: 64 words, past any one-vec4 or one-row overrun. */
const GUARD_BYTES = 256;
/** Tail fill: a NaN as f32 and as each f16 half, and not a value kernels compute. */
const SENTINEL = 0x7fab7fab;
const GUARD = new Uint32Array(GUARD_BYTES / 4).fill(SENTINEL);
/** Storages bound writable since the last submit: who wrote them (kernel and op), for the error. */
interface Written {
  storage: GpuStorage;
  writers: Set<string>;
}

const MAX_PENDING = 1024;
const ARENA_BYTES = 64 * 1024;
interface ArenaChunk {
  gpu: GPUBuffer;
  cpu: Uint8Array;
  used: number;
}

let nextStorageId = 1;

/** The WebGPU backend (f32, f16 storage where the device allows): records dispatches and submits at sync points. Created by `initWebGPU`. */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly maxElements: number;
  readonly hasF16: boolean;
  readonly subgroupSize: number;
  readonly maxStorageBuffersPerStage: number;
  /** adapterKey() of the device, which picks its rows of the tuned matmul tiles. */
  readonly adapter: string;
  private readonly pool = new Map<number, GPUBuffer[]>();
  /**
   * Pipelines by WGSL text, then by name and overrides. Keyed by the whole text: two kernels may
   * share a name and a text length (an edited kernel beside its saved copy, bench/ab-guard.ts), and
   * a Map hashes a string once per string, which the builders' text caches (kernels/) keep.
   */
  private readonly pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly uniformAlign: number;
  private arenaFree: ArenaChunk[] = [];
  private arenaUsed: ArenaChunk[] = [];
  private readonly dummy: GPUBuffer;
  private label = '(no op yet)';
  private error: DeviceError | null = null;
  private stats = { liveStorages: 0, liveBytes: 0, pooledBytes: 0, dispatches: 0, submits: 0 };

  /** Bounds sanitizer on (see the header): guard tails, checked at each submit. */
  readonly sanitize: boolean;
  private readonly guard: number;
  private written = new Map<GPUBuffer, Written>();
  /** Buffers released since the last submit: kept out of the pool until it (see `alloc`). */
  private quarantine: GpuStorage[] = [];
  private checks: Promise<void>[] = [];
  /** Which storage each buffer now holds, so a tail is re-armed only while that storage has it. */
  private owner = new WeakMap<GPUBuffer, number>();
  private readonly writableBindings = new Map<string, Set<number>>();

  constructor(readonly device: GPUDevice, opts: { sanitize?: boolean; } = {}) {
    this.sanitize = !!opts.sanitize;
    this.guard = this.sanitize ? GUARD_BYTES : 0;
    // the guard tail shares the binding: a tensor may use the largest binding less the tail
    this.maxElements = Math.floor((Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize) - this.guard) / 4);
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.hasF16 = device.features.has('shader-f16');
    this.subgroupSize = device.features.has('subgroups') ? device.adapterInfo?.subgroupMinSize ?? 0 : 0;
    this.adapter = adapterKey(device.adapterInfo);
    this.maxStorageBuffersPerStage = device.limits.maxStorageBuffersPerShaderStage;
    this.dummy = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    device.addEventListener('uncapturederror', (e) => {
      const err = e.error;
      this.error ??= new DeviceError(this.label, `WebGPU error while recording: ${err.message}`);
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.error ??= new DeviceError(this.label, `device lost (${info.reason}): ${info.message}`);
    });
  }

  setLabel(label: string): void {
    this.label = label;
  }

  // ---- memory -------------------------------------------------------------------------------

  /** Pool bucket: sizes round up to 1/8 steps of their power of two (≤ 12.5 % slack). */
  private bucketOf(bytes: number): number {
    const b = Math.max(256, bytes);
    const pow = 2 ** Math.ceil(Math.log2(b));
    const step = Math.max(256, pow / 8);
    const cap = this.maxElements * 4 + this.guard;
    return Math.min(Math.ceil(b / step) * step, Math.max(cap, b));
  }

  alloc(numel: number, dtype: DType): GpuStorage {
    const bytes = numel * BYTES[dtype];
    if (bytes > this.maxElements * 4) {
      throw new DeviceError(this.label,
        `a ${dtype} tensor of ${numel} elements (${(bytes / 2 ** 20).toFixed(1)} MiB) exceeds this device's largest storage binding (${
          Math.floor(this.maxElements * 4 / BYTES[dtype])
        } ${dtype} elements); split it`);
    }
    if (dtype === 'f16' && !this.hasF16) {
      throw new DeviceError(this.label, 'f16 storage needs the shader-f16 feature, which this device lacks; use f32');
    }
    // f16 buffers round up to whole 4-byte words (WebGPU copies and bindings are word-aligned)
    const words = Math.ceil(bytes / 4) * 4;
    const bucket = this.bucketOf(words + this.guard);
    const free = this.pool.get(bucket);
    let buffer = free?.pop();
    if (buffer) this.stats.pooledBytes -= bucket;
    else buffer = this.device.createBuffer({ size: bucket, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.stats.liveStorages++;
    this.stats.liveBytes += bucket;
    const s: GpuStorage = { id: nextStorageId++, numel, dtype, refs: 0, buffer, bucket };
    if (this.sanitize) {
      // A pooled buffer's tail sits wherever its last storage ended: arm it at this one's end.
      // Overtaking recorded work is safe here: in sanitize mode a buffer reaches the pool only
      // at a submit (see `release`), so no unsubmitted command uses it.
      this.device.queue.writeBuffer(buffer, words, GUARD);
      this.owner.set(buffer, s.id);
    }
    return s;
  }

  /** Bytes a storage is bound with: its words, plus the guard tail in sanitize mode. */
  private bindSize(s: GpuStorage): number {
    return Math.ceil(s.numel * BYTES[s.dtype] / 4) * 4 + this.guard;
  }

  release(s: Storage): void {
    const g = s as GpuStorage;
    this.stats.liveStorages--;
    this.stats.liveBytes -= g.bucket;
    this.stats.pooledBytes += g.bucket;
    // sanitize mode: `alloc` arms tails with queue writes, which would overtake recorded work
    // still using this buffer; so it waits for the next submit (and its tail check) to be pooled
    if (this.sanitize) {
      this.quarantine.push(g);
      return;
    }
    this.toPool(g);
  }

  private toPool(g: GpuStorage): void {
    let list = this.pool.get(g.bucket);
    if (!list) {
      list = [];
      this.pool.set(g.bucket, list);
    }
    list.push(g.buffer);
  }

  trim(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.stats.pooledBytes = 0;
  }

  memory(): MemoryStats {
    return { ...this.stats };
  }

  upload(s: Storage, data: ArrayLike<number>): void {
    if (this.pending > 0) this.flush(); // see the invariants above
    const typed = s.dtype === 'i32' ? Int32Array.from(data) : s.dtype === 'f16' ? Float16Array.from(data) : Float32Array.from(data);
    // writeBuffer moves whole 4-byte words: an odd count of f16 values gets a zero pad
    const bytes = Math.ceil(typed.byteLength / 4) * 4;
    const src = bytes === typed.byteLength ? new Uint8Array(typed.buffer, typed.byteOffset, bytes) : new Uint8Array(bytes);
    if (src.buffer !== typed.buffer) src.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
    this.device.queue.writeBuffer((s as GpuStorage).buffer, 0, src.buffer, src.byteOffset, bytes);
  }

  async read(s: Storage, offset: number, numel: number): Promise<Float32Array | Int32Array> {
    // copies move whole 4-byte words: an f16 range is widened to words and trimmed after
    const size = BYTES[s.dtype];
    const first = Math.floor(offset * size / 4) * 4, end = Math.ceil((offset + numel) * size / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, end - first), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    if (numel > 0) this.encoder.copyBufferToBuffer((s as GpuStorage).buffer, first, staging, 0, end - first);
    const label = this.label;
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await this.awaitChecks();
      this.throwIfError();
      throw new DeviceError(label, `readback failed: ${(e as Error).message}`);
    }
    await this.awaitChecks();
    if (this.error) staging.destroy();
    this.throwIfError();
    const skip = offset * size - first;
    const bytes = staging.getMappedRange().slice(skip, skip + numel * size);
    const copy = s.dtype === 'i32' ?
      new Int32Array(bytes)
      : s.dtype === 'f16' ?
      Float32Array.from(new Float16Array(bytes))
      : new Float32Array(bytes);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  // ---- recording ----------------------------------------------------------------------------

  private pipeline(src: KernelSource): GPUComputePipeline {
    const key = `${src.name}|${JSON.stringify(src.overrides)}`;
    let byText = this.pipelines.get(src.wgsl);
    if (!byText) this.pipelines.set(src.wgsl, byText = new Map());
    let p = byText.get(key);
    if (p) return p;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: src.wgsl, label: src.name });
    p = this.device.createComputePipeline({
      label: src.name,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants: { ...src.overrides } },
    });
    void this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const info = await module.getCompilationInfo();
      const lines = src.wgsl.split('\n');
      const where = info.messages.map((m) =>
        `  ${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}\n    ${m.lineNum}| ${lines[m.lineNum - 1] ?? ''}`
      ).join('\n');
      this.error ??= new DeviceError(this.label, `kernel ${src.name} failed to compile: ${err.message}\n${where}`);
    });
    byText.set(key, p);
    return p;
  }

  private uniformSlot(data: ArrayBuffer): { buffer: GPUBuffer; offset: number; size: number; } {
    const size = Math.ceil(data.byteLength / 16) * 16;
    let chunk = this.arenaUsed[this.arenaUsed.length - 1];
    if (!chunk || chunk.used + size > ARENA_BYTES) {
      chunk = this.arenaFree.pop() ?? {
        gpu: this.device.createBuffer({ size: ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
        cpu: new Uint8Array(ARENA_BYTES),
        used: 0,
      };
      chunk.used = 0;
      this.arenaUsed.push(chunk);
    }
    const offset = chunk.used;
    chunk.cpu.set(new Uint8Array(data), offset);
    chunk.used = Math.ceil((offset + size) / this.uniformAlign) * this.uniformAlign;
    return { buffer: chunk.gpu, offset, size };
  }

  /** Binding numbers a kernel declares `var<storage, read_write>` (parsed once per kernel). */
  private writable(src: KernelSource): Set<number> {
    const key = `${src.name}|${src.wgsl.length}`;
    let set = this.writableBindings.get(key);
    if (!set) {
      set = new Set();
      for (const m of src.wgsl.matchAll(/@binding\((\d+)\)\s*var\s*<\s*storage\s*,\s*read_write\s*>/g)) set.add(Number(m[1]));
      this.writableBindings.set(key, set);
    }
    return set;
  }

  private dispatch(src: KernelSource, uniforms: ArrayBuffer, storages: (GpuStorage | null)[], workgroups: [number, number, number]): void {
    if (this.error) this.throwIfError();
    const pipeline = this.pipeline(src);
    const u = this.uniformSlot(uniforms);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: u.buffer, offset: u.offset, size: u.size } }];
    if (this.sanitize) {
      const writable = this.writable(src);
      storages.forEach((s, i) => {
        if (!s) {
          entries.push({ binding: i + 1, resource: { buffer: this.dummy } });
          return;
        }
        entries.push({ binding: i + 1, resource: { buffer: s.buffer, size: this.bindSize(s) } });
        if (!writable.has(i + 1)) return;
        let w = this.written.get(s.buffer);
        if (!w) {
          w = { storage: s, writers: new Set() };
          this.written.set(s.buffer, w);
        }
        w.writers.add(`${src.name} (op ${this.label})`);
      });
    } else {
      storages.forEach((s, i) => entries.push({ binding: i + 1, resource: { buffer: s ? s.buffer : this.dummy } }));
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (this.profiling) this.beginProfiledPass(src.name);
    else if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    const pass = this.pass!;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...workgroups);
    this.stats.dispatches++;
    if (++this.pending >= MAX_PENDING) this.flush();
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  flush(): void {
    this.endPass();
    if (!this.encoder) {
      this.releaseQuarantine();
      return;
    }
    if (this.profiling) this.resolveProfile();
    const check = this.sanitize ? this.recordTailCopies(this.encoder) : null;
    for (const c of this.arenaUsed) this.device.queue.writeBuffer(c.gpu, 0, c.cpu.buffer, 0, c.used);
    this.device.queue.submit([this.encoder.finish()]);
    if (check) this.checks.push(check());
    this.releaseQuarantine();
    this.stats.submits++;
    this.encoder = null;
    this.pending = 0;
    this.arenaFree.push(...this.arenaUsed);
    this.arenaUsed = [];
    for (const f of this.afterSubmit.splice(0)) f();
  }

  // ---- profiling: GPU time per kernel from timestamp queries -------------------------------
  // Each dispatch gets a pass of its own with begin/end timestamps (so profiling adds pass
  // overhead: use it to find where time goes, not to time the whole).
  private profiling:
    | { names: string[]; set: GPUQuerySet | null; reads: Promise<void>[]; totals: Map<string, { count: number; ms: number; }>; }
    | null = null;

  /** Whether startProfile can work: the device has `timestamp-query`. */
  get hasTimestamps(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /** Start collecting GPU time per kernel (needs the adapter's `timestamp-query`). */
  startProfile(): void {
    if (!this.device.features.has('timestamp-query')) throw new DeviceError('profile', 'this adapter has no timestamp-query feature');
    this.flush();
    this.profiling = { names: [], set: null, reads: [], totals: new Map() };
  }

  /** Stop and return kernel name → dispatches and milliseconds of GPU time. */
  async stopProfile(): Promise<Map<string, { count: number; ms: number; }>> {
    const p = this.profiling;
    if (!p) throw new Error('stopProfile: profiling was not started');
    this.flush();
    await Promise.all(p.reads);
    this.profiling = null;
    return p.totals;
  }

  private beginProfiledPass(name: string): void {
    const p = this.profiling!;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    p.set ??= this.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PENDING });
    const i = p.names.length;
    p.names.push(name);
    this.pass = this.encoder.beginComputePass({
      timestampWrites: { querySet: p.set, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
  }

  private resolveProfile(): void {
    const p = this.profiling!;
    if (!p.set || p.names.length === 0) return;
    const n = p.names.length, names = p.names, set = p.set;
    const resolveBuf = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.encoder!.resolveQuerySet(set, 0, 2 * n, resolveBuf, 0);
    this.encoder!.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, 16 * n);
    p.names = [];
    p.set = null;
    // mapAsync must come after the submit that writes readBuf: flush calls it via `afterSubmit`
    this.afterSubmit.push(() =>
      p.reads.push((async () => {
        await readBuf.mapAsync(GPUMapMode.READ);
        const ts = new BigInt64Array(readBuf.getMappedRange());
        names.forEach((name, i) => {
          const t = p.totals.get(name) ?? { count: 0, ms: 0 };
          t.count++;
          t.ms += Number(ts[2 * i + 1]! - ts[2 * i]!) / 1e6;
          p.totals.set(name, t);
        });
        readBuf.unmap();
        readBuf.destroy();
        resolveBuf.destroy();
        set.destroy();
      })())
    );
  }
  private afterSubmit: (() => void)[] = [];

  // ---- bounds sanitizer (see the header) ---------------------------------------------------

  /** Copy the tails written since the last submit into one readback buffer; returns the check to start after the submit. */
  private recordTailCopies(encoder: GPUCommandEncoder): (() => Promise<void>) | null {
    const list = [...this.written.values()];
    this.written.clear();
    if (list.length === 0) return null;
    const staging = this.device.createBuffer({ size: list.length * GUARD_BYTES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    list.forEach(({ storage }, k) =>
      encoder.copyBufferToBuffer(storage.buffer, this.bindSize(storage) - GUARD_BYTES, staging, k * GUARD_BYTES, GUARD_BYTES)
    );
    return async () => {
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch {
        return; // device lost or a validation error: reported as such at the sync point
      }
      const tails = new Uint32Array(staging.getMappedRange());
      list.forEach(({ storage: s, writers }, k) => {
        let first = -1, count = 0;
        for (let w = 0; w < GUARD_BYTES / 4; w++) {
          if (tails[k * GUARD_BYTES / 4 + w] !== SENTINEL) {
            if (first < 0) first = w;
            count++;
          }
        }
        if (first < 0) return;
        const bytes = s.numel * BYTES[s.dtype];
        const at = Math.floor((this.bindSize(s) - GUARD_BYTES + 4 * first) / BYTES[s.dtype]);
        const names = [...writers];
        this.error ??= new DeviceError(names.length === 1 ? names[0]! : 'bounds sanitizer',
          `out-of-bounds write past a ${s.dtype} storage of ${s.numel} elements (${bytes} bytes): ${count} of its ${
            GUARD_BYTES / 4
          } guard words changed, ` +
            `the first at element ${at}; kernels that bound it writable since the last check: ${names.join(', ')}`);
        // re-arm while the same storage still holds the buffer, so later checks blame only later writes
        if (this.owner.get(s.buffer) === s.id) this.device.queue.writeBuffer(s.buffer, this.bindSize(s) - GUARD_BYTES, GUARD);
      });
      staging.unmap();
      staging.destroy();
    };
  }

  private releaseQuarantine(): void {
    for (const g of this.quarantine.splice(0)) {
      this.owner.delete(g.buffer);
      this.toPool(g);
    }
  }

  /** Wait for the tail checks of every submit so far (their failures land in `error`). */
  private async awaitChecks(): Promise<void> {
    while (this.checks.length) await Promise.all(this.checks.splice(0));
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.awaitChecks();
    this.throwIfError();
  }

  private throwIfError(): void {
    if (this.error) {
      const e = this.error;
      this.error = null;
      throw e;
    }
  }

  private buf(s: Storage): GpuStorage {
    return s as GpuStorage;
  }

  // ---- kernels ------------------------------------------------------------------------------

  run(k: Kernel, storages: readonly Storage[]): void {
    const scratch = (k.scratch ?? []).map((n) => this.alloc(n, 'f32'));
    const all = [...storages, ...scratch];
    for (const l of k.launches()) {
      this.dispatch(l.source, l.uniforms, l.bindings.map((i) => (i === null ? null : this.buf(all[i]!))), l.workgroups);
    }
    for (const s of scratch) this.release(s);
  }
}
