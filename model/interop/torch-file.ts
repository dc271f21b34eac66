// torch-file: read and write torch.save's zip format (PyTorch ≥ 1.6) without Python and without
// executing the pickle.
//
// Archive: `<root>/data.pkl` (the pickled object), `<root>/data/<key>` (one entry per storage, raw
// little-endian elements), `<root>/version` ("3"), `<root>/byteorder` (newer torch). A tensor is
// pickled as `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
// requires_grad, backward_hooks[, metadata])`, its storage as the persistent id
// `('storage', torch.<Type>Storage, key, location, numel)` (torch/serialization.py `_save`).
//
// Reading allows exactly the globals torch puts in a checkpoint of plain tensors and dicts:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and the storage
// types. Tensors come back as `TorchTensor`, whose data is read from the archive only when asked
// for (so importing one net of a large checkpoint reads only that net). Writing emits the same
// opcodes torch does (protocol 2), so `torch.load(f, weights_only=True)` accepts the result.
//
// Deliberately not here: the legacy pre-1.6 format (a tar or a raw pickle stream; refused with a
// message), sparse/quantized tensors, tensor subclasses, and big-endian archives.
import { getFloat16 } from '@petamoriken/float16';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { PickleError, PyDict, PyGlobal, PyTuple, pickle, pyTypeOf, unpickle, type GlobalHandler, type Opaque, type PyValue } from './pickle.ts';
import { ZipReader, writeZip, type ZipInput, type ZipReaderOptions } from './zip.ts';
import { formatShape as fmt } from '../index.ts';

export type TorchDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const STORAGE_DTYPES: Readonly<Record<string, TorchDtype>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const STORAGE_OF: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k]));
const ELEMENT_SIZE: Readonly<Record<TorchDtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class TorchFileError extends Error {
  constructor(message: string, readonly source: string) {
    super(message);
    this.name = 'TorchFileError';
  }
}

/** A storage named by a persistent id; its bytes are the archive entry `data/<key>`. */
class StorageRef implements Opaque {
  readonly pyType = 'torch.storage';
  constructor(readonly key: string, readonly dtype: TorchDtype, readonly numel: number) {}
}

/** A tensor found in a torch file; `toFloat32()` reads its elements (row-major, contiguous). */
export class TorchTensor implements Opaque {
  readonly pyType = 'torch.Tensor';
  constructor(
    readonly dtype: TorchDtype,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    /** Offset into the storage, in elements. */
    readonly offset: number,
    readonly storage: StorageRef,
    private readonly file: TorchFile,
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The elements as f32 in row-major order (strided views gathered; f64/f16/bf16/ints converted). */
  async toFloat32(): Promise<Float32Array> {
    const bytes = await this.file.storageBytes(this.storage);
    const src = decodeElements(bytes, this.storage.dtype);
    const n = this.numel, rank = this.shape.length;
    let contiguous = true;
    for (let d = rank - 1, s = 1; d >= 0; d--) {
      if (this.shape[d]! !== 1 && this.stride[d]! !== s) contiguous = false;
      s *= this.shape[d]!;
    }
    const last = this.offset + this.shape.reduce((acc, len, d) => acc + (len - 1) * this.stride[d]!, 0);
    if (n > 0 && (this.offset < 0 || last >= src.length)) {
      throw new TorchFileError(
        `${this.file.source}: tensor ${fmt(this.shape)} (stride ${
          fmt(this.stride)
        }, offset ${this.offset}) reaches element ${last} of a ${src.length}-element storage ${this.storage.key}`,
        this.file.source,
      );
    }
    if (contiguous) return Float32Array.from(src.subarray(this.offset, this.offset + n));
    const out = new Float32Array(n);
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < n; i++) {
      let at = this.offset;
      for (let d = 0; d < rank; d++) at += idx[d]! * this.stride[d]!;
      out[i] = src[at]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < this.shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }
}

function decodeElements(b: Uint8Array, dtype: TorchDtype): Float64Array | Float32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.byteLength / ELEMENT_SIZE[dtype];
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN && b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
      return Float32Array.from({ length: n }, (_, i) => v.getFloat32(4 * i, true));
    }
    case 'F64':
      return Float64Array.from({ length: n }, (_, i) => v.getFloat64(8 * i, true));
    case 'F16':
      return Float32Array.from({ length: n }, (_, i) => getFloat16(v, 2 * i, true));
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = v.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64':
      return Float64Array.from({ length: n }, (_, i) => Number(v.getBigInt64(8 * i, true)));
    case 'I32':
      return Float64Array.from({ length: n }, (_, i) => v.getInt32(4 * i, true));
    case 'I16':
      return Float64Array.from({ length: n }, (_, i) => v.getInt16(2 * i, true));
    case 'I8':
      return Float64Array.from({ length: n }, (_, i) => v.getInt8(i));
    case 'U8':
    case 'BOOL':
      return Float64Array.from(b);
  }
}

