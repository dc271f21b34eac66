// scripts/sweep.ts (issue #12 item 2), end to end on the micro preset: experiment files train with a
// probe curve, a finished experiment is not run again, a stopped one resumes from its checkpoint,
// the table shows each, and a malformed file is refused naming it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readExperiment } from '../scripts/sweep.ts';

const SWEEP = join(import.meta.dirname, '..', 'scripts', 'sweep.ts');
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-sweep-'));
const out = join(tmp, 'out');
const sweep = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', SWEEP, ...args, '--out', out, '--probe-every', '2', '--no-eval'], { encoding: 'utf8',
    timeout: 240_000 });
const experiment = (name: string, body: object) => {
  const f = join(tmp, `${name}.json`);
  writeFileSync(f, JSON.stringify(body));
  return f;
};
const micro = (steps: number) => ['--preset', 'micro', '--steps', String(steps), '--watch-every', '0'];

const t = suite('scripts/sweep.ts');
t.after(() => rmSync(tmp, { recursive: true, force: true }));

t('each experiment trains with its official keys and flags, logs a curve, and lands in the table', () => {
  const a = experiment('batch4', { sweep: { note: 'batch 4', flags: micro(2) }, data: { batch_size: 4 } });
  const b = experiment('batch6', { sweep: { note: 'batch 6', flags: micro(2) }, data: { batch_size: 6 } });
  const r = sweep([a, b]);
  assert.is(r.status, 0, r.stderr);
  for (const [name, batch] of [['batch4', 4], ['batch6', 6]] as const) {
    const o = JSON.parse(readFileSync(join(out, name, 'sweep.json'), 'utf8'));
    assert.is(o.steps, 2);
    assert.is(o.curve.length, 1, 'one probe at step 2');
    assert.ok(o.curve[0].knn > 0 && o.curve[0].knn <= 100);
    // the official key reached the run: its saved config has the experiment's batch
    assert.is(JSON.parse(readFileSync(join(out, name, 'config.json'), 'utf8')).preset.optim.batch, batch);
    assert.match(r.stdout, new RegExp(`\\| ${name} \\| batch ${batch} \\| 2 \\| [0-9.]+ \\| [0-9.]+ @ 2 \\|`));
  }
});

t('a finished experiment is skipped; one stopped after its checkpoint resumes and extends', () => {
  const a = join(tmp, 'batch4.json');
  let r = sweep([a]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /sweep: batch4 is done/);
  // as if the sweep had been stopped after training: the checkpoint is there, sweep.json is not
  unlinkSync(join(out, 'batch4', 'sweep.json'));
  writeFileSync(a, JSON.stringify({ sweep: { note: 'batch 4', flags: micro(3) }, data: { batch_size: 4 } }));
  r = sweep([a]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /resuming from .*ckpt-0000002/);
  const o = JSON.parse(readFileSync(join(out, 'batch4', 'sweep.json'), 'utf8'));
  assert.is(o.steps, 3);
  assert.is(o.minutes, null, 'a resumed run has no single wall time');
});

t('a malformed experiment file is refused naming the file and the field', () => {
  const bad = experiment('bad', { sweep: { flags: ['--out', 'x'] } });
  assert.throws(() => readExperiment(bad), (e: Error) => e.message.includes(bad) && /--out/.test(e.message));
  const notObject = experiment('list', [1, 2]);
  assert.throws(() => readExperiment(notObject), (e: Error) => e.message.includes(notObject) && /JSON object/.test(e.message));
  const flags = experiment('flags', { sweep: { flags: '--steps 3' } });
  assert.throws(() => readExperiment(flags), /sweep\.flags must be an array/);
  const r = sweep([bad]);
  assert.is(r.status, 1);
  assert.ok(!existsSync(join(out, 'bad')));
});

t.run();
