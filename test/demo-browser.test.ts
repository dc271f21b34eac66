// demo:browser, headless: the I-JEPA page trains the micro preset in Chromium (Dawn's GLES
// backend, the faster of the two browser adapters here) and its loss falls.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const t = suite('demo:browser');

t('the page trains micro on Fashion-MNIST in a tab and the loss falls', () => {
  const script = join(import.meta.dirname, '..', 'scripts', 'demo-browser.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--headless', '--steps', '24'], { encoding: 'utf8', timeout: 300_000 });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { steps: number; losses: number[]; std: number[]; rank: number[]; };
  assert.is(out.steps, 24);
  assert.ok(out.losses.every(Number.isFinite), 'finite losses');
  const first = out.losses.slice(0, 4).reduce((a, b) => a + b) / 4, last = out.losses.slice(-4).reduce((a, b) => a + b) / 4;
  assert.ok(last < 0.8 * first, `loss falls: first four ${first.toFixed(4)}, last four ${last.toFixed(4)}`);
  assert.ok(out.std.length >= 2 && out.std.every((s) => s > 0), 'the collapse watch reported');
});

t.run();
