// bench/run: the kernel benchmark suites, one per kernel family, on the engine's WebGPU device.
//
//   npm run bench                      every suite; prints time, GFLOP/s or GB/s, and the score
//   npm run bench -- matmul softmax    only the named suites (peak always runs: it is the reference)
//   npm run bench -- --save            also capture every row's kernels into bench/baseline.json
//                                      (ab-guard.ts) and write the tables of bench/RESULTS.md
//   npm run bench:check                replay every row's kernels as saved and as they are today,
//                                      in alternating samples, and fail when today's are slower
//                                      by more than the margin (MARGIN below); a row below it is
//                                      measured again before it fails
//   npm run bench -- --tune            time every matmul tile per shape, rewrite this adapter's rows
//                                      of kernels/matmul-tiles.ts (other adapters' rows are kept)
//   --samples N                        interleaved pairs per row and round (default 2)
//   --rounds N                         passes over every suite (default 3); a row's score and A/B
//                                      ratio are the medians of its rounds'
//   IJEPA_BENCH_SLOW='<row>:<fraction>' the guard's self-test: the named row (any matmul,
//                                      elementwise, reduce, softmax or fused row, e.g.
//                                      'elementwise add 4194304:0.25') records that fraction of
//                                      extra launches of its kernel (common.ts injectSlowdown), so
//                                      bench:check must fail naming it; a name that is no row of
//                                      the run is a usage error (exit 2)
//
// A score is a rate divided by a reference measured in the same run: matmul against its naive
// twin (the scalar kernel on the same inputs), bandwidth-bound kernels against the copy kernel
// (peak.bench.ts), fused kernels as composed-time / fused-time. The two alternate sample by
// sample and the score is the median of the pairs' ratios. Scores describe a kernel (RESULTS.md);
// they do not guard it: on a shared machine a score moves ±29 % from run to run, because load
// slows different kernels differently. bench:check compares each row with the same row's kernels
// as saved (the A/B ratio t_saved / t_today, 1.0 when nothing changed, whatever the load). The FMA
// peak kernel is the yardstick for "% of peak". Absolute times are printed, never compared. Every
// suite runs `--rounds` times over, so a burst of load falls on one round of a row, not on all.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { adapterName, getBackend, guard, median, slowdownSpec, slowedRows, type BenchContext, type BenchRow } from './common.ts';
import type { CapturedKernels } from './ab-guard.ts';
import { benchPeak, referenceKernels } from './peak.bench.ts';
import { benchMatmul, tuneMatmul } from './matmul.bench.ts';
import { benchElementwise } from './elementwise.bench.ts';
import { benchReduce } from './reduce.bench.ts';
import { benchSoftmax } from './softmax.bench.ts';
import { benchFused } from './fused.bench.ts';
import { replaceSection } from '../scripts/markdown-section.ts';

interface Baseline {
  adapter: string;
  date: string;
  /** The commit the kernels were saved from (`+dirty` when the tree had changes). */
  commit: string;
  margin: number;
  /** Each row's score in the saving run: a description (RESULTS.md), not what the check compares. */
  scores: Record<string, number>;
  /** Each row's kernels as captured by the saving run: what bench:check replays beside today's. */
  kernels: CapturedKernels;
}

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const BASELINE = here('./baseline.json');
const RESULTS = here('./RESULTS.md');
// How far below 1.0 a row's A/B ratio (t_saved / t_today) may fall before bench:check fails. A 25 %
// slowdown (25 % more work in one kernel) reads ×1/1.25 = 0.80 (caught at 0.75–0.81); unchanged rows
// read 0.914–1.109 in five checks beside a busy core (bench/RESULTS.md "Guard under load").
const MARGIN = 0.1;
const DEFAULT_SAMPLES = 2;
const DEFAULT_ROUNDS = 3;
const CONFIRM_ROUNDS = 3;
// The FMA peak and the copy are each the fastest of this many samples, whatever --samples says:
// they are yardsticks for % of peak (the scores come from the interleaved pairs), and the
// fastest of few samples on a loaded machine reads them low.
const PEAK_SAMPLES = 7;
const SUITES: Record<string, (ctx: BenchContext) => Promise<BenchRow[]>> = {
  matmul: benchMatmul,
  elementwise: benchElementwise,
  reduce: benchReduce,
  softmax: benchSoftmax,
  // the fused kernels' own bench (engine/ops/layer-norm.ts, attention.ts), as composed/fused ratios
  fused: async (ctx) => {
    const rows = await benchFused({ samples: ctx.samples, log: (l) => ctx.log(`  ${l}`), only: ctx.only });
    return rows.map((r) => ({ suite: 'fused', name: `fused ${r.name}`, seconds: r.fusedMs / 1e3, score: r.ratio,
      note: `composed/fused; ${r.note}` })
    );
  },
};

