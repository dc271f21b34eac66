// pickle: a reader and a writer for the Python pickle opcodes that torch.save emits, which never
// executes anything.
//
// Why hand-written: a pickle is a program for a stack machine whose GLOBAL and REDUCE opcodes
// import and call arbitrary Python callables (`os.system` is the classic payload). A JavaScript
// reader cannot run Python, but a general-purpose one still has to decide what a GLOBAL *means*;
// here that decision is an explicit allowlist passed by the caller (model/interop/torch-file.ts
// passes collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the storage types). A
// GLOBAL outside it is refused on the spot, naming it, before any later opcode runs. The npm
// alternative we looked at (pickleparser 0.2.1, two releases on one day in Dec 2024) turns unknown
// globals into placeholder objects and dicts into plain JS objects (a `__proto__` key hazard);
// the subset torch needs is ~40 opcodes, so owning it costs less than auditing it.
//
// Value model (reading): None → null, bool → boolean, int → number (bigint past 2^53),
// float → number, str → string, bytes → Uint8Array, list → array, tuple → PyTuple,
// dict / OrderedDict → PyDict (a Map: keys keep their order, no prototype to pollute).
// An allowlisted callable's result is whatever its handler returns (an `Opaque`, e.g. a tensor).
// Writing takes the same values plus PyFloat (to force a float for an integral number) and
// Opaque values that a `reduce` / `persistentId` hook turns into opcodes.
//
// Supported on read: protocols 2–4 binary opcodes (PROTO, FRAME, MARK, STOP, POP, POP_MARK, DUP,
// memo get/put incl. MEMOIZE, NONE, NEWTRUE/NEWFALSE, BININT/1/2, LONG1/4, BINFLOAT, the binary
// string and bytes opcodes, tuples, lists, dicts, GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ, BUILD on
// dicts, BINPERSID/PERSID). Refused with an error naming the opcode and byte offset: the
// protocol-0 text opcodes other than GLOBAL, INST/OBJ, extension registry, sets, protocol-5
// out-of-band buffers. The writer emits protocol 2, as torch.save does by default.

