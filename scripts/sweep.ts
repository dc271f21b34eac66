// sweep: the recipe search of docs/recipe.md, re-runnable. Each experiment is one JSON file of the
// official I-JEPA yaml keys that `ijepa train --config` takes, plus an optional `sweep` section
// that this script reads and strips before training:
//
//   { "sweep": { "note": "what changed and why", "flags": ["--steps", "500", "--seed", "1"] },
//     "data": { "batch_size": 64 }, "optimization": { "lr": 3.5e-4 } }
//
// For each file it trains into OUT/NAME (NAME = the file name without .json) with a quick kNN probe
// every --probe-every steps (the learning curve), then runs `ijepa eval --run OUT/NAME` (the protocol
// of record) unless --no-eval, and writes OUT/NAME/sweep.json. A finished experiment (sweep.json
// present) is not run again, so a sweep that was stopped continues where it was. Last, it prints
// a markdown table of every experiment under OUT, which docs/recipe.md is written from.
//
//   node --import tsx scripts/sweep.ts scripts/recipe/*.json [--out runs/sweep] [--probe-every 250] [--no-eval]
//   node --import tsx scripts/sweep.ts --table [--out runs/sweep]          only print the table
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');

interface Experiment {
  name: string;
  note: string;
  flags: string[];
  official: Record<string, unknown>;
}
interface CurvePoint {
  step: number;
  knn: number;
}
interface Outcome {
  name: string;
  note: string;
  flags: string[];
  official: Record<string, unknown>;
  steps: number;
  minutes: number;
  curve: CurvePoint[];
  eval?: Record<string, Record<string, number | string>>;
}

/** Reads an experiment file; the `sweep` section is ours, the rest goes to `--config` unchanged. */
export function readExperiment(file: string): Experiment {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`sweep: ${file}: expected a JSON object`);
  const { sweep = {}, ...official } = json as { sweep?: { note?: unknown; flags?: unknown; }; };
  const flags = sweep.flags ?? [];
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string')) throw new Error(`sweep: ${file}: sweep.flags must be an array of strings`);
  if (flags.some((f) => f === '--out' || f === '--config' || f === '--resume')) {
    throw new Error(`sweep: ${file}: sweep.flags may not set --out, --config or --resume (the script does)`);
  }
  return { name: basename(file).replace(/\.json$/, ''), note: typeof sweep.note === 'string' ? sweep.note : '', flags, official };
}

/** The probe curve and step count of a run's JSONL log. */
function readLog(runDir: string): { steps: number; curve: CurvePoint[]; } {
  const curve: CurvePoint[] = [];
  let steps = 0;
  for (const line of readFileSync(join(runDir, 'log.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { step?: number; probe_knn?: number; };
    if (typeof r.step === 'number') steps = Math.max(steps, r.step);
    if (typeof r.step === 'number' && typeof r.probe_knn === 'number') curve.push({ step: r.step, knn: 100 * r.probe_knn });
  }
  return { steps, curve };
}

function runCli(args: string[]): void {
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, COLUMNS: '120' } });
  if (r.status !== 0) throw new Error(`sweep: ijepa ${args.join(' ')} exited ${r.status ?? r.signal}`);
}

function runExperiment(e: Experiment, out: string, probeEvery: number, evaluate: boolean): Outcome {
  const dir = join(out, e.name);
  mkdirSync(out, { recursive: true });
  const config = join(out, `${e.name}.config.json`);
  writeFileSync(config, JSON.stringify(e.official, null, 2) + '\n');
  const t0 = performance.now();
  // a folder with a checkpoint but no sweep.json was stopped mid-run: resume it
  const resume = existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('ckpt-'));
  runCli(['train', '--config', config, '--out', dir, '--probe-every', String(probeEvery), ...(resume ? ['--resume'] : []), ...e.flags]);
  const minutes = (performance.now() - t0) / 60_000;
  if (evaluate) runCli(['eval', '--run', dir]);
  const { steps, curve } = readLog(dir);
  const evalJson = evaluate ? (JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { results: Outcome['eval']; }).results : undefined;
  const outcome: Outcome = { ...e, steps, minutes: resume ? NaN : minutes, curve, ...(evalJson ? { eval: evalJson } : {}) };
  writeFileSync(join(dir, 'sweep.json'), JSON.stringify(outcome, null, 2) + '\n');
  return outcome;
}

const f1 = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(1) : '–');

/** The markdown table of every finished experiment under `out`, in name order. */
export function sweepTable(outcomes: Outcome[]): string {
  const lowShotKeys = [...new Set(outcomes.flatMap((o) => Object.keys(o.eval?.trained ?? {}).filter((k) => k.startsWith('low_shot_'))))].sort();
  const head = ['experiment', 'what changed', 'steps', 'minutes', 'probe kNN (best @ step)', 'probe kNN (last)', 'kNN', 'linear',
    ...lowShotKeys.map((k) => k.replace('low_shot_', '')), 'random init kNN / linear'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const o of outcomes) {
    const best = o.curve.reduce<CurvePoint | null>((b, p) => (b && b.knn >= p.knn ? b : p), null);
    const last = o.curve.at(-1);
    const t = o.eval?.trained ?? {};
    const r = o.eval?.random_init ?? {};
    lines.push(`| ${o.name} | ${o.note} | ${o.steps} | ${f1(o.minutes)} | ${best ? `${f1(best.knn)} @ ${best.step}` : '–'} | ${f1(last?.knn)} | ` +
      `${f1(t.knn)} | ${f1(t.linear)} | ${lowShotKeys.map((k) => f1(t[k])).join(' | ')}${lowShotKeys.length ? ' | ' : ''}${f1(r.knn)} / ${
        f1(r.linear)
      } |`);
  }
  return lines.join('\n');
}

function finished(out: string): Outcome[] {
  if (!existsSync(out)) return [];
  return readdirSync(out).filter((n) => existsSync(join(out, n, 'sweep.json'))).sort()
    .map((n) => JSON.parse(readFileSync(join(out, n, 'sweep.json'), 'utf8')) as Outcome);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', default: 'runs/sweep' }, 'probe-every': { type: 'string', default: '250' }, 'no-eval': { type: 'boolean' },
      table: { type: 'boolean' } },
  });
  const out = resolve(values.out);
  const probeEvery = Number(values['probe-every']);
  if (!Number.isInteger(probeEvery) || probeEvery < 0) throw new Error(`sweep: --probe-every needs a whole number ≥ 0, got ${values['probe-every']}`);
  if (!values.table) {
    if (positionals.length === 0) throw new Error('sweep: name one or more experiment files (scripts/recipe/*.json), or --table');
    const experiments = positionals.map(readExperiment);
    for (const e of experiments) {
      if (existsSync(join(out, e.name, 'sweep.json'))) {
        console.log(`sweep: ${e.name} is done (${join(out, e.name, 'sweep.json')})`);
        continue;
      }
      console.log(`sweep: ${e.name}: ${e.note}`);
      runExperiment(e, out, probeEvery, !values['no-eval']);
    }
  }
  console.log(sweepTable(finished(out)));
}
