// mutate: planted-bug testing of the suite. Copies the working tree (tracked and untracked,
// not ignored files; node_modules linked) to a temporary folder, checks that the mapped tests
// pass there unmutated (before and after the run), then applies each mutation of scripts/mutations.ts alone, runs the test
// files it maps to (and `ijepa check-step` on the golden bundles where it concerns the step)
// until one fails, and restores the file. A mutation is killed when a command fails (or times
// out), survived when all pass. Prints the score (killed / planted) and writes the table to
// bench/MUTATION.md. Slow (minutes): run it with nice.
//   node --import tsx scripts/mutate.ts [--only id,id] [--out FILE]
// Deliberately not here: mutating the TypeScript at large (StrykerJS does: npm run mutate:ts),
// or anything that reads or writes the repository itself besides --out.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { applyMutation, MUTATIONS, type Mutation } from './mutations.ts';

const ROOT = join(import.meta.dirname, '..');
const TIMEOUT_MS = 10 * 60_000;
const { values } = parseArgs({ options: { only: { type: 'string' }, out: { type: 'string', default: join(ROOT, 'bench', 'MUTATION.md') } } });
const only = values.only?.split(',');
const planted = only ? MUTATIONS.filter((m) => only.includes(m.id)) : MUTATIONS;
if (only) {
  for (const id of only) {
    if (!MUTATIONS.some((m) => m.id === id)) throw new Error(`mutate: --only names ${id}, which is not in scripts/mutations.ts`);
  }
}

interface Command {
  label: string;
  args: string[];
}
const bundles = () =>
  readdirSync(join(ROOT, 'test', 'golden', 'bundles')).filter((f) => f.endsWith('.safetensors')).sort()
    .map((f) => join('test', 'golden', 'bundles', f));
function commands(m: Mutation): Command[] {
  const out: Command[] = m.tests.map((t) => ({ label: t, args: ['--import', 'tsx', 'test/run.ts', t] }));
  if (m.checkStep) out.push({ label: 'check-step', args: ['--import', 'tsx', 'bin/ijepa.mjs', 'check-step', ...bundles()] });
  return out;
}

/** Run the commands in `dir` until one fails; the label of that one, or null when all pass. */
function firstFailure(dir: string, cmds: readonly Command[]): string | null {
  for (const c of cmds) {
    const r = spawnSync(process.execPath, c.args, { cwd: dir, encoding: 'utf8', timeout: TIMEOUT_MS, env: { ...process.env, IJEPA_NO_SKIPS: '' } });
    if (r.status !== 0) return r.status === null ? `${c.label} (timed out)` : c.label;
  }
  return null;
}

function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ijepa-mutate-'));
  const ls = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (ls.status !== 0) throw new Error(`mutate: git ls-files failed: ${ls.stderr}`);
  for (const f of ls.stdout.split('\0').filter((f) => f && f !== 'node_modules')) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    try {
      cpSync(join(ROOT, f), join(dir, f));
    } catch { /* listed by git but deleted in the working tree */ }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim(); // what copyTree copies
const dir = copyTree();
try {
  // every mutation must apply before any test runs, so a stale one fails in seconds
  for (const m of planted) applyMutation(m, readFileSync(join(dir, m.file), 'utf8'));
  const all = new Map<string, Command>();
  for (const m of planted) for (const c of commands(m)) all.set(c.label, c);
  console.log(`mutate: baseline, ${all.size} commands unmutated in ${dir}`);
  const base = firstFailure(dir, [...all.values()]);
  if (base) throw new Error(`mutate: ${base} fails without any mutation; fix that first (the score would mean nothing)`);

  const rows: { m: Mutation; killedBy: string | null; }[] = [];
  for (const m of planted) {
    const path = join(dir, m.file);
    const original = readFileSync(path, 'utf8');
    writeFileSync(path, applyMutation(m, original));
    try {
      const killedBy = firstFailure(dir, commands(m));
      rows.push({ m, killedBy });
      console.log(`mutate: ${m.id.padEnd(36)} ${killedBy ? `killed by ${killedBy}` : 'SURVIVED'}`);
    } finally {
      writeFileSync(path, original);
    }
  }
  // a kill is only a kill if the tree still passes unmutated: a machine that broke mid-run
  // (a missing package, a full disk) fails every command and would score 100 %
  const after = firstFailure(dir, [...all.values()]);
  if (after) throw new Error(`mutate: ${after} fails without any mutation after the run; the kills above mean nothing, run again`);
  const killed = rows.filter((r) => r.killedBy).length;
  const score = `${killed} / ${rows.length} killed (${((100 * killed) / rows.length).toFixed(0)} %)`;
  console.log(`mutate: ${score}`);
  const md = [
    '# Planted-bug (mutation) score',
    '',
    `\`node --import tsx scripts/mutate.ts\` at ${commit} (plus uncommitted changes, if any): **${score}**.`,
    'Each mutation is applied alone to a copy of the tree; it is killed when one of its test files',
    '(test/run.ts filters) or `ijepa check-step` on the golden bundles fails. The list and the files each',
    'mutation maps to are in scripts/mutations.ts.',
    '',
    '| mutation | file | killed by |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.m.id} | ${r.m.file} | ${r.killedBy ?? '**survived**'} |`),
    '',
  ].join('\n');
  writeFileSync(values.out, md);
  console.log(`mutate: wrote ${values.out}`);
  process.exitCode = killed === rows.length ? 0 : 1;
} finally {
  unlinkSync(join(dir, 'node_modules')); // the link first, so nothing can follow it into the real folder
  rmSync(dir, { recursive: true, force: true });
}