const asInts = (v: PyValue, what: string): number[] => {
  if (!(v instanceof PyTuple) || !v.items.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new Error(`${what} must be a tuple of ints, got ${pyTypeOf(v)}`);
  }
  return v.items as number[];
};

/** An open torch.save archive. `root` is the unpickled object; close() when done. */
export class TorchFile {
  private constructor(
    readonly source: string,
    private readonly zip: ZipReader,
    private readonly prefix: string,
    public root: PyValue,
  ) {}

  /** `opts.maxTotalBytes` caps the bytes read from the archive in all (model/interop/zip.ts). */
  static async open(path: string, opts: ZipReaderOptions = {}): Promise<TorchFile> {
    let zip: ZipReader;
    try {
      zip = await ZipReader.open(path, opts);
    } catch (e) {
      const first = await firstBytes(path, 2);
      if (first[0] === 0x80) {
        throw new TorchFileError(
          `${path}: this is torch's legacy (pre-1.6) serialization format, not the zip format; re-save it with torch.save(obj, f) from PyTorch ≥ 1.6`,
          path,
        );
      }
      throw new TorchFileError(`${path}: not a torch.save archive (${(e as Error).message})`, path);
    }
    try {
      const pkl = [...zip.entries.keys()].filter((n) => n.endsWith('/data.pkl') && n.split('/').length === 2);
      if (pkl.length !== 1) {
        throw new TorchFileError(
          `${path}: expected one <root>/data.pkl entry, found ${pkl.length} (entries: ${[...zip.entries.keys()].slice(0, 5).join(', ')}…)`,
          path,
        );
      }
      const prefix = pkl[0]!.slice(0, -'data.pkl'.length);
      if (zip.entries.has(`${prefix}byteorder`)) {
        const order = new TextDecoder().decode(await zip.read(`${prefix}byteorder`)).trim();
        if (order !== 'little') throw new TorchFileError(`${path}: byteorder '${order}' is not supported (only little-endian archives)`, path);
      }
      const file = new TorchFile(path, zip, prefix, null);
      file.root = unpickle(await zip.read(pkl[0]!), {
        source: `${path} (${pkl[0]})`,
        globals: file.globals(),
        persistentLoad: (pid) => file.persistentLoad(pid),
      });
      return file;
    } catch (e) {
      await zip.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.zip.close();
  }

  /** The raw bytes of a storage, checked against its declared size. */
  async storageBytes(s: StorageRef): Promise<Uint8Array> {
    const name = `${this.prefix}data/${s.key}`;
    const bytes = await this.zip.read(name);
    const want = s.numel * ELEMENT_SIZE[s.dtype];
    if (bytes.length !== want) {
      throw new TorchFileError(`${this.source}: storage ${name} holds ${bytes.length} bytes, its ${s.numel} ${s.dtype} elements need ${want}`,
        this.source);
    }
    return bytes;
  }

  private persistentLoad(pid: PyValue): PyValue {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length !== 5) {
      throw new PickleError(`${this.source}: unknown persistent id (a ${pyTypeOf(pid)}); expected ('storage', type, key, location, numel)`,
        this.source);
    }
    const [, type, key, , numel] = pid.items;
    if (!(type instanceof PyGlobal) || !(type.name in STORAGE_DTYPES) || typeof key !== 'string' || typeof numel !== 'number') {
      throw new PickleError(`${this.source}: malformed storage id (${pid.items.map(pyTypeOf).join(', ')})`, this.source);
    }
    if (!this.zip.entries.has(`${this.prefix}data/${key}`)) {
      throw new PickleError(`${this.source}: storage ${key} is referenced but data/${key} is not in the archive`, this.source);
    }
    return new StorageRef(key, STORAGE_DTYPES[type.name]!, numel);
  }