function parseArgs(argv: string[]) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const valueOf = (flag: string, fallback: number) => {
    const at = argv.indexOf(flag);
    if (at < 0) return fallback;
    const v = Number(argv[at + 1]);
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`bench: ${flag} needs a positive whole count, got ${argv[at + 1]}`);
    return v;
  };
  const samples = valueOf('--samples', DEFAULT_SAMPLES), rounds = valueOf('--rounds', DEFAULT_ROUNDS);
  const names = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--samples' && argv[i - 1] !== '--rounds');
  for (const n of names) {
    if (!(n in SUITES) && n !== 'peak') throw new Error(`bench: unknown suite "${n}"; suites: peak, ${Object.keys(SUITES).join(', ')}`);
  }
  if (flags.has('--save') && flags.has('--check')) {
    throw new Error('bench: --save and --check are separate runs (a check measures no scores to save)');
  }
  return { save: flags.has('--save'), check: flags.has('--check'), tune: flags.has('--tune'), samples, rounds, names };
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
    ' The score column describes a kernel against a reference in the same run: for matmul, the speed-up' +
    ' over its naive twin (the scalar kernel, "twin") on the same inputs; for bandwidth-bound kernels, GB/s over the copy' +
    " kernel's. `npm run bench:check` compares no score: it replays each row's kernels as this save captured them" +
    " (bench/baseline.json `kernels`) beside today's, A/B (bench/ab-guard.ts). Where a reference is shown beside a row," +
    ' the two ran in alternating samples, the score is the median' +
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

/**
 * `generated` with every `## ` section of `old` that it lacks appended (in their old order): the
 * sections written by hand or by other scripts ("Guard under load", "Issue #13 targets") outlive
 * a `--save`, which rewrites only the suites' tables.
 */
function keepWrittenSections(old: string, generated: string): string {
  const headings = (text: string) => text.split('\n').filter((l) => l.startsWith('## ')).map((l) => l.slice(3));
  const have = new Set(headings(generated));
  let out = generated;
  for (const h of headings(old)) {
    if (have.has(h)) continue;
    const lines = old.split('\n');
    const start = lines.indexOf(`## ${h}`);
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    out = replaceSection(out, h, lines.slice(start + 1, end).join('\n').trim());
  }
  return out;
}

/** A row's score from the reference measured alternating with it (timeAgainst); fused rows come scored. */
function scoreRow(r: BenchRow): void {
  if (r.refRate === undefined) return;
  if (r.ref === 'twin' && r.gflops !== undefined) r.score = r.gflops / r.refRate;
  if (r.ref === 'copy' && r.gbs !== undefined) r.score = r.gbs / r.refRate;
}

/**
 * One row per name from several rounds: the median of the rounds' scores (kept in roundScores)
 * and of all their A/B pairs' ratios (abPairs), the fastest round's time and the rate from it, and the
 * reference rate that makes rate / reference equal the median score.
 */
function combineRounds(rounds: BenchRow[][]): BenchRow[] {
  return rounds[0]!.map((first) => {
    const same = rounds.map((rs) => rs.find((r) => r.name === first.name)!);
    const fastest = same.reduce((x, y) => (y.seconds < x.seconds ? y : x));
    const out: BenchRow = { ...fastest };
    if (first.score !== undefined) {
      out.roundScores = same.map((r) => r.score!);
      out.score = median(out.roundScores);
      const rateOf = out.gflops ?? out.gbs;
      if (out.refRate !== undefined && rateOf !== undefined) out.refRate = rateOf / out.score;
    }
    if (first.abPairs) {
      out.abPairs = same.flatMap((r) => r.abPairs ?? []);
      out.ab = median(out.abPairs.flat());
    }
    return out;
  });
}

/** The largest deviation of a round's value from the rounds' median, as a fraction of it. */
const spreadOf = (xs: readonly number[] | undefined, mid: number | undefined) => (xs && mid ? Math.max(...xs.map((x) => Math.abs(x / mid - 1))) : 0);

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2));
  slowdownSpec(); // a malformed IJEPA_BENCH_SLOW is a usage error, before any timing
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const backend = await getBackend();
const adapter = adapterName();
const log = (l: string) => console.log(l);
log(`bench on ${adapter}`);

const { rows: peakRows, refs } = await benchPeak(backend, PEAK_SAMPLES);
const refsLine = `peak ${refs.peakGflops.toFixed(1)} GFLOP/s, copy ${refs.copyGbs.toFixed(2)} GB/s`;
log(`  references: ${refsLine}`);
const ctx: BenchContext = { backend, refs, refKernels: referenceKernels(backend), samples: args.samples, log };

