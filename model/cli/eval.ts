// `ijepa eval`: how good are a frozen encoder's features? One table, always three rows measured
// the same way (model/eval/protocol.ts): the encoder asked for, a randomly initialised encoder of
// the same shape and seed (the run's own step-0 weights), and raw pixels. Columns: kNN, linear
// probe, low-shot 1% and 10/class (docs/small-recipe.md, docs/ijepa-step.md §7).
//
// Data: Fashion-MNIST by default (a class-balanced --train-size subset of the train split against
// --test-size test images), or --data DIR with class sub-folders (train/ and test/ when present,
// else a seeded 80/20 split per class). The table goes to stdout, progress to stderr; with --run
// the results are also written to RUN/eval.json (read by `ijepa report`).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { initWebGPU } from '../../engine/device/node.ts';
import { writeFileAtomic } from '../node.ts';
import { fashionMnistSplits, folderSplits, extractFeatures, featureDim, pixelFeatures, cachedRow, splitIdentity, evaluateFeatures, lowShotSpecs,
  lowShotName, lowShotPerClass, EVAL_FORMAT, resultsTable, type EvalImages, type EvalSplits, type ProtocolResult,
  type ResultsTable } from '../eval/index.ts';
import type { VisionTransformer } from '../index.ts';
import { ENCODER_SOURCE_OPTIONS, loadEncoder, randomEncoder, checkSourceOptions, type EncoderSource } from './encoder-source.ts';
import { command, OptionError, type OptionTable } from './options.ts';
import { readDataFolder } from './data-option.ts';

export const EVAL_OPTIONS = {
  ...ENCODER_SOURCE_OPTIONS,
  data: { type: 'string', help: 'image folder with class sub-folders (train/ and test/ inside, or split 80/20)', defaultText: 'Fashion-MNIST' },
  'train-size': { type: 'integer', help: 'Fashion-MNIST train images (class-balanced subset of 60000)', default: 10000, min: 10, max: 60000 },
  'test-size': { type: 'integer', help: 'Fashion-MNIST test images (all, or a class-balanced subset)', default: 10000, min: 10, max: 10000 },
  k: { type: 'integer', help: 'kNN neighbours', default: 20, min: 1, max: 10000 },
  temperature: { type: 'number', help: 'kNN vote temperature T (weights exp(sim / T))', default: 0.07, min: 1e-4, max: 100 },
  'probe-steps': { type: 'integer', help: 'Adam steps per linear-probe fit', default: 1000, min: 1, max: 100000 },
  out: { type: 'string', help: 'write the results as JSON here', defaultText: 'RUN/eval.json with --run, else none' },
  strict: { type: 'boolean', help: 'stop on an unreadable image instead of skipping it' },
  fresh: { type: 'boolean', help: 'recompute the random-init and raw-pixel rows instead of reading them from the cache (model/eval/row-cache.ts)' },
} satisfies OptionTable;

const SUMMARY = 'Evaluate frozen encoder features (kNN, linear probe, low-shot) against random init and raw pixels.';

const round2 = (a: number) => Math.round(10000 * a) / 100;

interface Row {
  key: 'trained' | 'random_init' | 'raw_pixels';
  label: string;
  result: ProtocolResult;
  note?: string;
}

