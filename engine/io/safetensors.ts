// safetensors: encode and decode the safetensors container (https://github.com/huggingface/safetensors).
//
// Layout: 8 bytes little-endian u64 N | N bytes UTF-8 JSON header | data section. The header maps
// each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets relative to the data
// section), plus an optional "__metadata__" object of string → string. All numbers are little-endian.
//
// Invariants this file keeps (the same ones the reference Rust crate checks):
// - the header is padded with spaces to a multiple of 8 bytes, and tensors are laid out by element
//   size, largest first, so every tensor starts at a multiple of its element size in the file;
// - on decode, tensors tile the data section exactly: no overlap, no gap, nothing past the end, and
//   each tensor's byte length equals numel × element size.
// Every decode error names the source (file name), the tensor and the file byte offset.
//
// Deliberately not here: file or network access (this file must stay browser-safe: it sees only
// bytes), mapping names onto model parameters (model/ does that), and big-endian hosts (rejected
// loudly for multi-byte dtypes rather than silently byte-swapped).

import { setFloat16 } from '@petamoriken/float16';

/** The safetensors dtypes this reader and writer handle. */
export type Dtype = 'F32' | 'I32' | 'F16' | 'I64' | 'F64' | 'BF16' | 'U8';

/** Bytes per element of each supported dtype. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
};

/**
 * What `encodeSafetensors` accepts as a tensor's data:
 * - the dtype's own array (F32 Float32Array, F64 Float64Array, I32 Int32Array, I64 BigInt64Array,
 *   U8 Uint8Array, F16/BF16 Uint16Array of raw bits);
 * - raw little-endian bytes as a Uint8Array (for any dtype; the byte count must match);
 * - a Float32Array for F16/BF16/F64 (converted, F16 and BF16 rounding to nearest even), or an
 *   Int32Array for I64 (widened).
 */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array | Uint8Array;

/** One tensor for `encodeSafetensors`: dtype, shape and data (see `TensorData` for what data may be). */
export interface TensorInput {
  dtype: Dtype;
  shape: readonly number[];
  data: TensorData;
}

/** A decoded tensor: a zero-copy byte view into the file plus converting readers. */
export interface DecodedTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** The tensor's raw little-endian bytes: a view into the decoded buffer, not a copy. */
  readonly data: Uint8Array;
  /** Byte offset of `data` in the file (for error messages). */
  readonly fileOffset: number;
  /** A fresh Float32Array: F32 copied; F16, BF16, F64 and the integer dtypes converted. */
  toFloat32(): Float32Array;
  /** A fresh Int32Array from I32, U8 or I64; I64 values outside int32 throw, naming the index. */
  toInt32(): Int32Array;
}

/** What `decodeSafetensors` returns: the `__metadata__` strings and the tensors by name. */
export interface DecodedSafetensors {
  metadata: Record<string, string>;
  /** In file order (which for files written here is element size, largest first, then input order). */
  tensors: Map<string, DecodedTensor>;
}