if (args.tune) {
  await tuneMatmul(ctx);
  process.exit(0);
}

// Every selected suite, `rounds` times over: a burst of load from other processes falls on one
// round of a row, and the row's score is the median of its rounds' scores (each itself the
// median of interleaved pairs' ratios, common.ts timeAgainst). Pipelines compile in round 1.
async function measureRounds(count: number, suites: readonly string[], what = 'round'): Promise<BenchRow[]> {
  const rounds: BenchRow[][] = [];
  for (let round = 0; round < count; round++) {
    const rowsOfRound: BenchRow[] = [];
    for (const name of suites) {
      log(count > 1 ? `${name} (${what} ${round + 1}/${count}):` : `${name}:`);
      rowsOfRound.push(...await SUITES[name]!(ctx));
    }
    for (const r of rowsOfRound) {
      scoreRow(r);
      const pairs = guard.ratios.get(r.name);
      if (pairs) r.abPairs = [pairs];
    }
    guard.ratios.clear();
    rounds.push(rowsOfRound);
  }
  return combineRounds(rounds);
}
// bench:check replays the kernels --save captured (ab-guard.ts): load them before measuring
const base = args.check && existsSync(BASELINE) ? JSON.parse(readFileSync(BASELINE, 'utf8')) as Partial<Baseline> : null;
if (args.check && !base?.kernels) {
  console.error(`bench:check: ${existsSync(BASELINE) ? `${BASELINE} holds no kernels` : `no ${BASELINE}`}; run \`npm run bench -- --save\` first`);
  process.exit(1);
}
guard.mode = args.check ? 'check' : args.save ? 'save' : null;
if (args.check) ctx.log = () => {}; // the suites' lines print times and scores, which a check does not measure (common.ts timeRow)
guard.baseline = base?.kernels ?? null;
const margin = base?.margin ?? MARGIN;
const floor = 1 - margin;
if (base && base.adapter !== adapter) log(`note: the baseline was saved on "${base.adapter}", this run is on "${adapter}"`);
if (base) log(`bench:check: every row's kernels A/B against those saved from ${base.commit} on ${base.date}; floor ${floor.toFixed(2)}`);

const selected = args.names.filter((n) => n !== 'peak');
const rows: BenchRow[] = [...peakRows, ...await measureRounds(args.rounds, selected.length ? selected : Object.keys(SUITES))];

// bench:check's second look: a row whose median A/B ratio fell below the floor is measured again,
// alone, in CONFIRM_ROUNDS fresh rounds, and only the median of those decides: a burst of load
// that split one round's pairs rarely splits them again.
const suspects = rows.filter((r) => r.ab !== undefined && r.ab < floor);
const firstLook = new Map<string, BenchRow>();
if (suspects.length) {
  log(
    `bench:check: ${suspects.length} row(s) below the floor, measured again in ${CONFIRM_ROUNDS} fresh rounds: ${
      suspects.map((r) => r.name).join(', ')
    }`,
  );
  ctx.only = new Set(suspects.map((r) => r.name));
  const again = await measureRounds(CONFIRM_ROUNDS, [...new Set(suspects.map((r) => r.suite))], 'confirmation round');
  ctx.only = undefined;
  for (const r of again) {
    const i = rows.findIndex((x) => x.name === r.name);
    firstLook.set(r.name, rows[i]!);
    rows[i] = r;
  }
}
const slow = slowdownSpec();
if (slow && !slowedRows.has(slow.name)) {
  console.error(`bench: IJEPA_BENCH_SLOW names "${slow.name}", which is no row of this run (rows: ${rows.map((r) => r.name).join(', ')})`);
  process.exit(2);
}

// The references again, after the suites: the better of the two measurements is the
// reference (load from other processes only ever lowers them); it is the yardstick for % of peak.
if (rows.length > peakRows.length) {
  const again = await benchPeak(backend, PEAK_SAMPLES);
  refs.peakGflops = Math.max(refs.peakGflops, again.refs.peakGflops);
  refs.copyGbs = Math.max(refs.copyGbs, again.refs.copyGbs);
  rows[0] = { ...rows[0]!, gflops: refs.peakGflops, seconds: Math.min(rows[0]!.seconds, again.rows[0]!.seconds) };
  rows[1] = { ...rows[1]!, gbs: refs.copyGbs, seconds: Math.min(rows[1]!.seconds, again.rows[1]!.seconds) };
}
const finalRefs = `peak ${refs.peakGflops.toFixed(1)} GFLOP/s, copy ${refs.copyGbs.toFixed(2)} GB/s`;
peakForPct = refs.peakGflops;
log(`references (best of start and end): ${finalRefs}`);
log('');
const rounds = (xs: readonly number[] | undefined, mid: number | undefined) =>
  xs && xs.length > 1 ? `${xs.map((x) => x.toPrecision(3)).join(' ')} (±${(100 * spreadOf(xs, mid)).toFixed(1)} %)` : '';