export const evalCommand = command({ name: 'eval', summary: SUMMARY, options: EVAL_OPTIONS,
  usage: 'ijepa eval (--run DIR | --checkpoint FILE | --random-init) [options]' }, async ({ values: v }): Promise<void> => {
  checkSourceOptions(v);
  const t0 = performance.now();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  await initWebGPU();
  const src = await loadEncoder(v);
  try {
    const S = src.model.imgSize, seed = Number(v.seed);
    let splits: EvalSplits;
    if (v.data === undefined) {
      if (S !== 32) throw new OptionError(`the encoder takes ${S}×${S} images; the default Fashion-MNIST data is 32×32 (pass --data DIR)`);
      splits = await fashionMnistSplits({ trainSize: Number(v['train-size']), testSize: Number(v['test-size']), seed });
    } else {
      const root = resolve(String(v.data));
      splits = await readDataFolder(root, () =>
        folderSplits(root, {
          size: S,
          seed,
          strict: v.strict === true,
          onSkip: (p, r) => log(`warning: skipping unreadable image ${p}: ${r}`),
        }));
    }
    const C = splits.classes.length;
    log(`eval: ${src.label}; readout ${src.features}`);
    log(`eval: ${splits.description}`);
    const protocol = {
      numClasses: C,
      population: splits.population,
      knn: { k: Number(v.k), temperature: Number(v.temperature) },
      probe: { steps: Number(v['probe-steps']), seed, onProgress: (m: string) => log(`    probe ${m}`) },
    };
    const batchSize = Number(v.batch);
    const encode = async (name: string, enc: VisionTransformer) => {
      const part = async (what: string, set: EvalImages) => {
        const tStart = performance.now();
        let last = tStart;
        return extractFeatures(enc, set, {
          kind: src.features,
          batchSize,
          onProgress: (done, total) => {
            const now = performance.now();
            if (done < total && now - last < 5000) return;
            last = now;
            const rate = done / ((now - tStart) / 1000);
            log(
              `  features [${name}] ${what} ${done}/${total}  ${rate.toFixed(1)} img/s${
                done < total ? `  ETA ${Math.round((total - done) / rate)} s` : ''
              }`,
            );
          },
        });
      };
      const D = featureDim(enc.config, src.features);
      return { train: { x: await part('train', splits.train), y: splits.train.labels, D },
        test: { x: await part('test', splits.test), y: splits.test.labels, D } };
    };
    const measure = async (name: string, f: Awaited<ReturnType<typeof encode>>) => {
      log(`[${name}] D ${f.train.D}: kNN, linear probe, low-shot`);
      return evaluateFeatures(f.train, f.test, { ...protocol, log: (m) => log(`  [${name}] ${m}`) });
    };

    const rows: Row[] = [];
    const trainedLabel = src.encoderKind === 'random-init' ? `random init (seed ${src.initSeed})` : `${src.encoderKind} encoder, step ${src.step}`;
    const trained = await measure(trainedLabel, await encode(trainedLabel, src.encoder));
    rows.push({ key: 'trained', label: trainedLabel, result: trained });
    // the control rows never depend on the trained weights: cached by what they do depend on
    const split = await splitIdentity(splits.description, splits.train.files?.concat(splits.test.files ?? []));
    const cacheOpts = { fresh: v.fresh === true, log };
    const shared = { split, knn: protocol.knn, probeSteps: protocol.probe.steps, seed };
    const randomLabel = `random init (seed ${src.initSeed})`;
    if (src.encoderKind === 'random-init') {
      rows.push({ key: 'random_init', label: randomLabel, result: trained, note: 'same encoder as the first row' });
    } else {
      rows.push({
        key: 'random_init',
        label: randomLabel,
        result: await cachedRow({ row: 'random_init', model: src.model, initSeed: src.initSeed, readout: src.features, ...shared }, async () => {
          const rnd = randomEncoder(src.model, src.initSeed);
          try {
            return await measure(randomLabel, await encode(randomLabel, rnd));
          } finally {
            rnd.dispose();
          }
        }, cacheOpts),
      });
    }
    rows.push({
      key: 'raw_pixels',
      label: 'raw pixels',
      result: await cachedRow({ row: 'raw_pixels', ...shared }, async () => {
        const px = async (set: EvalImages) => pixelFeatures(set, { grey: set.grey });
        const [ptr, pte] = [await px(splits.train), await px(splits.test)];
        return measure('raw pixels', { train: { x: ptr.features, y: splits.train.labels, D: ptr.dim },
          test: { x: pte.features, y: splits.test.labels, D: pte.dim } });
      }, cacheOpts),
    });

    const pretrain = src.runDir ? await pretrainingTime(src.runDir, src.step) : null;
    const seconds = (performance.now() - t0) / 1000;
    // the table is printed from the eval.json object, as `ijepa report` renders it
    const json = evalJson(src, splits, rows, protocol, pretrain, seconds);
    console.log(formatTable(src, splits, rows, resultsTable(json), pretrain, protocol.knn));
    const out = v.out !== undefined ? resolve(String(v.out)) : src.runDir ? join(src.runDir, 'eval.json') : null;
    if (out) {
      await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n'));
      log(`eval: wrote ${out}`);
    }
    log(`eval: done in ${(seconds / 60).toFixed(1)} min`);
  } finally {
    src.encoder.dispose();
  }
});

