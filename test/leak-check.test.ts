// checkLeaks with a failing test: the test's own assertion is printed first, then the leak, and
// the rest of the suite still runs (before, uvu swallowed the assertion together with the
// leak's throw and stopped the suite, printing only a count). Runs test/run.ts on the fixture
// test/fixtures/runner/leak-after-failure.test.ts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const t = suite('leak check and the first failure');

t('a failing test that also leaks shows its assertion, then the leak; the suite goes on', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'run.ts'), '--dir',
    join(import.meta.dirname, 'fixtures', 'runner'), 'leak-after-failure'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, IJEPA_NO_SKIPS: '' },
  });
  const out = r.stdout + r.stderr;
  assert.is(r.status, 1, out);
  const first = out.indexOf('the first failure: 1 + 1 is not 3');
  const leak = out.indexOf('and then leak in "fixture: leaks / fails, then leaks"');
  assert.ok(first >= 0, `the assertion is printed:\n${out}`);
  assert.ok(leak > first, `the leak follows the assertion:\n${out}`);
  assert.match(out, /leak in "fixture: leaks \/ only leaks"/);
  assert.match(out, /\(1 \/ 3\)/, 'the third test ran and passed');
  assert.match(out, /2 leak check\(s\) failed/);
});

t.run();
