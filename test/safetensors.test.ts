// Tests for engine/io/safetensors.ts: round trips for every dtype, each decode error with its message
// (which must name the file, the tensor and the byte offset), and interop both ways with an
// independent numpy writer/reader (test/golden/make_safetensors.py).

import { suite } from 'uvu';
import { skipUnless } from './skips.ts';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, decodeSafetensors, SafetensorsError, type TensorInput } from '../engine/io/safetensors.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Build a file by hand from a header object and a data section. */
function handBuilt(header: unknown, data: Uint8Array, headerLenOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLenOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function throwsWith(fn: () => unknown, re: RegExp, fields?: { key?: string; offset?: number; }): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, SafetensorsError);
    const err = e as SafetensorsError;
    assert.match(err.message, re);
    if (fields?.key !== undefined) assert.is(err.key, fields.key);
    if (fields?.offset !== undefined) assert.is(err.offset, fields.offset);
    return;
  }
  assert.unreachable(`expected an error matching ${re}`);
}

const t = suite('safetensors');

t('round-trips every dtype, shapes, metadata and names', () => {
  const tensors = new Map<string, TensorInput>([
    ['blocks.0.attn.qkv.weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-30, -7]) }],
    ['u8', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ['i64', { dtype: 'I64', shape: [2], data: new BigInt64Array([-3n, 2n ** 40n]) }],
    ['i32', { dtype: 'I32', shape: [1, 2], data: new Int32Array([-1, 2147483647]) }],
    ['f64', { dtype: 'F64', shape: [], data: new Float64Array([Math.PI]) }],
    ['f16', { dtype: 'F16', shape: [3], data: new Float32Array([1, -0.5, 65504]) }],
    ['bf16', { dtype: 'BF16', shape: [2], data: new Float32Array([1, -2]) }],
    ['empty', { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) }],
  ]);
  const bytes = encodeSafetensors(tensors, { step: '42' });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(headerLen % 8, 0, 'header padded to 8 bytes');

  const { metadata, tensors: out } = decodeSafetensors(bytes, 'rt.safetensors');
  assert.equal(metadata, { step: '42' });
  assert.equal([...out.keys()].sort(), [...tensors.keys()].sort());
  const w = out.get('blocks.0.attn.qkv.weight');
  assert.ok(w);
  assert.equal(w.shape, [2, 3]);
  assert.equal([...w.toFloat32()], [...new Float32Array([1, -2, 3.5, 0, 1e-30, -7])]);
  assert.equal([...(out.get('u8')?.toInt32() ?? [])], [0, 128, 255]);
  assert.equal([...(out.get('i32')?.toInt32() ?? [])], [-1, 2147483647]);
  assert.equal(out.get('f64')?.shape, []);
  assert.is(out.get('f64')?.toFloat32()[0], Math.fround(Math.PI));
  assert.equal([...(out.get('f16')?.toFloat32() ?? [])], [1, -0.5, 65504]);
  assert.equal([...(out.get('bf16')?.toFloat32() ?? [])], [1, -2]);
  assert.is(out.get('empty')?.toFloat32().length, 0);
  // Every tensor starts at a multiple of its element size (writer sorts by element size).
  for (const d of out.values()) {
    const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1 }[d.dtype];
    assert.is(d.fileOffset % size, 0, `${d.name} aligned`);
  }
});

t('accepts a plain record and raw bytes; data views are zero-copy', () => {
  const raw = new Uint8Array(new Float32Array([2, 4]).buffer);
  const bytes = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: raw } });
  const { tensors } = decodeSafetensors(bytes.buffer as ArrayBuffer);
  const a = tensors.get('a');
  assert.ok(a);
  assert.equal([...a.toFloat32()], [2, 4]);
  assert.is(a.data.buffer, bytes.buffer);
});

t('bf16 encoding rounds to nearest even', () => {
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even mantissa (1).
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: goes to 1 + 2^-6.
  const x = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20]);
  const { tensors } = decodeSafetensors(encodeSafetensors({ x: { dtype: 'BF16', shape: [3], data: x } }));
  assert.equal([...(tensors.get('x')?.toFloat32() ?? [])], [1, 1 + 2 ** -6, 1 + 2 ** -7]);
});

