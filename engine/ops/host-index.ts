// host-index: the host copy of index tensors made from host arrays (masks, labels), so gather
// and scatterAdd can check every index before dispatch and name the bad one, without a readback.
// Views of such a tensor are read through their strides. Tensors computed on the device have
// no host copy: their kernels write NaN for an out-of-range index instead of reading garbage.
import type { Storage } from '../backend/backend.ts';
import type { Tensor } from '../tensor.ts';

const hostCopies = new WeakMap<Storage, Int32Array>();

export function rememberHostIndex(storage: Storage, values: Int32Array): void {
  hostCopies.set(storage, values);
}

/**
 * The values of an i32 tensor (through its view) if its storage came from the host. Broadcast
 * dims (stride 0) repeat the same values, so they are read once: `shape` is the view's shape
 * with those dims at size 1, and `values` is row-major over it. (An index expanded over a
 * feature dim of 192 is checked 192× faster than element by element.)
 */
export function hostIndexOf(t: Tensor): { values: Int32Array; shape: number[]; } | null {
  const base = hostCopies.get(t.storage);
  if (!base) return null;
  const shape = t.shape.map((n, d) => (t.strides[d] === 0 ? Math.min(n, 1) : n));
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Int32Array(size);
  const coord = new Array<number>(t.rank).fill(0);
  let off = t.offset;
  for (let i = 0; i < size; i++) {
    values[i] = base[off]!;
    for (let d = t.rank - 1; d >= 0; d--) {
      coord[d]!++;
      off += t.strides[d]!;
      if (coord[d]! < shape[d]!) break;
      off -= t.strides[d]! * shape[d]!;
      coord[d] = 0;
    }
  }
  return { values, shape };
}
