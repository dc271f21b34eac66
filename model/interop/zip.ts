// zip: just enough of the ZIP format (PKWARE APPNOTE 6.3) to read and write torch.save archives.
//
// torch.save (PyTorch ≥ 1.6, caffe2/serialize/inline_container.cc) writes one uncompressed
// ("stored") entry per record: `<root>/data.pkl`, `<root>/data/<key>` (raw storage bytes),
// `<root>/version`, and in newer versions `<root>/byteorder` and `<root>/.data/serialization_id`.
// Entry data starts on a 64-byte boundary (padding in the local header's extra field) and ZIP64
// records appear once an offset or a size passes 4 GiB, which released ViT-H checkpoints do.
//
// Reading is random access through a file handle: the central directory is read once, then only
// the entries asked for, so importing the encoder of a 10 GB checkpoint reads about its 2.5 GB.
// Entries may be stored or deflated (node:zlib); every entry's CRC-32 is checked. Inflation is
// capped at the size the directory declares (an entry that inflates past it is refused, so a
// "zip bomb" costs at most its declared size), a declared size no deflate stream can reach from
// its compressed size is refused before inflating, and the bytes read from one archive are capped
// in total (`maxTotalBytes`): each error names the file and the entry. Writing produces
// what torch's writer produces: stored entries, 64-byte aligned, ZIP64 where needed, written
// atomically (model/atomic-write.ts).
//
// Deliberately not here: encryption, multi-disk archives, data descriptors on read of stored
// entries without sizes (torch never writes them), and general-purpose archiving.
import { open, type FileHandle } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { writeFileAtomic } from '../node.ts';

export class ZipError extends Error {
  constructor(message: string, readonly source: string, readonly entry?: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

// ---- CRC-32 (IEEE 802.3, reflected, as zlib) ------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `data`, continuing from `crc` (0 to start). */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- reading ------------------------------------------------------------------------------------

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;
const EOCD_SIZE = 22;

function u64(v: DataView, at: number): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`zip: 64-bit field ${x} is past 2^53`);
  return Number(x);
}

// Deflate's best ratio is about 1032:1 (a 258-byte match in 2 bits); a larger claim is a lie.
const MAX_DEFLATE_RATIO = 1032;
/** Default cap on the bytes one reader returns in total (stored or inflated). */
export const DEFAULT_MAX_TOTAL_BYTES = 2 ** 32;

export interface ZipReaderOptions {
  /** Refuse a read that would bring the bytes returned by this reader past this (default 4 GiB). */
  maxTotalBytes?: number;
}

export class ZipReader {
  /** Bytes returned by read() so far: what `maxTotalBytes` caps. */
  private total = 0;

  private constructor(
    readonly source: string,
    private readonly fh: FileHandle,
    /** Entries by name, in central-directory order. */
    readonly entries: ReadonlyMap<string, ZipEntry>,
    private readonly maxTotalBytes: number,
  ) {}

  static async open(path: string, opts: ZipReaderOptions = {}): Promise<ZipReader> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      return new ZipReader(path, fh, await readCentralDirectory(fh, size, path), opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The entry's bytes (inflated if deflated), CRC-checked. */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(`${this.source}: no entry ${name} in the archive`, this.source, name);
    const head = await readAt(this.fh, e.localHeaderOffset, 30, this.source);
    if (head.getUint32(0, true) !== SIG_LOCAL) {
      throw new ZipError(`${this.source}: entry ${name} has no local header at byte ${e.localHeaderOffset}`, this.source, name);
    }
    const dataAt = e.localHeaderOffset + 30 + head.getUint16(26, true) + head.getUint16(28, true);
    if (this.total + e.size > this.maxTotalBytes) {
      throw new ZipError(
        `${this.source}: entry ${name} (${e.size} bytes) would bring the bytes read from this archive to ${
          this.total + e.size
        }, past the cap of ${this.maxTotalBytes}`,
        this.source,
        name,
      );
    }
    if (e.method === 8 && e.size > MAX_DEFLATE_RATIO * e.compressedSize + 1024) {
      throw new ZipError(
        `${this.source}: entry ${name} declares ${e.size} bytes from ${e.compressedSize} compressed, more than deflate can produce (a zip bomb?)`,
        this.source,
        name,
      );
    }
    const raw = new Uint8Array(e.compressedSize);
    for (let done = 0; done < raw.length;) {
      const { bytesRead } = await this.fh.read(raw, done, raw.length - done, dataAt + done);
      if (bytesRead === 0) throw new ZipError(`${this.source}: entry ${name} is cut short (file truncated?)`, this.source, name);
      done += bytesRead;
    }
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        // never more than the directory declares: a lying entry fails here, its bytes unallocated
        data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) }));
      } catch (err) {
        const past = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        throw new ZipError(
          `${this.source}: entry ${name} ${
            past ? `inflates past the ${e.size} bytes its directory entry declares (a zip bomb?)` : `does not inflate: ${(err as Error).message}`
          }`,
          this.source,
          name,
        );
      }
    } else {throw new ZipError(`${this.source}: entry ${name} uses compression method ${e.method}; only stored (0) and deflate (8) are supported`,
        this.source, name);}
    if (data.length !== e.size) {
      throw new ZipError(`${this.source}: entry ${name} holds ${data.length} bytes, the directory says ${e.size}`, this.source, name);
    }
    if (crc32(data) !== e.crc32) throw new ZipError(`${this.source}: entry ${name} fails its CRC-32 check (corrupt file)`, this.source, name);
    this.total += data.length;
    return data;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