t('I64 → int32 range check names file, tensor, index and byte offset', () => {
  const bytes = encodeSafetensors({ idx: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n ** 31n]) } });
  const idx = decodeSafetensors(bytes, 'masks.safetensors').tensors.get('idx');
  assert.ok(idx);
  throwsWith(() => idx.toInt32(), /safetensors masks\.safetensors: idx: I64 value 2147483648 at flat index 1 \(file byte \d+\) does not fit in int32/,
    { key: 'idx' });
});

t('toInt32 refuses float tensors', () => {
  const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
  throwsWith(() => decodeSafetensors(bytes, 'f.st').tensors.get('w')?.toInt32(), /f\.st: w: is F32; toInt32 reads only/);
});

t('encode errors name the tensor', () => {
  throwsWith(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }),
    /w is F32 \[2, 3\] = 6 elements \(24 bytes\), but its data is a Float32Array of 5 elements/, { key: 'w' });
  throwsWith(() => encodeSafetensors({ w: { dtype: 'I32', shape: [2], data: new Float32Array(2) } }),
    /w is I32 \[2\].*a Float32Array, which cannot be stored as I32/);
  throwsWith(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }), /"__metadata__" is reserved/);
});

t('truncated file: fewer than 8 bytes', () => {
  throwsWith(() => decodeSafetensors(new Uint8Array(5), 'ckpt.safetensors'),
    /safetensors ckpt\.safetensors: file is truncated: 5 bytes, fewer than the 8-byte header length at byte 0/, { offset: 0 });
});

t('header length beyond the file', () => {
  const bytes = handBuilt({}, new Uint8Array(0), 1000);
  throwsWith(() => decodeSafetensors(bytes, 'ckpt.safetensors'),
    /ckpt\.safetensors: header length 1000 \(u64 at byte 0\) runs past the end of the file \(10 bytes, so at most 2 header bytes\)/, { offset: 0 });
});

t('bad JSON names the header byte range', () => {
  const json = new TextEncoder().encode('{"a": [1,');
  const bytes = new Uint8Array(8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  throwsWith(() => decodeSafetensors(bytes, 'ckpt.safetensors'), /ckpt\.safetensors: header \(bytes 8\.\.17\) is not valid UTF-8 JSON/, {
    offset: 8,
  });
});

t('data_offsets past the end (truncated data) names tensor and file byte', () => {
  const header = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } };
  const full = handBuilt(header, new Uint8Array(16));
  const cut = full.subarray(0, full.length - 4);
  const start = full.length - 16;
  throwsWith(() => decodeSafetensors(cut, 'ckpt.safetensors'),
    new RegExp(`ckpt\\.safetensors: a: data_offsets \\[0, 16\\] end at file byte ${start + 16}, past the end of the file ` +
      `\\(${cut.length} bytes; data section holds 12\\); is the file truncated\\?`), { key: 'a', offset: start + 16 });
});

t('overlapping tensors', () => {
  const header = {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  };
  const bytes = handBuilt(header, new Uint8Array(12));
  const start = bytes.length - 12;
  throwsWith(() => decodeSafetensors(bytes, 'x.safetensors'),
    new RegExp(`x\\.safetensors: b: data_offsets \\[4, 12\\] overlap a \\[0, 8\\] at file byte ${start + 4}`), { key: 'b', offset: start + 4 });
});

t('gap between tensors and trailing bytes', () => {
  const gap = handBuilt({
    a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
    b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] },
  }, new Uint8Array(6));
  throwsWith(() => decodeSafetensors(gap, 'g.safetensors'),
    /g\.safetensors: data bytes \[2, 4\) \(file byte \d+\) belong to no tensor \(gap before b\)/, { key: 'b' });
  const trailing = handBuilt({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(5));
  throwsWith(() => decodeSafetensors(trailing, 't.safetensors'), /t\.safetensors: 3 trailing bytes after the last tensor, from file byte \d+/);
});

