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

/** The values of an i32 tensor (through its view) if its storage came from the host. */
export function hostIndexOf(t: Tensor): { values: Int32Array } | null {
  const base = hostCopies.get(t.storage);
  if (!base) return null;
  const values = new Int32Array(t.size);
  const coord = new Array<number>(t.rank).fill(0);
  let off = t.offset;
  for (let i = 0; i < t.size; i++) {
    values[i] = base[off]!;
    for (let d = t.rank - 1; d >= 0; d--) {
      coord[d]!++;
      off += t.strides[d]!;
      if (coord[d]! < t.shape[d]!) break;
      off -= t.strides[d]! * t.shape[d]!;
      coord[d] = 0;
    }
  }
  return { values };
}
