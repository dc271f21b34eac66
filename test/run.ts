// run: every test/*.test.ts in one process, in sorted order, so the WebGPU device and its
// compiled pipelines are created once. `node --import tsx test/run.ts [filter]` runs the files
// whose names contain `filter`. Exits non-zero when any suite failed. The counting of uvu's
// deferred queue is in suite-count.ts (shared with the browser runner).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { countsOk, deferSuites, newCounts, queueFile, runQueued } from './suite-count.ts';

deferSuites();
// the bounds sanitizer is on in tests (lavapipe drops out-of-bounds writes silently); IJEPA_SANITIZE=0 turns it off
process.env.IJEPA_SANITIZE ??= '1';
const uvu = await import('uvu');

const dir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts') && f.includes(filter)).sort();
if (files.length === 0) {
  console.error(`test/run: no test/*.test.ts file matches "${filter}"`);
  process.exit(1);
}

const counts = newCounts();
for (const f of files) await queueFile(f, () => import(pathToFileURL(join(dir, f)).href), counts);
await runQueued(() => uvu.exec(), counts);

console.log(`Total: ${counts.total}  Passed: ${counts.passed}  Skipped: ${counts.skipped}`);
if (counts.hookFailures) console.error(`test/run: ${counts.hookFailures} leak check(s) failed (see the messages above)`);
if (counts.failed.length) console.error(`test/run: failures in ${counts.failed.join(', ')}`);
process.exitCode = countsOk(counts) && !process.exitCode ? 0 : 1;
