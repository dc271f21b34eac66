// `ijepa embed`: frozen-encoder features of every image in a folder, written to one file.
//
//   OUT.safetensors  `features` [n, D] F32, `labels` [n] I32 (class index from the sub-folder, -1
//                    in a flat folder); metadata: `files` (JSON list, paths relative to --data, in
//                    row order), `classes` (JSON), `source`, `readout`, `model` (JSON), `format`.
//   OUT.npy          `features` only ([n, D] little-endian f32, NumPy format 1.0), plus
//                    OUT.npy.json beside it with the files, labels and classes.
// Images are read in scanImageFolder's order (sorted paths) through the evaluation view
// (model/eval/datasets.ts: centred square crop, resize to the encoder's size, ImageNet mean/std).
import { dirname, relative, resolve } from 'node:path';
import { initWebGPU } from '../../engine/device/node.ts';
import { encodeSafetensors } from '../../engine/index.ts';
import { makeDirs, writeFileAtomic } from '../node.ts';
import { scanImageFolder } from '../data/index.ts';
import { folderImages, extractFeatures, featureDim } from '../eval/index.ts';
import { ENCODER_SOURCE_OPTIONS, checkSourceOptions, loadEncoder } from './encoder-source.ts';
import { command, OptionError, type OptionTable } from './options.ts';
import { readDataFolder } from './data-option.ts';

export const EMBED_OPTIONS = {
  ...ENCODER_SOURCE_OPTIONS,
  seed: { ...ENCODER_SOURCE_OPTIONS.seed, help: 'seed of --random-init' },
  data: { type: 'string', help: 'folder of JPEG/PNG/WebP images (class sub-folders or flat)' },
  out: { type: 'string', help: 'output file: .safetensors (features, labels, file list) or .npy (features only, plus a .json list)' },
  strict: { type: 'boolean', help: 'stop on an unreadable image instead of skipping it' },
} satisfies OptionTable;

const SUMMARY = 'Write frozen encoder features of a folder of images to a safetensors or .npy file.';

export const embedCommand = command({ name: 'embed', summary: SUMMARY, options: EMBED_OPTIONS,
  usage: 'ijepa embed (--run DIR | --checkpoint FILE | --random-init) --data DIR --out FILE [options]' }, async ({ values: v }): Promise<void> => {
  checkSourceOptions(v);
  if (v.data === undefined) throw new OptionError('--data DIR is required (the folder of images to embed)');
  if (v.out === undefined) throw new OptionError('--out FILE is required (.safetensors or .npy)');
  const out = resolve(String(v.out));
  const npy = out.toLowerCase().endsWith('.npy');
  if (!npy && !out.toLowerCase().endsWith('.safetensors')) throw new OptionError(`--out ${out}: the name must end in .safetensors or .npy`);
  const root = resolve(String(v.data));
  // decode every file once first, so an image that fails only at decode time is skipped (or, with
  // --strict, fatal) as in train, and the rows, labels and file list stay aligned
  const folder = await readDataFolder(root, () =>
    scanImageFolder(root, {
      probe: 'decode',
      strict: v.strict === true,
      onSkip: (p, r) => process.stderr.write(`warning: skipping unreadable image ${p}: ${r}\n`),
    }));
  // --out into a folder that does not exist yet, as export does
  await makeDirs(dirname(out)).catch((e: Error) => {
    throw new OptionError(`--out ${out}: ${e.message}`);
  });

  await initWebGPU();
  const src = await loadEncoder(v);
  try {
    const images = folderImages(folder.entries, src.model.imgSize);
    const D = featureDim(src.model, src.features), n = images.n;
    process.stderr.write(`embed: ${n} images from ${root} with the ${src.label}; readout ${src.features}, D ${D}\n`);
    const t0 = performance.now();
    const features = await extractFeatures(src.encoder, images, {
      kind: src.features,
      batchSize: Number(v.batch),
      onProgress: (done, total) => {
        const rate = done / ((performance.now() - t0) / 1000);
        process.stderr.write(`  ${done}/${total} images  ${rate.toFixed(1)} img/s\n`);
      },
    });
    const files = folder.entries.map((e) => relative(root, e.path));
    const labels = Int32Array.from(folder.entries, (e) => e.label);
    if (npy) {
      await writeFileAtomic(out, encodeNpy(features, [n, D]));
      const side = JSON.stringify({ shape: [n, D], files, labels: Array.from(labels), classes: folder.classes, source: src.label,
        readout: src.features }, null, 1);
      await writeFileAtomic(`${out}.json`, new TextEncoder().encode(side + '\n'));
    } else {
      await writeFileAtomic(out, encodeSafetensors({
        features: { dtype: 'F32', shape: [n, D], data: features },
        labels: { dtype: 'I32', shape: [n], data: labels },
      }, {
        format: 'ijepa-webgpu-embeddings/1',
        files: JSON.stringify(files),
        classes: JSON.stringify(folder.classes),
        source: src.label,
        readout: src.features,
        model: JSON.stringify(src.model),
        root,
      }));
    }
    process.stderr.write(`embed: wrote ${out} (features [${n}, ${D}])${npy ? ` and ${out}.json` : ''}\n`);
  } finally {
    src.encoder.dispose();
  }
});

/**
 * A little-endian float32 array in NumPy's .npy format 1.0: magic, version, u16 header length,
 * then a Python-dict header padded with spaces (and a final newline) so the data starts at a
 * multiple of 64 bytes, then the C-order data.
 */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const pre = 10; // magic (6) + version (2) + header length (2)
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + header.length + data.byteLength);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  const body = new DataView(out.buffer, pre + header.length);
  for (let i = 0; i < data.length; i++) body.setFloat32(4 * i, data[i]!, true);
  return out;
}