export class PickleError extends Error {
  constructor(message: string, readonly source: string, readonly offset?: number) {
    super(message);
    this.name = 'PickleError';
  }
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python dict (`ordered` for collections.OrderedDict). `attrs` holds a BUILD state (a state_dict's `_metadata`). */
export class PyDict extends Map<PyValue, PyValue> {
  attrs: PyValue = null;
  constructor(readonly ordered = false, entries?: Iterable<readonly [PyValue, PyValue]>) {
    super(entries);
  }
}

/** Writer only: a Python float even when the value is integral (e.g. weight_decay 0.0). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A module attribute named by GLOBAL; only allowlisted names are ever created. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Anything a handler builds (tensors, storages); `pyType` names it in errors. */
export interface Opaque {
  readonly pyType: string;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyFloat | PyGlobal | Opaque;

export interface GlobalHandler {
  /** REDUCE / NEWOBJ with these arguments. Absent: the global may appear only as a value (a storage type). */
  call?: (args: readonly PyValue[]) => PyValue;
}

export interface UnpickleOptions {
  /** For error messages (the file, and the entry inside it). */
  source: string;
  /** The only module attributes the pickle may name, by 'module.name'. */
  globals: Readonly<Record<string, GlobalHandler>>;
  /** Resolves BINPERSID / PERSID ids (torch: storage references). Absent: persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

/** Describe a value's Python type for messages. */
export function pyTypeOf(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof PyGlobal) return v.qualified;
  return v.pyType;
}

// ---- reading ------------------------------------------------------------------------------------

const MARK_OBJ = Symbol('mark');
type StackItem = PyValue | typeof MARK_OBJ;

/** Run the pickle in `bytes` and return its value. Never imports or calls anything not allowlisted. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let opAt = 0;

  const fail = (msg: string): never => {
    throw new PickleError(`${opts.source}: pickle byte ${opAt}: ${msg}`, opts.source, opAt);
  };
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) fail(`needs ${n} more bytes but the pickle ends at ${bytes.length}`);
  };
  /** The little-endian value of the next n bytes, read by `get` at their offset. */
  const next = <T>(n: number, get: (at: number) => T): T => {
    need(n);
    const v = get(pos);
    pos += n;
    return v;
  };
  const u8 = () => next(1, (at) => bytes[at]!);
  const u16 = () => next(2, (at) => view.getUint16(at, true));
  const u32 = () => next(4, (at) => view.getUint32(at, true));
  const i32 = () => next(4, (at) => view.getInt32(at, true));
  const u64 = () => {
    const v = next(8, (at) => view.getBigUint64(at, true));
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the pickle`);
    return Number(v);
  };
  /** A 4-byte signed length (LONG4, BINSTRING): negative is a corrupt pickle. */
  const length4 = (opcode: string) => {
    const n = i32();
    if (n < 0) fail(`negative ${opcode} length`);
    return n;
  };
  const take = (n: number) => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return text.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };

  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) fail('stack underflow');
    if (v === MARK_OBJ) fail('unexpected MARK on the stack');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK_OBJ) fail('stack underflow');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const k = stack.lastIndexOf(MARK_OBJ);
    if (k < 0) fail('no MARK on the stack');
    const items = stack.splice(k);
    return items.slice(1) as PyValue[];
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!Object.hasOwn(opts.globals, q)) {
      fail(
        `refusing to load the global ${q}: only ${
          Object.keys(opts.globals).join(', ')
        } are allowed (a pickle can run code through globals; this file is not a plain checkpoint)`,
      );
    }
    return new PyGlobal(module, name);
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal)) return fail(`cannot call a ${pyTypeOf(fn)}`);
    const h = opts.globals[fn.qualified]!;
    if (!h.call) return fail(`${fn.qualified} may not be called`);
    if (!(args instanceof PyTuple)) return fail(`${fn.qualified} called with ${pyTypeOf(args)} arguments, expected a tuple`);
    try {
      return h.call(args.items);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail(`${fn.qualified}: ${(e as Error).message}`);
    }
  };
  const setItems = (d: PyValue, kv: readonly PyValue[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on a ${pyTypeOf(d)}`);
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).set(kv[i]!, kv[i + 1]!);
  };
  const int = (b: Uint8Array): number | bigint => {
    // little-endian two's complement (LONG1 / LONG4)
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b.length > 0 && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        const p = u8();
        if (p > 4) fail(`pickle protocol ${p} is not supported (2–4 are)`);
        break;
      } // PROTO
      case 0x95:
        u64();
        break; // FRAME: a length hint only
      case 0x2e: { // STOP '.'
        const v = pop();
        if (stack.length) fail(`${stack.length} item(s) left on the stack at STOP`);
        return v;
      }
      case 0x28:
        stack.push(MARK_OBJ);
        break; // MARK '('
      case 0x30:
        pop();
        break; // POP '0'
      case 0x31:
        popMark();
        break; // POP_MARK '1'
      case 0x32:
        stack.push(top());
        break;
      // memo
      // DUP '2'
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT 'q'
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT 'r'
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: { // BINGET 'h', LONG_BINGET 'j'
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k)!);
        break;
      }
      // constants and numbers
      case 0x4e:
        stack.push(null);
        break; // NONE 'N'
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1 'K'
      case 0x4d:
        stack.push(u16());
        break; // BININT2 'M'
      case 0x4a:
        stack.push(i32());
        break; // BININT 'J'
      case 0x8a:
        stack.push(int(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(int(take(length4('LONG4'))));
        break; // LONG4
      case 0x47:
        stack.push(next(8, (at) => view.getFloat64(at, false)));
        break;
      // strings and bytes
      // BINFLOAT 'G' (big-endian)
      case 0x58:
        stack.push(utf8(take(u32())));
        break; // BINUNICODE 'X'
      case 0x8c:
        stack.push(utf8(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8(take(u64())));
        break; // BINUNICODE8
      case 0x54:
        stack.push(latin1.decode(take(length4('BINSTRING'))));
        break; // BINSTRING 'T'
      case 0x55:
        stack.push(latin1.decode(take(u8())));
        break; // SHORT_BINSTRING 'U'
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES 'B'
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES 'C'
      case 0x8e:
        stack.push(take(u64()).slice());
        break;
      // tuples, lists, dicts
      // BINBYTES8
      case 0x29:
        stack.push(new PyTuple([]));
        break; // EMPTY_TUPLE ')'
      case 0x85:
        stack.push(new PyTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop(), a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop(), b = pop(), a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74:
        stack.push(new PyTuple(popMark()));
        break; // TUPLE 't'
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST ']'
      case 0x6c:
        stack.push(popMark());
        break; // LIST 'l'
      case 0x61: { // APPEND 'a'
        const v = pop(), l = top();
        if (!Array.isArray(l)) fail(`APPEND to a ${pyTypeOf(l)}`);
        (l as PyValue[]).push(v);
        break;
      }
      case 0x65: { // APPENDS 'e'
        const items = popMark(), l = top();
        if (!Array.isArray(l)) fail(`APPENDS to a ${pyTypeOf(l)}`);
        for (const v of items) (l as PyValue[]).push(v);
        break;
      }
      case 0x7d:
        stack.push(new PyDict());
        break; // EMPTY_DICT '}'
      case 0x64: {
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      } // DICT 'd'
      case 0x73: {
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM 's'
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      // globals and calls
      // SETITEMS 'u'
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      } // GLOBAL 'c'
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop(), fn = pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE 'R'
      case 0x81: {
        const args = pop(), cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x62: { // BUILD 'b'
        const state = pop(), obj = top();
        if (!(obj instanceof PyDict)) fail(`BUILD (set state) on a ${pyTypeOf(obj)} is not supported`);
        (obj as PyDict).attrs = state;
        break;
      }
      case 0x51: { // BINPERSID 'Q'
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: { // PERSID 'P'
        const pid = line();
        if (!opts.persistentLoad) fail('persistent ids are not allowed here');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x69:
      case 0x6f: // INST 'i', OBJ 'o'
        fail(`opcode ${op === 0x69 ? 'INST' : 'OBJ'} (class instantiation) is refused`);
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail('extension-registry opcodes (EXT1/2/4) are refused');
        break;
      default:
        fail(
          `unsupported opcode 0x${op.toString(16).padStart(2, '0')} ('${
            String.fromCharCode(op)
          }'); this reader handles the binary opcodes torch.save writes (protocols 2–4)`,
        );
    }
  }
}

// ---- writing ------------------------------------------------------------------------------------

export interface PickleHooks {
  /** A persistent id for `v` (torch: storages), or undefined to pickle it normally. */
  persistentId?(v: PyValue): PyValue | undefined;
  /** How to rebuild an Opaque value: `fn(*args)`. */
  reduce?(v: Opaque): { fn: PyGlobal; args: PyTuple; } | undefined;
}

/** Serialise `value` as a protocol-2 pickle (what torch.save writes by default). */
export function pickle(value: PyValue, hooks: PickleHooks = {}): Uint8Array {
  let buf = new Uint8Array(1 << 12);
  let n = 0;
  const enc = new TextEncoder();
  const room = (k: number) => {
    if (n + k <= buf.length) return;
    let cap = buf.length * 2;
    while (cap < n + k) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(buf.subarray(0, n));
    buf = next;
  };
  const byte = (b: number) => {
    room(1);
    buf[n++] = b;
  };
  const bytes = (b: Uint8Array) => {
    room(b.length);
    buf.set(b, n);
    n += b.length;
  };
  const le = (v: number, k: number) => {
    room(k);
    for (let i = 0; i < k; i++) buf[n++] = (v >>> (8 * i)) & 0xff;
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    byte(0x58);
    le(b.length, 4);
    bytes(b);
  };
  const float = (x: number) => {
    byte(0x47);
    room(8);
    new DataView(buf.buffer).setFloat64(n, x, false);
    n += 8;
  };
  const global = (g: PyGlobal) => {
    byte(0x63);
    bytes(enc.encode(`${g.module}\n${g.name}\n`));
  };
  const bigint = (v: bigint) => {
    // LONG1: minimal little-endian two's complement
    const out: number[] = [];
    let x = v;
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (out[out.length - 1]! & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    byte(0x8a);
    byte(out.length);
    for (const b of out) byte(b);
  };
  const tuple = (items: readonly PyValue[]) => {
    if (items.length === 0) {
      byte(0x29);
      return;
    }
    if (items.length <= 3) {
      for (const v of items) write(v);
      byte(0x84 + items.length);
      return;
    }
    byte(0x28);
    for (const v of items) write(v);
    byte(0x74);
  };
  const write = (v: PyValue): void => {
    const pid = hooks.persistentId?.(v);
    if (pid !== undefined) {
      write(pid);
      byte(0x51);
      return;
    }
    if (v === null) byte(0x4e);
    else if (v === true) byte(0x88);
    else if (v === false) byte(0x89);
    else if (typeof v === 'number') {
      if (!Number.isInteger(v)) float(v);
      else if (v >= 0 && v < 256) {
        byte(0x4b);
        byte(v);
      } else if (v >= 0 && v < 65536) {
        byte(0x4d);
        le(v, 2);
      } else if (v >= -(2 ** 31) && v < 2 ** 31) {
        byte(0x4a);
        le(v, 4);
      } else bigint(BigInt(v));
    } else if (typeof v === 'bigint') bigint(v);
    else if (typeof v === 'string') str(v);
    else if (v instanceof Uint8Array) {
      byte(0x42);
      le(v.length, 4);
      bytes(v);
    } else if (v instanceof PyFloat) float(v.value);
    else if (v instanceof PyTuple) tuple(v.items);
    else if (Array.isArray(v)) {
      byte(0x5d);
      for (let i = 0; i < v.length; i += 1000) {
        byte(0x28);
        for (const x of v.slice(i, i + 1000)) write(x);
        byte(0x65);
      }
    } else if (v instanceof PyDict) {
      if (v.ordered) {
        global(new PyGlobal('collections', 'OrderedDict'));
        byte(0x29);
        byte(0x52);
      } else byte(0x7d);
      const kv = [...v];
      // pickle batches SETITEMS by 1000 (pickle.py _BATCHSIZE)
      for (let i = 0; i < kv.length; i += 1000) {
        byte(0x28);
        for (const [k, x] of kv.slice(i, i + 1000)) {
          write(k);
          write(x);
        }
        byte(0x75);
      }
    } else if (v instanceof PyGlobal) global(v);
    else {
      const r = hooks.reduce?.(v);
      if (!r) throw new PickleError(`pickle: no way to write a ${pyTypeOf(v)}`, '<writer>');
      global(r.fn);
      tuple(r.args.items);
      byte(0x52);
    }
  };
  byte(0x80);
  byte(2);
  write(value);
  byte(0x2e);
  return buf.slice(0, n);
}
