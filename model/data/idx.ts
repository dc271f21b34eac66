// idx: the IDX format of (Fashion-)MNIST and the data set's constants, with no Node imports, so
// the browser demo decodes the same files the same way (fashion-mnist.ts reads them from disk).
// Format (http://yann.lecun.com/exdb/mnist/): big-endian u32 magic 0x00000803 (u8, 3 dims) or
// 0x00000801 (u8, 1 dim), then the dims as big-endian u32s, then the bytes row-major.

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/**
 * Mean and std of the training images zero-padded to 32×32, in [0, 1] units (docs/small-recipe.md).
 * The padding lowers them from the 28×28 figures (0.2860 / 0.3530): mean·784/1024 = 0.2190.
 */
export const FASHION_MNIST_PADDED_MEAN = 0.2190;
export const FASHION_MNIST_PADDED_STD = 0.3318;

/** Parse an (already gunzipped) uint8 IDX file into its dims and a view of its data; `name` names it in errors. */
export function parseIdx(bytes: Uint8Array, name: string): { dims: number[]; data: Uint8Array; } {
  if (bytes.length < 4) throw new Error(`fashion-mnist: ${name} is truncated (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const type = (magic >>> 8) & 0xff;
  const ndim = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || ndim < 1) {
    throw new Error(`fashion-mnist: ${name} has IDX magic 0x${magic.toString(16).padStart(8, '0')}, ` +
      `expected 0x0000080N (unsigned bytes, N dims)`);
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw new Error(`fashion-mnist: ${name} is truncated inside its header`);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(dv.getUint32(4 + 4 * d, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerLen + size) {
    throw new Error(`fashion-mnist: ${name} holds ${bytes.length - headerLen} data bytes, ` +
      `dims [${dims.join(', ')}] need ${size}`);
  }
  return { dims, data: bytes.subarray(headerLen) };
}