async function readAt(fh: FileHandle, at: number, n: number, source: string): Promise<DataView> {
  const buf = new Uint8Array(n);
  const { bytesRead } = await fh.read(buf, 0, n, at);
  if (bytesRead !== n) throw new ZipError(`${source}: unexpected end of file at byte ${at + bytesRead}`, source);
  return new DataView(buf.buffer);
}

async function readCentralDirectory(fh: FileHandle, fileSize: number, source: string): Promise<Map<string, ZipEntry>> {
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  const tailLen = Math.min(fileSize, EOCD_SIZE + U16_MAX);
  if (tailLen < EOCD_SIZE) throw new ZipError(`${source}: ${fileSize} bytes is too small to be a zip archive`, source);
  const tailAt = fileSize - tailLen;
  const tail = await readAt(fh, tailAt, tailLen, source);
  let eocd = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tail.getUint32(i, true) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(`${source}: not a zip archive (no end-of-central-directory record)`, source);
  let count = tail.getUint16(eocd + 10, true);
  let cdSize = tail.getUint32(eocd + 12, true);
  let cdAt = tail.getUint32(eocd + 16, true);
  if (count === U16_MAX || cdSize === U32_MAX || cdAt === U32_MAX) {
    // ZIP64: a locator just before the EOCD points at the 64-bit record.
    const loc = eocd - 20;
    if (loc < 0 || tail.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) throw new ZipError(`${source}: ZIP64 sizes without a ZIP64 locator`, source);
    const rec = await readAt(fh, u64(tail, loc + 8), 56, source);
    if (rec.getUint32(0, true) !== SIG_EOCD64) throw new ZipError(`${source}: bad ZIP64 end-of-central-directory record`, source);
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdAt = u64(rec, 48);
  }
  if (cdAt + cdSize > fileSize) {
    throw new ZipError(`${source}: central directory (${cdSize} bytes at ${cdAt}) runs past the end of the file (${fileSize})`, source);
  }
  const cd = await readAt(fh, cdAt, cdSize, source);
  const bytes = new Uint8Array(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdSize || cd.getUint32(p, true) !== SIG_CENTRAL) throw new ZipError(`${source}: central directory entry ${k} is malformed`, source);
    const flags = cd.getUint16(p + 8, true);
    const method = cd.getUint16(p + 10, true);
    const crc = cd.getUint32(p + 16, true);
    let compressedSize = cd.getUint32(p + 20, true);
    let size = cd.getUint32(p + 24, true);
    const nameLen = cd.getUint16(p + 28, true), extraLen = cd.getUint16(p + 30, true), commentLen = cd.getUint16(p + 32, true);
    let localHeaderOffset = cd.getUint32(p + 42, true);
    if (flags & 1) throw new ZipError(`${source}: entry ${k} is encrypted`, source);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit values of exactly the fields that read 0xffffffff.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.getUint16(x, true), len = cd.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (size === U32_MAX) {
          size = u64(cd, q);
          q += 8;
        }
        if (compressedSize === U32_MAX) {
          compressedSize = u64(cd, q);
          q += 8;
        }
        if (localHeaderOffset === U32_MAX) {
          localHeaderOffset = u64(cd, q);
          q += 8;
        }
      }
      x += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

// ---- writing ------------------------------------------------------------------------------------

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/** torch's writer starts each entry's data on this boundary (so storages can be mmapped). */
const ALIGN = 64;

/**
 * Write `entries` as stored (uncompressed) zip entries, data 64-byte aligned as torch.save does,
 * ZIP64 where an offset or size needs it (or everywhere with `forceZip64`, which tests use to
 * exercise those records without writing 4 GiB); atomically (temp file + rename).
 */
