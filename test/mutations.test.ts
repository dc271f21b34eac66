// The planted bugs of scripts/mutate.ts stay applicable: each mutation's text occurs exactly once
// in its file (so none silently stops applying when the code moves), changes it, and maps to
// test files that exist (or to check-step). The mutation run itself is slow: npm run mutate.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMutation, MUTATIONS } from '../scripts/mutations.ts';

const ROOT = join(import.meta.dirname, '..');
const testFiles = readdirSync(import.meta.dirname).filter((f) => f.endsWith('.test.ts'));
const t = suite('mutations');

t('at least 25 mutations, with distinct ids, each applies once and maps to a test', () => {
  assert.ok(MUTATIONS.length >= 25, `${MUTATIONS.length} mutations`);
  assert.is(new Set(MUTATIONS.map((m) => m.id)).size, MUTATIONS.length, 'ids repeat');
  for (const m of MUTATIONS) {
    const text = readFileSync(join(ROOT, m.file), 'utf8');
    assert.not.equal(applyMutation(m, text), text, `${m.id} changes nothing`);
    assert.ok(m.tests.length > 0 || m.checkStep, `${m.id} maps to no test`);
    for (const f of m.tests) assert.ok(testFiles.some((n) => n.includes(f)), `${m.id}: no test file matches "${f}"`);
  }
});

t('a mutation whose text is gone or repeated is an error naming it', () => {
  const m = { id: 'x', file: 'f.ts', from: 'a + b', to: 'a - b', tests: ['data'] };
  assert.is(applyMutation(m, 'return a + b;'), 'return a - b;');
  assert.throws(() => applyMutation(m, 'return a * b;'), /mutate: x: f\.ts holds its text 0 times, expected once/);
  assert.throws(() => applyMutation(m, 'a + b; a + b'), /holds its text 2 times/);
});

t.run();
