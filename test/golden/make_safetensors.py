#!/usr/bin/env python3
"""Write test/golden/numpy-written.safetensors by hand with numpy (no safetensors package needed).

An independent writer for test/safetensors.test.ts: it follows the format description
(https://github.com/huggingface/safetensors#format), not our TypeScript, so a shared misreading
would have to be made twice. Values are simple formulas the test recomputes:
  f32  [2, 3]  = arange(6) * 0.5 - 1
  f64  [3]     = [pi, -e, 1e-300]
  f16  [4]     = [1, -2.5, 65504, 2**-24]         (max half, smallest subnormal)
  bf16 [3]     = [1, -3.140625, 2**100]            (exact in bf16)
  i64  [2, 2]  = [[-2**31, 2**31 - 1], [0, 7]]
  i32  [2]     = [-5, 123456789]
  u8   [5]     = [0, 1, 127, 128, 255]
  empty [0, 4] = f32, no bytes
Tensors are laid out in name order (not by alignment) and the header is padded with spaces, as
the Rust crate does, so the decoder must not assume our own writer's layout.
Run: /usr/bin/python3 test/golden/make_safetensors.py
"""
import json
import math
import os
import struct

import numpy as np

tensors = {
    'f32': np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5) - np.float32(1),
    'f64': np.array([math.pi, -math.e, 1e-300], dtype=np.float64),
    'f16': np.array([1, -2.5, 65504, 2.0 ** -24], dtype=np.float16),
    # numpy has no bfloat16: store the top 16 bits of float32 values that are exact in bf16.
    'bf16': (np.array([1, -3.140625, 2.0 ** 100], dtype=np.float32).view(np.uint32) >> 16).astype('<u2'),
    'i64': np.array([[-2 ** 31, 2 ** 31 - 1], [0, 7]], dtype=np.int64),
    'i32': np.array([-5, 123456789], dtype=np.int32),
    'u8': np.array([0, 1, 127, 128, 255], dtype=np.uint8),
    'empty': np.zeros((0, 4), dtype=np.float32),
}
dtypes = {'f32': 'F32', 'f64': 'F64', 'f16': 'F16', 'bf16': 'BF16', 'i64': 'I64', 'i32': 'I32',
          'u8': 'U8', 'empty': 'F32'}

header = {'__metadata__': {'format': 'pt', 'writer': 'numpy by hand'}}
blobs = []
offset = 0
for name in sorted(tensors):
    arr = tensors[name]
    raw = arr.astype(arr.dtype.newbyteorder('<')).tobytes()
    header[name] = {'dtype': dtypes[name], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)

text = json.dumps(header).encode('utf-8')
text += b' ' * (-len(text) % 8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'numpy-written.safetensors')
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(text)))
    f.write(text)
    for b in blobs:
        f.write(b)
print(out, 8 + len(text) + offset, 'bytes')