export async function writeZip(path: string, entries: readonly ZipInput[], opts: { forceZip64?: boolean; } = {}): Promise<void> {
  const force = opts.forceZip64 ?? false;
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const push = (c: Uint8Array) => {
    chunks.push(c);
    offset += c.length;
  };
  for (const e of entries) {
    const name = enc.encode(e.name);
    const crc = crc32(e.data);
    const size = e.data.length;
    const big = force || size >= U32_MAX || offset >= U32_MAX;
    // local header: ZIP64 extra (sizes) when big, then a padding extra ("FB", as torch) to align the data
    const zip64Local = big ? 20 : 0;
    const base = offset + 30 + name.length + zip64Local;
    const pad = (ALIGN - ((base + 4) % ALIGN)) % ALIGN;
    const local = new DataView(new ArrayBuffer(30 + name.length + zip64Local + 4 + pad));
    local.setUint32(0, SIG_LOCAL, true);
    local.setUint16(4, big ? 45 : 20, true); // version needed
    local.setUint16(6, 0, true); // flags
    local.setUint16(8, 0, true); // stored
    local.setUint32(10, 0, true); // time, date (torch writes 0 too)
    local.setUint32(14, crc, true);
    local.setUint32(18, big ? U32_MAX : size, true);
    local.setUint32(22, big ? U32_MAX : size, true);
    local.setUint16(26, name.length, true);
    local.setUint16(28, zip64Local + 4 + pad, true);
    new Uint8Array(local.buffer).set(name, 30);
    let x = 30 + name.length;
    if (big) {
      local.setUint16(x, 1, true);
      local.setUint16(x + 2, 16, true);
      local.setBigUint64(x + 4, BigInt(size), true);
      local.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    local.setUint16(x, 0x4246, true); // "FB": padding, ignored by readers
    local.setUint16(x + 2, pad, true);
    const headerAt = offset;
    push(new Uint8Array(local.buffer));
    push(e.data);

    const size64 = force || size >= U32_MAX, at64 = force || headerAt >= U32_MAX;
    const needs64 = size64 || at64;
    const extra64 = needs64 ? 4 + 8 * (size64 ? 2 : 0) + 8 * (at64 ? 1 : 0) : 0;
    const c = new DataView(new ArrayBuffer(46 + name.length + extra64));
    c.setUint32(0, SIG_CENTRAL, true);
    c.setUint16(4, 45, true); // version made by
    c.setUint16(6, needs64 ? 45 : 20, true);
    c.setUint16(10, 0, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, size64 ? U32_MAX : size, true);
    c.setUint32(24, size64 ? U32_MAX : size, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, extra64, true);
    c.setUint32(42, at64 ? U32_MAX : headerAt, true);
    new Uint8Array(c.buffer).set(name, 46);
    if (needs64) {
      let q = 46 + name.length;
      c.setUint16(q, 1, true);
      c.setUint16(q + 2, extra64 - 4, true);
      q += 4;
      if (size64) {
        c.setBigUint64(q, BigInt(size), true);
        c.setBigUint64(q + 8, BigInt(size), true);
        q += 16;
      }
      if (at64) c.setBigUint64(q, BigInt(headerAt), true);
    }
    central.push(new Uint8Array(c.buffer));
  }
  const cdAt = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdAt;
  const n = entries.length;
  const eocd64 = force || n >= U16_MAX || cdAt >= U32_MAX || cdSize >= U32_MAX;
  if (eocd64) {
    const rec = new DataView(new ArrayBuffer(56 + 20));
    rec.setUint32(0, SIG_EOCD64, true);
    rec.setBigUint64(4, 44n, true);
    rec.setUint16(12, 45, true);
    rec.setUint16(14, 45, true);
    rec.setBigUint64(24, BigInt(n), true);
    rec.setBigUint64(32, BigInt(n), true);
    rec.setBigUint64(40, BigInt(cdSize), true);
    rec.setBigUint64(48, BigInt(cdAt), true);
    rec.setUint32(56, SIG_EOCD64_LOCATOR, true);
    rec.setBigUint64(64, BigInt(offset), true); // where the ZIP64 record starts
    rec.setUint32(72, 1, true);
    push(new Uint8Array(rec.buffer));
  }
  const end = new DataView(new ArrayBuffer(EOCD_SIZE));
  end.setUint32(0, SIG_EOCD, true);
  end.setUint16(8, eocd64 ? U16_MAX : n, true);
  end.setUint16(10, eocd64 ? U16_MAX : n, true);
  end.setUint32(12, eocd64 ? U32_MAX : cdSize, true);
  end.setUint32(16, eocd64 ? U32_MAX : cdAt, true);
  push(new Uint8Array(end.buffer));
  await writeFileAtomic(path, chunks);
}