/** Thrown for any malformed file or bad input; `source`, `key` and `offset` are set where known. */
export class SafetensorsError extends Error {
  constructor(
    message: string,
    readonly source: string,
    readonly key?: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

// The Rust crate refuses headers above 100 MB; a larger N is a corrupt length, not a real header.
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Encode

/**
 * Serialise tensors (and optional string metadata) to safetensors bytes.
 * Tensors are stored by element size, largest first (stable, so input order holds within a size):
 * with the 8-byte-padded header that aligns every tensor to its element size.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const src = 'encodeSafetensors';
  const entries: [string, TensorInput][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);

  const prepared = entries.map(([name, t]) => {
    if (name === '__metadata__') {
      throw new SafetensorsError(`${src}: "__metadata__" is reserved and cannot name a tensor`, src, name);
    }
    return { name, dtype: t.dtype, shape: [...t.shape], bytes: tensorBytes(name, t) };
  });
  prepared.sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype]); // Array.sort is stable

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(`${src}: metadata "${k}" must be a string, got ${typeof v}`, src, k);
      }
    }
    header['__metadata__'] = { ...metadata };
  }
  let offset = 0;
  for (const t of prepared) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen); // pad with spaces: still valid JSON
  let at = 8 + headerLen;
  for (const t of prepared) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** Validate one input tensor and return its little-endian bytes (a view when no conversion is needed). */
function tensorBytes(name: string, t: TensorInput): Uint8Array {
  const src = 'encodeSafetensors';
  if (!isDtype(t.dtype)) {
    throw new SafetensorsError(
      `${src}: ${name} has dtype ${String(t.dtype)}; supported: ${Object.keys(DTYPE_SIZE).join(', ')}`,
      src,
      name,
    );
  }
  for (const d of t.shape) {
    if (!(Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        `${src}: ${name} has shape ${fmtShape(t.shape)}; dims must be non-negative integers`,
        src,
        name,
      );
    }
  }
  const numel = numelOf(t.shape);
  const size = DTYPE_SIZE[t.dtype];
  const d = t.data;
  const mismatch = (what: string): SafetensorsError =>
    new SafetensorsError(
      `${src}: ${name} is ${t.dtype} ${fmtShape(t.shape)} = ${numel} elements (${numel * size} bytes), ` +
        `but its data is ${what}`,
      src,
      name,
    );
  if (size > 1 && !LITTLE_ENDIAN) {
    throw new SafetensorsError(`${src}: ${name}: big-endian hosts are not supported`, src, name);
  }

  // Raw bytes are accepted for every dtype (a U8 tensor's own array is the same case).
  if (d instanceof Uint8Array) {
    if (d.length !== numel * size) throw mismatch(`a Uint8Array of ${d.length} bytes`);
    return d;
  }
  if (d.length !== numel) throw mismatch(`a ${d.constructor.name} of ${d.length} elements`);
  const view = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

  switch (t.dtype) {
    case 'F32':
      if (d instanceof Float32Array) return view(d);
      break;
    case 'F64':
      if (d instanceof Float64Array) return view(d);
      if (d instanceof Float32Array) return view(Float64Array.from(d));
      break;
    case 'I32':
      if (d instanceof Int32Array) return view(d);
      break;
    case 'I64':
      if (d instanceof BigInt64Array) return view(d);
      if (d instanceof Int32Array) return view(BigInt64Array.from(d, (v) => BigInt(v)));
      break;
    case 'F16':
      if (d instanceof Uint16Array) return view(d);
      if (d instanceof Float32Array) return view(f32ToF16Bits(d));
      break;
    case 'BF16':
      if (d instanceof Uint16Array) return view(d);
      if (d instanceof Float32Array) return view(f32ToBf16Bits(d));
      break;
    case 'U8':
      break; // Uint8Array handled above
  }
  throw mismatch(`a ${d.constructor.name}, which cannot be stored as ${t.dtype}`);
}

function f32ToF16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) setFloat16(dv, 2 * i, x[i] as number, true);
  return out;
}

/** f32 → bf16 bits, round to nearest even (as torch does); NaN stays a quiet NaN. */
function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = bits[i] as number;
    if ((b & 0x7fffffff) > 0x7f800000) {
      out[i] = ((b >>> 16) | 0x0040) & 0xffff;
    } else {
      // Adding 0x7fff plus the lowest kept bit rounds half to even; overflow into the exponent is
      // the correct carry (up to ±inf).
      out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decode

/**
 * Parse safetensors bytes. Tensor data is not copied: each `data` is a view into `bytes`.
 * @param source a name for error messages, normally the file name.
 */
export function decodeSafetensors(bytes: Uint8Array | ArrayBuffer, source = '<buffer>'): DecodedSafetensors {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const fail = (msg: string, key?: string, offset?: number): SafetensorsError =>
    new SafetensorsError(`safetensors ${source}: ${msg}`, source, key, offset);

  if (buf.length < 8) {
    throw fail(`file is truncated: ${buf.length} bytes, fewer than the 8-byte header length at byte 0`, undefined, 0);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(buf.length - 8)) {
    throw fail(`header length ${n64} (u64 at byte 0) runs past the end of the file ` +
      `(${buf.length} bytes, so at most ${buf.length - 8} header bytes)`, undefined, 0);
  }
  const headerLen = Number(n64);
  if (headerLen > MAX_HEADER_BYTES) {
    throw fail(`header length ${headerLen} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit`, undefined, 0);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`header (bytes 8..${dataStart}) is not valid UTF-8 JSON: ${(e as Error).message}`, undefined, 8);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw fail(`header (bytes 8..${dataStart}) must be a JSON object`, undefined, 8);
  }

  const metadata: Record<string, string> = {};
  const raw: { name: string; dtype: Dtype; shape: number[]; begin: number; end: number; }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw fail('__metadata__ must be an object of strings', name, 8);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw fail(`__metadata__.${k} must be a string, got ${JSON.stringify(v)}`, name, 8);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw fail(`${name}: header entry must be an object`, name, 8);
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (!isDtype(dtype)) {
      throw fail(`${name}: dtype ${JSON.stringify(dtype)} is not supported ` +
        `(supported: ${Object.keys(DTYPE_SIZE).join(', ')})`, name, 8);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw fail(`${name}: shape ${JSON.stringify(shape)} must be an array of non-negative integers`, name, 8);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw fail(`${name}: data_offsets ${JSON.stringify(offs)} must be [begin, end] non-negative integers`, name, 8);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) {
      throw fail(`${name}: data_offsets [${begin}, ${end}] has begin after end ` +
        `(file byte ${dataStart + begin})`, name, dataStart + begin);
    }
    if (end > dataLen) {
      throw fail(`${name}: data_offsets [${begin}, ${end}] end at file byte ${dataStart + end}, past the end ` +
        `of the file (${buf.length} bytes; data section holds ${dataLen}); is the file truncated?`, name, dataStart + end);
    }
    const want = numelOf(shape as number[]) * DTYPE_SIZE[dtype];
    if (end - begin !== want) {
      throw fail(`${name}: ${dtype} ${fmtShape(shape as number[])} needs ${want} bytes, but data_offsets ` +
        `[${begin}, ${end}] hold ${end - begin} (file bytes ${dataStart + begin}..${dataStart + end})`, name, dataStart + begin);
    }
    raw.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // Tensors must tile the data section: sort by begin and walk it.
  const byOffset = [...raw].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: (typeof raw)[number] | undefined;
  for (const t of byOffset) {
    if (t.begin < cursor && prev !== undefined) {
      throw fail(`${t.name}: data_offsets [${t.begin}, ${t.end}] overlap ${prev.name} [${prev.begin}, ${prev.end}] ` +
        `at file byte ${dataStart + t.begin}`, t.name, dataStart + t.begin);
    }
    if (t.begin > cursor) {
      throw fail(`data bytes [${cursor}, ${t.begin}) (file byte ${dataStart + cursor}) belong to no tensor ` +
        `(gap before ${t.name})`, t.name, dataStart + cursor);
    }
    cursor = t.end;
    prev = t;
  }
  if (cursor !== dataLen) {
    throw fail(`${dataLen - cursor} trailing bytes after the last tensor, from file byte ${dataStart + cursor}`, prev?.name, dataStart + cursor);
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const t of byOffset) {
    const data = buf.subarray(dataStart + t.begin, dataStart + t.end);
    tensors.set(t.name, makeTensor(t.name, t.dtype, t.shape, data, dataStart + t.begin, source));
  }
  return { metadata, tensors };
}

