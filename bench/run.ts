// bench/run: the kernel benchmark suites, one per kernel family, on the engine's WebGPU device.
//
//   npm run bench                      every suite; prints time, GFLOP/s or GB/s, and the score
//   npm run bench -- matmul softmax    only the named suites (peak always runs: it is the reference)
//   npm run bench -- --save            also write bench/baseline.json and bench/RESULTS.md
//   npm run bench:check                re-run and fail when a score falls more than the margin
//                                      (bench/baseline.json's `margin`, 25 %) below the baseline
//   npm run bench -- --tune            time every matmul tile per shape, rewrite this adapter's rows
//                                      of kernels/matmul-tiles.ts (other adapters' rows are kept)
//   --samples N                        timed samples per row (default 7)
//   IJEPA_BENCH_SLOW='<row>:<fraction>' the guard's self-test: the named row (so far the elementwise
//                                      op rows, e.g. 'elementwise add 4194304:0.25') records that
//                                      fraction of extra launches of its kernel (common.ts
//                                      injectSlowdown), so bench:check must fail naming it
//
// A score is a rate divided by a reference measured in the same run: matmul against its naive
// twin (the scalar kernel on the same inputs), bandwidth-bound kernels against the copy kernel
// (peak.bench.ts), fused kernels as composed-time / fused-time. The FMA peak kernel is the
// yardstick for "% of peak", not a score: it runs on other execution ports than the kernels,
// so load from other processes slows it differently. Where a suite times against the reference
// (common.ts timeAgainst), the two alternate sample by sample and the score is the median of
// the pairs' ratios, so load from other processes, which slows both sides of a pair alike,
// moves the score much less than it moves the times. Absolute times are printed, never compared.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { adapterName, getBackend, type BenchContext, type BenchRow } from './common.ts';
import { benchPeak, referenceKernels } from './peak.bench.ts';
import { benchMatmul, tuneMatmul } from './matmul.bench.ts';
import { benchElementwise } from './elementwise.bench.ts';
import { benchReduce } from './reduce.bench.ts';
import { benchSoftmax } from './softmax.bench.ts';

interface Baseline {
  adapter: string;
  date: string;
  margin: number;
  scores: Record<string, number>;
}

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const BASELINE = here('./baseline.json');
const RESULTS = here('./RESULTS.md');
const DEFAULT_MARGIN = 0.25;

const SUITES: Record<string, (ctx: BenchContext) => Promise<BenchRow[]>> = {
  matmul: benchMatmul,
  elementwise: benchElementwise,
  reduce: benchReduce,
  softmax: benchSoftmax,
  // the fused kernels' own bench (engine/ops/layer-norm.ts, attention.ts), as composed/fused ratios
  fused: async (ctx) => {
    const { benchFused } = await import('./fused.bench.ts') as {
      benchFused: (o: { samples?: number; log?: (l: string) => void; }) => Promise<{ name: string; fusedMs: number; ratio: number; note: string; }[]>;
    };
    const rows = await benchFused({ samples: ctx.samples, log: (l) => ctx.log(`  ${l}`) });
    return rows.map((r) => ({ suite: 'fused', name: `fused ${r.name}`, seconds: r.fusedMs / 1e3, score: r.ratio,
      note: `composed/fused; ${r.note}` })
    );
  },
};

function parseArgs(argv: string[]) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const samplesAt = argv.indexOf('--samples');
  const samples = samplesAt >= 0 ? Number(argv[samplesAt + 1]) : 7;
  const names = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--samples');
  for (const n of names) {
    if (!(n in SUITES) && n !== 'peak') throw new Error(`bench: unknown suite "${n}"; suites: peak, ${Object.keys(SUITES).join(', ')}`);
  }
  if (!(samples >= 1)) throw new Error(`bench: --samples needs a positive count, got ${argv[samplesAt + 1]}`);
  return { save: flags.has('--save'), check: flags.has('--check'), tune: flags.has('--tune'), samples, names };
}