if (!args.check) log("| kernel | time (ms) | rate | % of peak | score | rounds' scores |");
for (const r of args.check ? [] : rows) {
  log(`| ${r.name} | ${(r.seconds * 1e3).toFixed(3)} | ${rate(r)} | ${pctPeak(r)} | ${scoreText(r)} | ${rounds(r.roundScores, r.score)} |`);
}

if (args.save) {
  const scores: Record<string, number> = {};
  for (const r of rows) if (r.score !== undefined) scores[r.name] = Number(r.score.toPrecision(4));
  // a partial run (named suites) keeps the other rows' kernels as they were saved, on this adapter
  const found = existsSync(BASELINE) ? JSON.parse(readFileSync(BASELINE, 'utf8')) as Partial<Baseline> : null;
  const kept = found?.adapter === adapter && selected.length && found.kernels ? found.kernels : { sources: {}, rows: {} };
  const kernels: CapturedKernels = { sources: { ...kept.sources, ...guard.saved.sources }, rows: { ...kept.rows, ...guard.saved.rows } };
  const used = new Set(Object.values(kernels.rows).flatMap((c) => c.launches.map((l) => l.source)));
  for (const key of Object.keys(kernels.sources)) if (!used.has(key)) delete kernels.sources[key];
  const baseline: Baseline = { adapter, date: new Date().toISOString().slice(0, 10), commit: commitOfTree(), margin: MARGIN,
    scores: { ...(selected.length && found?.adapter === adapter ? found.scores : {}), ...scores }, kernels };
  writeFileSync(BASELINE, JSON.stringify(baseline, null, 1) + '\n');
  writeFileSync(RESULTS, keepWrittenSections(existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '', resultsMarkdown(adapter, rows, finalRefs)));
  log(`saved the kernels of ${Object.keys(guard.saved.rows).length} rows (${Object.keys(kernels.sources).length} distinct WGSL sources in all) ` +
    `and ${Object.keys(scores).length} scores to ${BASELINE}, the table to ${RESULTS}`);
}

if (args.check) {
  const abRounds = (r: BenchRow) => r.abPairs?.map(median);
  const pairCount = (r: BenchRow) => r.abPairs?.flat().length ?? 0;
  const failures: string[] = [];
  let worst: { name: string; ab: number; } | null = null;
  for (const r of rows) {
    if (r.ab === undefined) continue;
    const verdict = r.ab < floor ? 'REGRESSED' : 'ok';
    if (!worst || r.ab < worst.ab) worst = { name: r.name, ab: r.ab };
    const first = firstLook.get(r.name);
    log(`  ${verdict.padEnd(9)} ${r.name.padEnd(44)} A/B ${r.ab.toFixed(3)} of ${pairCount(r)} pairs; rounds ${rounds(abRounds(r), r.ab)}` +
      (first ? `; first look ${first.ab!.toFixed(3)} (rounds ${rounds(abRounds(first), first.ab)})` : ''));
    if (r.ab < floor) {
      failures.push(
        `${r.name}: A/B ${r.ab.toFixed(3)} < ${floor.toFixed(2)} (today's kernels ${((1 / r.ab - 1) * 100).toFixed(0)} % slower than ${
          base!.commit
        }'s)`,
      );
    }
  }
  if (worst) log(`  lowest A/B: ${worst.ab.toFixed(3)} (${worst.name}); floor ${floor.toFixed(2)}`);
  const unsaved = rows.filter((r) => r.score !== undefined && r.suite !== 'peak' && r.ab === undefined).map((r) => r.name);
  if (unsaved.length) log(`  no saved kernels (new rows; \`npm run bench -- --save\` adds them): ${unsaved.join(', ')}`);
  const missing = Object.keys(base!.kernels!.rows).filter((k) =>
    !rows.some((r) => r.name === k) && (!selected.length || selected.some((s) => k.startsWith(s)))
  );
  if (missing.length) log(`  saved but not measured this run: ${missing.join(', ')}`);
  if (failures.length) {
    console.error(`bench:check: ${failures.length} regression(s):\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  log(`bench:check: no row's kernels are more than ${(margin * 100).toFixed(0)} % slower than ${base!.commit}'s`);
}

/** HEAD's short commit, `+dirty` when tracked files differ from it; `unknown` outside a git checkout. */
function commitOfTree(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: here('..'), encoding: 'utf8' }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}
