// kill-chain: kill -9 a training run again and again, resume it each time, and check that nothing
// was lost (issue #14). A micro run (`--preset micro --watch-every 0 --ckpt-every 1`) is killed
// with SIGKILL --kills times, each kill followed by `train --resume` in the same folder, until the
// run finishes; then the final checkpoint is compared tensor for tensor with an uninterrupted run
// of the same seed and flags, the log is checked for duplicate or missing steps (and its losses
// against the uninterrupted run's), and the folder for `*.tmp-*` orphans and a stale lock.
//
//   node --import tsx scripts/kill-chain.ts [--kills 20] [--steps 400] [--seed 0] [--keep] [--out bench/HOSTILE.md]
//
// The kill moments come from a seeded PRNG (--seed; model/data/prng.ts's Rng): each process runs a random
// 0–15 steps (counted on its progress lines; 0: killed while it starts up, after "resuming from")
// and a random fraction of a step more. Every third kill then waits for that process's checkpoint
// temp file (`ckpt-*.safetensors.tmp-PID.N`) to appear and kills at once, so it lands during a
// checkpoint write. 15 steps at most per process keeps 20 kills inside the 400 steps whatever the
// machine's speed. Writes bench/HOSTILE.md's "kill -9 chain" section (scripts/hostile.ts owns the
// "Hostile inputs" one). Exits 1 unless every kill was survived and the final state is identical.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeSafetensors } from '../engine/index.ts';
import { Rng } from '../model/data/index.ts';
import { writeSection } from './markdown-section.ts';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ijepa.mjs');
const MAX_STEPS_PER_PROCESS = 15;
/** Every third kill (the 3rd, 6th, ...) is aimed at a checkpoint write. */
const MID_WRITE_EVERY = 3;
/** How long a mid-write kill waits for a temp file before it kills anyway. */
const MID_WRITE_WAIT_MS = 60_000;
const PROCESS_TIMEOUT_MS = 300_000;

// ---- options --------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
function usage(why: string): never {
  console.error(`kill-chain: ${why}\nusage: node --import tsx scripts/kill-chain.ts [--kills N] [--steps N] [--seed N] [--keep] [--out FILE]`);
  process.exit(2);
}
const opts: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (a === '--keep') {
    opts.keep = '1';
    continue;
  }
  if (!['--kills', '--steps', '--seed', '--out'].includes(a)) usage(`unknown argument '${a}'`);
  if (argv[i + 1] === undefined) usage(`${a} needs a value`);
  opts[a.slice(2)] = argv[++i]!;
}
const int = (name: string, dflt: number, min: number) => {
  const v = Number(opts[name] ?? dflt);
  if (!Number.isInteger(v) || v < min) usage(`--${name} '${opts[name]}' must be an integer ≥ ${min}`);
  return v;
};
const KILLS = int('kills', 20, 1), SEED = int('seed', 0, 0);
const STEPS = int('steps', 400, 1);
if (STEPS <= KILLS * MAX_STEPS_PER_PROCESS) {
  usage(
    `--steps ${STEPS} must exceed --kills × ${MAX_STEPS_PER_PROCESS} (${
      KILLS * MAX_STEPS_PER_PROCESS
    }), so that the run cannot finish before the last kill`,
  );
}
const reportFile = opts.out ?? join(ROOT, 'bench', 'HOSTILE.md');
const FLAGS = ['--preset', 'micro', '--watch-every', '0', '--ckpt-every', '1', '--log-every', '1', '--seed', '0', '--steps', String(STEPS)];

// ---- one process --------------------------------------------------------------------------------
interface Kill {
  afterSteps: number;
  fraction: number;
  midWrite: boolean;
}
interface Life {
  args: string[];
  kill: Kill | null;
  pid: number;
  code: number | null;
  signal: string | null;
  stderr: string;
  /** The step the process resumed from (null: a new run). */
  resumedFrom: number | null;
  /** Steps it logged on its progress lines. */
  stepsRun: number;
  /** Whether its checkpoint temp file existed when the kill was sent. */
  tempAtKill: boolean;
  /** Its temp files still there after it died. */
  tempsLeft: string[];
}