function rate(r: BenchRow): string {
  if (r.gflops !== undefined) return `${r.gflops.toFixed(1)} GFLOP/s`;
  if (r.gbs !== undefined) return `${r.gbs.toFixed(2)} GB/s`;
  return '';
}
function scoreText(r: BenchRow): string {
  if (r.score === undefined) return '';
  if (r.ref === 'twin') return `${r.score.toFixed(2)}× twin`;
  if (r.ref === 'copy') return `${r.score.toFixed(2)}× copy`;
  return `${r.score.toFixed(2)}×`;
}
let peakForPct = 0;
const pctPeak = (
  r: BenchRow,
) => (r.gflops !== undefined && peakForPct > 0 && r.suite !== 'peak' ? `${(100 * r.gflops / peakForPct).toFixed(1)} %` : '');

function resultsMarkdown(adapter: string, rows: BenchRow[], refsLine: string): string {
  const out: string[] = [
    '# Kernel benchmark results',
    '',
    `Generated by \`npm run bench -- --save\` (bench/run.ts). Adapter: **${adapter}**. Date: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `References measured in the same run: ${refsLine}; % of peak is a rate over that peak (the FMA peak kernel).` +
    ' The score column is what `npm run bench:check` compares against bench/baseline.json: for matmul, the speed-up' +
    ' over its naive twin (the scalar kernel, "twin") on the same inputs; for bandwidth-bound kernels, GB/s over the copy' +
    " kernel's. Where a reference is shown beside a row, the two ran in alternating samples, the score is the median" +
    " of the pairs' ratios, and the reference shown is the rate that makes rate / reference equal that median." +
    " For fused kernels the score is the composed path's time over the fused one's." +
    ' Times are the fastest of several samples, each a batch of launches then one sync, divided by the batch.' +
    ' The machine is shared with other processes, so absolute times wander between runs; scores much less.',
    '',
  ];
  for (const suite of [...new Set(rows.map((r) => r.suite))]) {
    out.push(`## ${suite}`, '', '| kernel | time (ms) | rate | % of peak | reference beside it | score | note |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of rows.filter((x) => x.suite === suite)) {
      const ref = r.refRate === undefined ? '' : `${r.refRate.toFixed(r.ref === 'copy' ? 2 : 1)} ${r.ref === 'copy' ? 'GB/s' : 'GFLOP/s'}`;
      out.push(`| ${r.name} | ${(r.seconds * 1e3).toFixed(3)} | ${rate(r)} | ${pctPeak(r)} | ${ref} | ${scoreText(r)} | ${r.note ?? ''} |`);
    }
    out.push('');
  }
  out.push('Peers (tfjs-backend-webgpu on the same adapter, OpenBLAS sgemm on the CPU): bench/PEERS.md (`npm run bench:peers`).', '');
  return out.join('\n');
}

const args = parseArgs(process.argv.slice(2));
const backend = await getBackend();
const adapter = adapterName();
const log = (l: string) => console.log(l);
log(`bench on ${adapter}`);

const { rows: peakRows, refs } = await benchPeak(backend, args.samples);
const refsLine = `peak ${refs.peakGflops.toFixed(1)} GFLOP/s, copy ${refs.copyGbs.toFixed(2)} GB/s`;
log(`  references: ${refsLine}`);
const ctx: BenchContext = { backend, refs, refKernels: referenceKernels(backend), samples: args.samples, log };

if (args.tune) {
  await tuneMatmul(ctx);
  process.exit(0);
}

const rows: BenchRow[] = [...peakRows];
const selected = args.names.filter((n) => n !== 'peak');
for (const name of selected.length ? selected : Object.keys(SUITES)) {
  log(`${name}:`);
  try {
    rows.push(...await SUITES[name]!(ctx));
  } catch (e) {
    if (name !== 'fused') throw e;
    log(`  fused suite skipped: ${(e as Error).message}`); // another helper's bench: optional here
  }
}