/** Steps and summed step time of a run up to `upTo`, from its log.jsonl (null when there is none). */
async function pretrainingTime(runDir: string, upTo: number): Promise<{ steps: number; minutes: number; } | null> {
  let text: string;
  try {
    text = await readFile(join(runDir, 'log.jsonl'), 'utf8');
  } catch {
    return null;
  }
  let steps = 0, ms = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as { step?: number; time_ms?: number; };
      if ((r.step ?? 0) > upTo) continue; // the run went on after the checkpoint being evaluated
      steps = Math.max(steps, r.step ?? 0);
      ms += r.time_ms ?? 0;
    } catch { /* a torn last line: ignore */ }
  }
  return { steps, minutes: ms / 60000 };
}

export function formatTable(
  src: EncoderSource,
  splits: EvalSplits,
  rows: Row[],
  table: ResultsTable,
  pretrain: { steps: number; minutes: number; } | null,
  knn: { k: number; temperature: number; },
): string {
  const C = splits.classes.length;
  const { heads, rows: body } = table;
  const widths = heads.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const shots = rows[0]!.result.lowShot.map((l) => `${l.name}: ${l.result.nLabelled} labelled images (${l.result.perClass} per class asked)`).join(
    ', ',
  );
  return [
    `${src.label}; readout: ${src.features}`,
    splits.description,
    ...(pretrain ? [`pretraining: ${pretrain.steps} steps, ${pretrain.minutes.toFixed(1)} min of step time`] : []),
    '',
    line(heads),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    `top-1 accuracy (%) on ${splits.test.n} test images, ${C} classes. kNN: ${knn.k} neighbours by cosine, votes exp(sim/${knn.temperature}); linear: logistic regression on z-scored features, lr and L2 chosen on an 80/20 split; ${shots}.`,
    ...rows.filter((r) => r.note).map((r) => `${r.label}: ${r.note}`),
  ].join('\n');
}

function evalJson(
  src: EncoderSource,
  splits: EvalSplits,
  rows: Row[],
  protocol: { knn: { k: number; temperature: number; }; probe: { steps: number; seed: number; }; },
  pretrain: { steps: number; minutes: number; } | null,
  seconds: number,
): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  for (const r of rows) {
    const entry: Record<string, unknown> = {
      label: r.label,
      dim: r.result.dim,
      knn: round2(r.result.knn),
      linear: round2(r.result.linear.accuracy),
      linear_lr: r.result.linear.lr,
      linear_l2: r.result.linear.weightDecay,
      linear_heldout: round2(r.result.linear.valAccuracy),
    };
    for (const l of r.result.lowShot) entry[`low_shot_${l.name}`] = round2(l.result.accuracy);
    results[r.key] = entry;
  }
  return {
    format: EVAL_FORMAT,
    source: src.label,
    checkpoint: src.checkpoint,
    step: src.step,
    encoder: src.encoderKind,
    features: src.features,
    data: splits.description,
    classes: splits.classes.length,
    train_images: splits.train.n,
    test_images: splits.test.n,
    ...(pretrain ? { pretraining_steps: pretrain.steps, pretraining_minutes: Math.round(pretrain.minutes * 10) / 10 } : {}),
    protocol: {
      knn: protocol.knn,
      probe_steps: protocol.probe.steps,
      seed: protocol.probe.seed,
      low_shot: Object.fromEntries(lowShotSpecs(splits.population).map((s) => [lowShotName(s), lowShotPerClass(s, splits.classes.length)])),
    },
    results,
    accuracy_unit: 'percent top-1',
    seconds: Math.round(seconds),
  };
}