t('size not matching dtype × shape', () => {
  const bytes = handBuilt({ 'blocks.3.attn.qkv.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(20));
  const start = bytes.length - 20;
  throwsWith(() => decodeSafetensors(bytes, 'ijepa-0040.safetensors'),
    new RegExp(`ijepa-0040\\.safetensors: blocks\\.3\\.attn\\.qkv\\.weight: F32 \\[2, 3\\] needs 24 bytes, ` +
      `but data_offsets \\[0, 20\\] hold 20 \\(file bytes ${start}\\.\\.${start + 20}\\)`), { key: 'blocks.3.attn.qkv.weight', offset: start });
});

t('unsupported dtype and malformed entries', () => {
  throwsWith(() => decodeSafetensors(handBuilt({ m: { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'd.st'),
    /d\.st: m: dtype "BOOL" is not supported/, { key: 'm' });
  throwsWith(() => decodeSafetensors(handBuilt({ m: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } }, new Uint8Array(1)), 'd.st'),
    /d\.st: m: shape \[-1\] must be an array of non-negative integers/);
  throwsWith(() => decodeSafetensors(handBuilt({ __metadata__: { a: 1 } }, new Uint8Array(0)), 'd.st'),
    /d\.st: __metadata__\.a must be a string, got 1/);
});

t('decodes a file written by numpy by hand (test/golden/make_safetensors.py)', () => {
  const bytes = readFileSync(join(here, 'golden', 'numpy-written.safetensors'));
  const { metadata, tensors } = decodeSafetensors(bytes, 'numpy-written.safetensors');
  assert.equal(metadata, { format: 'pt', writer: 'numpy by hand' });
  const f = (name: string): number[] => [...(tensors.get(name)?.toFloat32() ?? [NaN])];
  const i = (name: string): number[] => [...(tensors.get(name)?.toInt32() ?? [NaN])];
  assert.equal(f('f32'), [-1, -0.5, 0, 0.5, 1, 1.5]);
  assert.equal(tensors.get('f32')?.shape, [2, 3]);
  assert.equal(f('f64'), [Math.fround(Math.PI), Math.fround(-Math.E), 0]); // 1e-300 underflows in f32
  assert.equal(f('f16'), [1, -2.5, 65504, 2 ** -24]);
  assert.equal(f('bf16'), [1, -3.140625, 2 ** 100]);
  assert.equal(i('i64'), [-(2 ** 31), 2 ** 31 - 1, 0, 7]);
  assert.equal(i('i32'), [-5, 123456789]);
  assert.equal(i('u8'), [0, 1, 127, 128, 255]);
  assert.equal(tensors.get('empty')?.shape, [0, 4]);
});

const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy']).status === 0;
skipUnless(t, hasNumpy, 'python3-numpy', '/usr/bin/python3 cannot import numpy (bash scripts/setup.sh --test installs it)')(
  'numpy reads what we write',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    try {
      const file = join(dir, 'ours.safetensors');
      writeFileSync(file, encodeSafetensors({
        w: { dtype: 'F32', shape: [2, 2], data: new Float32Array([0.25, -1, 3, 1e-3]) },
        h: { dtype: 'F16', shape: [2], data: new Float32Array([0.1, -2]) },
        n: { dtype: 'I64', shape: [1], data: new Int32Array([-7]) },
      }, { note: 'hi' }));
      // An independent reader: parse the layout by hand with numpy, print values as JSON.
      const py = [
        'import json, struct, sys, numpy as np',
        'b = open(sys.argv[1], "rb").read()',
        'n = struct.unpack("<Q", b[:8])[0]',
        'h = json.loads(b[8:8 + n])',
        'dt = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}',
        'out = {"__metadata__": h.pop("__metadata__"), "__n__": n}',
        'for k, v in h.items():',
        '    s, e = v["data_offsets"]',
        '    out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt[v["dtype"]]).reshape(v["shape"]).astype(float).tolist()',
        'print(json.dumps(out))',
      ].join('\n');
      const r = spawnSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as Record<string, unknown>;
      assert.equal(got['__metadata__'], { note: 'hi' });
      assert.is((got['__n__'] as number) % 8, 0);
      assert.equal(got['w'], [[0.25, -1], [3, Math.fround(1e-3)]]);
      assert.equal(got['h'], [0.0999755859375, -2]); // 0.1 rounded to the nearest half
      assert.equal(got['n'], [-7]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

t.run();