// The references again, after the suites: the better of the two measurements is the
// reference (load from other processes only ever lowers them), and every score uses it.
if (rows.length > peakRows.length) {
  const again = await benchPeak(backend, args.samples);
  refs.peakGflops = Math.max(refs.peakGflops, again.refs.peakGflops);
  refs.copyGbs = Math.max(refs.copyGbs, again.refs.copyGbs);
  rows[0] = { ...rows[0]!, gflops: refs.peakGflops, seconds: Math.min(rows[0]!.seconds, again.rows[0]!.seconds) };
  rows[1] = { ...rows[1]!, gbs: refs.copyGbs, seconds: Math.min(rows[1]!.seconds, again.rows[1]!.seconds) };
}
// scores: against the reference measured alternating with the row (timeAgainst) where the
// suite did so, else against the run's best copy rate
for (const r of rows) {
  if (r.ref === 'twin' && r.gflops !== undefined && r.refRate !== undefined) r.score = r.gflops / r.refRate;
  if (r.ref === 'copy' && r.gbs !== undefined) r.score = r.gbs / (r.refRate ?? refs.copyGbs);
}
const finalRefs = `peak ${refs.peakGflops.toFixed(1)} GFLOP/s, copy ${refs.copyGbs.toFixed(2)} GB/s`;
peakForPct = refs.peakGflops;
log(`references (best of start and end): ${finalRefs}`);
log('');
log('| kernel | time (ms) | rate | % of peak | score |');
for (const r of rows) log(`| ${r.name} | ${(r.seconds * 1e3).toFixed(3)} | ${rate(r)} | ${pctPeak(r)} | ${scoreText(r)} |`);

if (args.save) {
  const scores: Record<string, number> = {};
  for (const r of rows) if (r.score !== undefined) scores[r.name] = Number(r.score.toPrecision(4));
  const old = existsSync(BASELINE) ? JSON.parse(readFileSync(BASELINE, 'utf8')) as Baseline : null;
  // a partial run (named suites) keeps the other suites' baseline scores
  const merged = selected.length && old ? { ...old.scores, ...scores } : scores;
  const baseline: Baseline = { adapter, date: new Date().toISOString().slice(0, 10), margin: old?.margin ?? DEFAULT_MARGIN, scores: merged };
  writeFileSync(BASELINE, JSON.stringify(baseline, null, 2) + '\n');
  writeFileSync(RESULTS, resultsMarkdown(adapter, rows, finalRefs));
  log(`saved ${Object.keys(scores).length} scores to ${BASELINE} and the table to ${RESULTS}`);
}

if (args.check) {
  if (!existsSync(BASELINE)) {
    console.error(`bench:check: no ${BASELINE}; run \`npm run bench -- --save\` first`);
    process.exit(1);
  }
  const base = JSON.parse(readFileSync(BASELINE, 'utf8')) as Baseline;
  if (base.adapter !== adapter) log(`note: the baseline was taken on "${base.adapter}", this run is on "${adapter}"`);
  const failures: string[] = [];
  for (const r of rows) {
    const b = base.scores[r.name];
    if (r.score === undefined || b === undefined) continue;
    const floor = b * (1 - base.margin);
    const verdict = r.score < floor ? 'REGRESSED' : 'ok';
    log(
      `  ${verdict.padEnd(9)} ${r.name.padEnd(40)} score ${r.score.toPrecision(3).padStart(7)}  baseline ${b.toPrecision(3).padStart(7)}  floor ${
        floor.toPrecision(3)
      }`,
    );
    if (r.score < floor) {
      failures.push(`${r.name}: ${r.score.toPrecision(3)} < ${floor.toPrecision(3)} (baseline ${b}, margin ${base.margin * 100} %)`);
    }
  }
  const missing = Object.keys(base.scores).filter((k) =>
    !rows.some((r) => r.name === k) && (!selected.length || selected.some((s) => k.startsWith(s)))
  );
  if (missing.length) log(`  not measured this run: ${missing.join(', ')}`);
  if (failures.length) {
    console.error(`bench:check: ${failures.length} regression(s):\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  log(`bench:check: no score fell more than ${base.margin * 100} % below the baseline`);
}
