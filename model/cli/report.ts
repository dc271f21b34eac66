// `ijepa report RUN_DIR`: write RUN_DIR/report/index.html (self-contained: inline SVG curves and
// PNG data URIs) and its PNGs beside it: loss / lr / collapse-watch curves from log.jsonl, probe
// numbers from eval.json, mask layouts over sample images, and a PCA-to-RGB picture of patch
// features from the newest checkpoint (model/report/build.ts).
import { initWebGPU } from '../../engine/device/node.ts';
import { writeReport } from '../report/index.ts';
import { command, OptionError, type OptionTable } from './options.ts';

export const REPORT_OPTIONS = {
  checkpoint: { type: 'string', help: 'checkpoint for the feature PCA', defaultText: "the run's newest" },
  images: { type: 'integer', help: 'sample images to draw', default: 4, min: 1, max: 32 },
  data: { type: 'string', help: "image folder to draw instead of the run's data" },
  out: { type: 'string', help: 'output folder', defaultText: 'RUN_DIR/report' },
} satisfies OptionTable;

const SUMMARY = 'Write a self-contained HTML report of a training run.';

export const reportCommand = command({ name: 'report', summary: SUMMARY, options: REPORT_OPTIONS, usage: 'ijepa report RUN_DIR [options]',
  positionals: true }, async ({ values: v, positionals }): Promise<void> => {
  if (positionals.length !== 1) throw new OptionError(`expected one RUN_DIR, got ${positionals.length}; see 'ijepa report --help'`);
  await initWebGPU();
  const r = await writeReport({
    runDir: positionals[0]!,
    images: Number(v.images),
    ...(v.checkpoint !== undefined ? { checkpoint: String(v.checkpoint) } : {}),
    ...(v.data !== undefined ? { data: String(v.data) } : {}),
    ...(v.out !== undefined ? { out: String(v.out) } : {}),
  });
  for (const n of r.notes) console.error(`note: ${n}`);
  console.log(`wrote ${r.html}`);
  for (const f of r.files.slice(1)) console.log(`      ${f}`);
});
