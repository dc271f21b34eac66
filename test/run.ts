// run: every test/*.test.ts in one process, in sorted order, so the WebGPU device and its
// compiled pipelines are created once. `node --import tsx test/run.ts [filter]` runs the files
// whose names contain `filter`. Exits non-zero when any suite failed. The counting of uvu's
// deferred queue is in suite-count.ts (shared with the browser runner). Skips are registered and
// judged in skips.ts: the summary names each one, an unregistered skip fails the run, and so does
// any skip when IJEPA_NO_SKIPS=1 (.ci/run). `--dir DIR` runs DIR/*.test.ts instead of test/ (the
// runner's own tests use it on fixtures).
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countsOk, deferSuites, newCounts, queueFile, runQueued } from './suite-count.ts';
import { judgeSkips, registeredSkips } from './skips.ts';

deferSuites();
// the bounds sanitizer is on in tests (lavapipe drops out-of-bounds writes silently); IJEPA_SANITIZE=0 turns it off
process.env.IJEPA_SANITIZE ??= '1';
const uvu = await import('uvu');

const args = process.argv.slice(2);
const dirArg = args.indexOf('--dir');
const dirValue = dirArg >= 0 ? args.splice(dirArg, 2)[1] : undefined;
if (dirArg >= 0 && !dirValue) {
  console.error('test/run: --dir needs a folder (usage: test/run.ts [filter] [--dir DIR])');
  process.exit(2);
}
const dir = dirValue ? resolve(dirValue) : dirname(fileURLToPath(import.meta.url));
const filter = args[0] ?? '';
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts') && f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`test/run: no ${dir}/*.test.ts file matches "${filter}"`);
  process.exit(1);
}

const counts = newCounts();
for (const f of files) await queueFile(f, () => import(pathToFileURL(join(dir, f)).href), counts);
await runQueued(() => uvu.exec(), counts);

const skips = judgeSkips(registeredSkips(), counts.skipped, { noSkips: process.env.IJEPA_NO_SKIPS === '1' });
console.log(`Total: ${counts.total}  Passed: ${counts.passed}`);
console.log(skips.lines.join('\n'));
if (counts.hookFailures) console.error(`test/run: ${counts.hookFailures} leak check(s) failed (see the messages above)`);
if (counts.failed.length) console.error(`test/run: failures in ${counts.failed.join(', ')}`);
if (!skips.ok) console.error('test/run: the skips above fail the run');
process.exitCode = countsOk(counts) && skips.ok && !process.exitCode ? 0 : 1;