  private globals(): Record<string, GlobalHandler> {
    const rebuild = (args: readonly PyValue[]): PyValue => {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof StorageRef)) throw new Error(`storage argument is a ${pyTypeOf(storage ?? null)}`);
      if (typeof offset !== 'number') throw new Error('storage_offset must be an int');
      const shape = asInts(size ?? null, 'size'), strides = asInts(stride ?? null, 'stride');
      if (shape.length !== strides.length) throw new Error(`size ${fmt(shape)} and stride ${fmt(strides)} differ in rank`);
      return new TorchTensor(storage.dtype, shape, strides, offset, storage, this);
    };
    const g: Record<string, GlobalHandler> = {
      'collections.OrderedDict': { call: (args) => new PyDict(true, args.length ? (args[0] as PyDict) : undefined) },
      'torch._utils._rebuild_tensor_v2': { call: rebuild },
      // nn.Parameter pickled directly: (data, requires_grad, backward_hooks) → keep the tensor
      'torch._utils._rebuild_parameter': { call: (args) => args[0] ?? null },
    };
    for (const name of Object.keys(STORAGE_DTYPES)) g[`torch.${name}`] = {};
    return g;
  }
}

async function firstBytes(path: string, n: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const b = new Uint8Array(n);
    await fh.read(b, 0, n, 0);
    return b;
  } finally {
    await fh.close();
  }
}

// ---- writing ------------------------------------------------------------------------------------

/** A tensor to write: row-major f32 data (stored as FloatStorage). */
export class TensorOut implements Opaque {
  readonly pyType = 'torch.Tensor';
  constructor(readonly shape: readonly number[], readonly data: Float32Array) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`TensorOut: shape ${fmt(shape)} needs ${n} values, got ${data.length}`);
  }
}

class StorageOut implements Opaque {
  readonly pyType = 'torch.storage';
  constructor(readonly key: string, readonly tensor: TensorOut) {}
}

/**
 * torch.save(value, path): TensorOut values become f32 tensors, each with its own storage.
 * The archive root is named as torch names it: the file name without its last extension.
 */
export async function writeTorchFile(path: string, value: PyValue): Promise<void> {
  if (!LITTLE_ENDIAN) throw new TorchFileError(`${path}: writing torch files needs a little-endian host`, path);
  const storages: StorageOut[] = [];
  const bytes = pickle(value, {
    persistentId: (v) => {
      if (!(v instanceof StorageOut)) return undefined;
      return new PyTuple(['storage', new PyGlobal('torch', STORAGE_OF.F32!), v.key, 'cpu', v.tensor.data.length]);
    },
    reduce: (v) => {
      if (!(v instanceof TensorOut)) return undefined;
      const s = new StorageOut(String(storages.length), v);
      storages.push(s);
      const stride: number[] = [];
      for (let d = v.shape.length - 1, acc = 1; d >= 0; d--) {
        stride.unshift(acc);
        acc *= v.shape[d]!;
      }
      return {
        fn: new PyGlobal('torch._utils', '_rebuild_tensor_v2'),
        args: new PyTuple([s, 0, new PyTuple([...v.shape]), new PyTuple(stride), false, new PyDict(true)]),
      };
    },
  });
  const name = basename(path);
  const root = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name;
  const enc = new TextEncoder();
  const entries: ZipInput[] = [{ name: `${root}/data.pkl`, data: bytes }, { name: `${root}/byteorder`, data: enc.encode('little') }];
  for (const s of storages) {
    const d = s.tensor.data;
    entries.push({ name: `${root}/data/${s.key}`, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
  }
  entries.push({ name: `${root}/version`, data: enc.encode('3\n') });
  await writeZip(path, entries);
}