const tempsOf = (dir: string, pid: number) => readdirSync(dir).filter((n) => n.includes(`.tmp-${pid}.`));

/** Run `ijepa ARGS` in `dir`; with `kill`, SIGKILL it at that moment. */
function live(args: string[], dir: string, kill: Kill | null): Promise<Life> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const pid = child.pid!;
    let stderr = '', stepsRun = 0, lastStepAt = 0, stepMs = 100, armed = false, tempAtKill = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
    const fire = () => {
      if (child.exitCode !== null) return;
      tempAtKill = tempsOf(dir, pid).length > 0;
      child.kill('SIGKILL');
    };
    // poll for this process's checkpoint temp file and kill the moment one is there
    const killMidWrite = (until: number) => {
      if (child.exitCode !== null) return;
      if (tempsOf(dir, pid).some((n) => n.startsWith('ckpt-')) || performance.now() > until) {
        fire();
        return;
      }
      setImmediate(() => killMidWrite(until));
    };
    const arm = () => {
      armed = true;
      setTimeout(() => (kill!.midWrite ? killMidWrite(performance.now() + MID_WRITE_WAIT_MS) : fire()), kill!.fraction * stepMs);
    };
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        // a resume may be killed before its first step (afterSteps 0): while it cuts the log, loads, compiles
        if (/^resuming from /.test(line) && kill && !armed && kill.afterSteps === 0) arm();
        if (!/^step \d+\/\d+/.test(line)) continue;
        const now = performance.now();
        if (stepsRun > 0) stepMs = 0.7 * stepMs + 0.3 * (now - lastStepAt);
        lastStepAt = now;
        stepsRun++;
        // a new run is killed only once its first checkpoint is on disk: before it there is nothing to resume
        const ready = args.includes('--resume') || readdirSync(dir).some((n) => /^ckpt-\d+\.safetensors$/.test(n));
        if (kill && !armed && stepsRun >= kill.afterSteps && ready) arm();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const m = /resuming from \S+ at step (\d+)/.exec(stderr);
      res({ args, kill, pid, code, signal, stderr, resumedFrom: m ? Number(m[1]) : null, stepsRun, tempAtKill, tempsLeft: tempsOf(dir, pid) });
    });
  });
}

// ---- comparing the two runs ---------------------------------------------------------------------
interface LogRecord {
  step: number;
  loss: number;
}
const readLog = (dir: string): LogRecord[] => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);

/** Differences between two checkpoints: tensors (names, shapes, bytes) and the resume metadata. */
function compareCheckpoints(a: string, b: string): { tensors: number; problems: string[]; } {
  const fa = decodeSafetensors(readFileSync(a), a), fb = decodeSafetensors(readFileSync(b), b);
  const problems: string[] = [];
  const names = new Set([...fa.tensors.keys(), ...fb.tensors.keys()]);
  for (const n of names) {
    const x = fa.tensors.get(n), y = fb.tensors.get(n);
    if (!x || !y) {
      problems.push(`${n} is in one checkpoint only`);
      continue;
    }
    if (x.shape.join(',') !== y.shape.join(',')) problems.push(`${n}: shape [${x.shape}] vs [${y.shape}]`);
    else if (!Buffer.from(x.data).equals(Buffer.from(y.data))) {
      const p = x.toFloat32(), q = y.toFloat32();
      let worst = 0;
      for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i]! - q[i]!));
      problems.push(`${n}: bytes differ (largest difference ${worst.toExponential(2)})`);
    }
  }
  for (const k of ['step', 'opt_steps', 'state', 'config']) {
    if (fa.metadata[k] !== fb.metadata[k]) problems.push(`metadata '${k}' differs`);
  }
  return { tensors: names.size, problems };
}