function makeTensor(
  name: string,
  dtype: Dtype,
  shape: number[],
  data: Uint8Array,
  fileOffset: number,
  source: string,
): DecodedTensor {
  const numel = numelOf(shape);
  const fail = (msg: string): SafetensorsError => new SafetensorsError(`safetensors ${source}: ${name}: ${msg}`, source, name, fileOffset);
  // A copy of the bytes into fresh, aligned storage, read as `Ctor`: the file view may be unaligned.
  const aligned = <T>(Ctor: new(b: ArrayBuffer) => T): T => {
    const copy = new Uint8Array(data.length);
    copy.set(data);
    return new Ctor(copy.buffer);
  };
  const checkHost = (): void => {
    if (DTYPE_SIZE[dtype] > 1 && !LITTLE_ENDIAN) throw fail('big-endian hosts are not supported');
  };

  return {
    name,
    dtype,
    shape,
    data,
    fileOffset,
    toFloat32(): Float32Array {
      checkHost();
      switch (dtype) {
        case 'F32':
          return aligned(Float32Array);
        case 'F64':
          return Float32Array.from(aligned(Float64Array));
        case 'I32':
          return Float32Array.from(aligned(Int32Array));
        case 'U8':
          return Float32Array.from(data);
        case 'I64':
          return Float32Array.from(aligned(BigInt64Array), (v) => Number(v));
        case 'F16': {
          const lut = f16Table();
          const bits = aligned(Uint16Array);
          const out = new Float32Array(numel);
          for (let i = 0; i < numel; i++) out[i] = lut[bits[i] as number] as number;
          return out;
        }
        case 'BF16': {
          // bf16 is the top half of an f32: widen by a 16-bit shift, exactly.
          const bits = aligned(Uint16Array);
          const wide = new Uint32Array(numel);
          for (let i = 0; i < numel; i++) wide[i] = (bits[i] as number) << 16;
          return new Float32Array(wide.buffer);
        }
      }
    },
    toInt32(): Int32Array {
      checkHost();
      switch (dtype) {
        case 'I32':
          return aligned(Int32Array);
        case 'U8':
          return Int32Array.from(data);
        case 'I64': {
          const wide = aligned(BigInt64Array);
          const out = new Int32Array(numel);
          for (let i = 0; i < numel; i++) {
            const v = wide[i] as bigint;
            if (v < -2147483648n || v > 2147483647n) {
              throw fail(`I64 value ${v} at flat index ${i} (file byte ${fileOffset + 8 * i}) does not fit in int32`);
            }
            out[i] = Number(v);
          }
          return out;
        }
        default:
          throw fail(`is ${dtype}; toInt32 reads only I32, I64 and U8 (use toFloat32)`);
      }
    },
  };
}

let F16_TABLE: Float32Array | undefined;

/** All 65536 half-precision values as f32, built once: decoding is then one lookup per element. */
function f16Table(): Float32Array {
  if (F16_TABLE !== undefined) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) t[h] = frac === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  F16_TABLE = t;
  return t;
}
