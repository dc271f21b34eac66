// The skip accounting (test/skips.ts) and the runner's use of it: each skip is named with what
// it lacks, a skip nobody registered fails the run, IJEPA_NO_SKIPS=1 fails on any skip that the
// adapter does not lack by design. The runner half runs test/run.ts on the fixtures in
// test/fixtures/runner (no GPU: they import only uvu and skips.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { judgeSkips, LACKS, type Skip } from './skips.ts';

const RUN = join(import.meta.dirname, 'run.ts');
const FIXTURES = join(import.meta.dirname, 'fixtures', 'runner');

const t = suite('skip accounting');

const pil: Skip = { file: 'data.test.ts', test: 'resize vs PIL', lacks: 'python3-pil', why: 'no PIL' };
const sg: Skip = { file: 'fused.test.ts', test: 'subgroup kernels agree', lacks: LACKS.subgroups8, why: 'subgroups of 4' };

t('names every skip with what it lacks and why', () => {
  const v = judgeSkips([pil, sg], 2, { noSkips: false });
  assert.ok(v.ok);
  assert.equal(v.lines, [
    'Skipped: 2',
    '  data.test.ts / resize vs PIL: lacks python3-pil; no PIL',
    `  fused.test.ts / subgroup kernels agree: lacks ${LACKS.subgroups8}; subgroups of 4`,
  ]);
});

t('a skip uvu counted that nobody registered fails the run', () => {
  const v = judgeSkips([pil], 3, { noSkips: false });
  assert.not.ok(v.ok);
  assert.match(v.lines.at(-1)!, /2 skip\(s\) counted by uvu but not registered/);
});

t('IJEPA_NO_SKIPS fails on any skip, except what the adapter lacks by design', () => {
  assert.not.ok(judgeSkips([pil], 1, { noSkips: true }).ok);
  assert.not.ok(judgeSkips([sg], 1, { noSkips: true }).ok, 'no allow-list: the subgroup skip fails too');
  const allowed = judgeSkips([sg], 1, { noSkips: true, allowed: [LACKS.subgroups8] });
  assert.ok(allowed.ok);
  assert.match(allowed.lines[1]!, /\(allowed: this adapter lacks it by design\)/);
  const mixed = judgeSkips([sg, pil], 2, { noSkips: true, allowed: [LACKS.subgroups8] });
  assert.not.ok(mixed.ok);
  assert.match(mixed.lines.at(-1)!, /IJEPA_NO_SKIPS=1: 1 skip\(s\) above are not allowed/);
  assert.ok(judgeSkips([], 0, { noSkips: true }).ok);
});

const runFixture = (filter: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', RUN, '--dir', FIXTURES, filter], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, IJEPA_NO_SKIPS: '', ...env },
  });

t('test/run.ts prints each registered skip and passes; with IJEPA_NO_SKIPS=1 it fails', () => {
  const r = runFixture('skip-registered');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Total: 1 {2}Passed: 1\nSkipped: 1\n {2}skip-registered\.test\.ts \/ needs a unicorn: lacks a-unicorn; no unicorn here/);
  const strict = runFixture('skip-registered', { IJEPA_NO_SKIPS: '1' });
  assert.is(strict.status, 1, strict.stdout + strict.stderr);
  assert.match(strict.stdout, /IJEPA_NO_SKIPS=1: 1 skip\(s\) above are not allowed/);
});

t('test/run.ts fails on a bare uvu .skip', () => {
  const r = runFixture('skip-bare');
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /1 skip\(s\) counted by uvu but not registered/);
});

t.run();