// ---- the chain ----------------------------------------------------------------------------------
async function main(): Promise<void> {
  const T = mkdtempSync(join(tmpdir(), 'ijepa-kill-chain-'));
  const tStart = performance.now();
  const ref = join(T, 'uninterrupted'), dir = join(T, 'killed');
  console.error(`kill-chain: ${KILLS} kills of a ${STEPS}-step micro run (kill seed ${SEED}); temp folder ${T}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, 'train', ...FLAGS, '--out', ref], { encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) throw new Error(`the uninterrupted run failed (${r.status}):\n${r.stderr}`);
  const refSecs = (performance.now() - t0) / 1000;
  console.error(`kill-chain: uninterrupted run: ${STEPS} steps in ${refSecs.toFixed(0)} s`);

  const rng = new Rng(SEED);
  const lives: Life[] = [];
  const orphanKept: string[] = [];
  let survived = 0;
  let broken: string | null = null;
  for (let k = 0; k <= KILLS && broken === null; k++) {
    // 0–15 steps (a new run: 1–15, as it needs a checkpoint first), then a fraction of a step
    const kill = k < KILLS
      ? { afterSteps: rng.int(MAX_STEPS_PER_PROCESS + 1) || (k === 0 ? 1 : 0), fraction: rng.next(), midWrite: (k + 1) % MID_WRITE_EVERY === 0 }
      : null;
    const args = k === 0 ? ['train', ...FLAGS, '--out', dir] : ['train', '--resume', '--out', dir];
    const life = await live(args, dir, kill);
    // the previous process's orphans must be gone: each start removes dead writers' temp files
    const kept = lives.at(-1)?.tempsLeft.filter((n) => existsSync(join(dir, n))) ?? [];
    if (kept.length) orphanKept.push(...kept);
    lives.push(life);
    // kill k is survived when the next process read the newest checkpoint ("resuming from ... at
    // step N") and then either ran until its own kill or finished the run
    if (k > 0) {
      const went = life.resumedFrom !== null && (life.signal === 'SIGKILL' || life.code === 0);
      if (went) survived++;
      else {broken = `after kill ${k}, the resume ${life.signal ? `was killed by ${life.signal}` : `exited ${life.code}`}: ${
          life.stderr.trim().split('\n').at(-1)
        }`;}
    }
    if (kill && life.signal !== 'SIGKILL') {
      broken ??= `process ${k + 1} ended by itself (${life.code}) before its kill: ${life.stderr.trim().split('\n').at(-1)}`;
    }
    console.error(
      `  ${k < KILLS ? `kill ${k + 1}` : 'final'}: pid ${life.pid} ${
        life.resumedFrom === null ? 'new run' : `resumed at step ${life.resumedFrom}`
      }, ran ${life.stepsRun} step(s), `
        + `${life.signal ?? `exit ${life.code}`}${
          kill
            ? `${kill.midWrite ? ' (aimed mid-write)' : ''}${life.tempAtKill ? ', temp file present at the kill' : ''}${
              life.tempsLeft.length ? `, left ${life.tempsLeft.join(', ')}` : ''
            }`
            : ''
        }`,
    );
  }

  // ---- the verdict --------------------------------------------------------------------------------
  const problems: string[] = broken ? [broken] : [];
  const final = `ckpt-${String(STEPS).padStart(7, '0')}.safetensors`;
  let tensors = 0;
  if (!broken) {
    if (!existsSync(join(dir, final))) problems.push(`no ${final} in the killed run`);
    else {
      const c = compareCheckpoints(join(ref, final), join(dir, final));
      tensors = c.tensors;
      problems.push(...c.problems);
    }
  }
  const log = existsSync(join(dir, 'log.jsonl')) ? readLog(dir) : [];
  const refLoss = new Map(readLog(ref).map((x) => [x.step, x.loss]));
  const steps = log.map((x) => x.step);
  const duplicates = steps.length - new Set(steps).size;
  const missing = Array.from({ length: STEPS }, (_, i) => i + 1).filter((s) => !steps.includes(s));
  const lossDiffs = log.filter((x) => refLoss.get(x.step) !== x.loss).length;
  const orphans = readdirSync(dir).filter((n) => /\.tmp-\d+/.test(n));
  const lockLeft = existsSync(join(dir, '.lock'));
  const stateIdentical = !broken && problems.length === 0;
  if (duplicates) problems.push(`log.jsonl holds ${duplicates} duplicate step(s)`);
  if (missing.length) problems.push(`log.jsonl misses ${missing.length} step(s) (first ${missing[0]})`);
  if (lossDiffs) problems.push(`${lossDiffs} logged loss(es) differ from the uninterrupted run's`);
  if (orphans.length) problems.push(`temp files left: ${orphans.join(', ')}`);
  if (orphanKept.length) problems.push(`temp files a later run did not remove: ${orphanKept.join(', ')}`);
  if (lockLeft) problems.push("the run folder's .lock is left");
  const aimedMid = lives.filter((l) => l.kill?.midWrite).length;
  const midWrite = lives.filter((l) => l.kill && l.tempAtKill).length;
  const leftTemp = lives.filter((l) => l.kill && l.tempsLeft.length > 0).length;
  const secs = (performance.now() - tStart) / 1000;
  const headline = `${survived}/${KILLS} kills survived, final state identical: ${stateIdentical ? 'yes' : 'no'}`;
  console.log(headline);
  for (const p of problems) console.log(`  problem: ${p}`);

  const body = [
    `Written by \`node --import tsx scripts/kill-chain.ts\` on ${new Date().toISOString().slice(0, 10)} (${
      secs.toFixed(0)
    } s on this machine, the uninterrupted run ${refSecs.toFixed(0)} s of it).`,
    `A micro run (\`ijepa train ${FLAGS.join(' ')}\`) was killed with SIGKILL ${KILLS} times, each kill followed by`,
    '`ijepa train --resume --out DIR` in the same folder, until the run finished. The kill moments come from a seeded PRNG',
    `(seed ${SEED}): each process ran a random 0–${MAX_STEPS_PER_PROCESS} steps (0: killed while starting up) and a random fraction`,
    "of a step more; every third kill then waited for the process's checkpoint temp file to appear and killed at once",
    '(mid-write). The final checkpoint was compared tensor for tensor (bytes) with an uninterrupted run of the same seed and',
    'flags, with its metadata (step, AdamW step counts, collator and loader state, config); the log was checked step by step',
    "against the uninterrupted run's.",
    '',
    `**${headline}.**`,
    '',
    `- kills aimed at a checkpoint write: ${aimedMid}; kills that found a checkpoint temp file on disk (mid-write): ${midWrite} of ${KILLS}; kills that left it behind as an orphan: ${leftTemp}${
      leftTemp ? `, ${orphanKept.length === 0 ? 'each' : 'not all'} removed when the next run started` : ''
    }`,
    `- final checkpoint \`${final}\`: ${
      stateIdentical
        ? `all ${tensors} tensors byte-identical to the uninterrupted run's, metadata equal`
        : problems.filter((p) => !/log|temp|lock/.test(p)).join('; ') || 'not compared'
    }`,
    `- log.jsonl: ${log.length} records, ${duplicates} duplicate step(s), ${missing.length} missing; losses equal to the uninterrupted run's at ${
      log.length - lossDiffs
    } of ${log.length} steps`,
    `- left in the run folder at the end: ${orphans.length} temp file(s), ${lockLeft ? 'a stale .lock' : 'no .lock'}`,
    '',
    '| # | process | started at | steps run | kill aimed | ended | temp file at the kill | left behind |',
    '|---|---|---|---|---|---|---|---|',
    ...lives.map((l, i) =>
      `| ${i < KILLS ? i + 1 : 'final'} | ${l.args.includes('--resume') ? 'resume' : 'new run'} | step ${l.resumedFrom ?? 0} | ${l.stepsRun} | ${
        l.kill ? `after ${l.kill.afterSteps} + ${l.kill.fraction.toFixed(2)} step${l.kill.midWrite ? ', mid-write' : ''}` : ''
      } | ${l.signal ?? `exit ${l.code}`} | ${l.kill ? (l.tempAtKill ? 'yes' : 'no') : ''} | ${
        l.tempsLeft.join(', ').replace(/\.tmp-\d+/g, '.tmp-PID')
      } |`
    ),
  ].join('\n');
  writeSection(reportFile, 'Hostile inputs and a kill -9 chain (issue #14)', 'kill -9 chain', body);
  console.log(`wrote ${reportFile}`);
  if (!opts.keep) rmSync(T, { recursive: true, force: true });
  process.exitCode = survived === KILLS && stateIdentical && problems.length === 0 ? 0 : 1;
}

await main();
