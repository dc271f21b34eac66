// run: every test/*.test.ts in one process, in sorted order, so the WebGPU device and its
// compiled pipelines are created once. `node --import tsx test/run.ts [filter]` runs the files
// whose names contain `filter`. Exits non-zero when any suite failed.
//
// uvu 0.5.6: with globalThis.UVU_DEFER set before uvu loads, `suite.run()` only queues the suite
// into UVU_QUEUE[UVU_INDEX] (one group per file, headed by its name), and `exec()` runs the
// queue and prints the summary. exec() returns nothing: it reports failure through
// process.exitCode, and a suite whose hook threw during a failing test comes back as passed
// with fewer tests run than it has. So each queued suite is wrapped here to count its results.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type SuiteResult = [errors: string | true, passed: number, skipped: number, total: number];
type QueuedSuite = () => Promise<SuiteResult>;
const g = globalThis as typeof globalThis & {
  UVU_DEFER?: number;
  UVU_INDEX?: number;
  UVU_QUEUE?: [string | null, ...QueuedSuite[]][];
  __TEST_HOOK_FAILURES__?: number;
};
g.UVU_DEFER = 1;
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

const queue = (g.UVU_QUEUE ??= []);
const failed: string[] = [];
for (const f of files) {
  g.UVU_INDEX = queue.length;
  queue.push([f]);
  try {
    await import(pathToFileURL(join(dir, f)).href);
  } catch (e) {
    // a file that fails to load fails the run, but the other files still run
    console.error(`test/run: ${f} failed to load:`, e);
    failed.push(f);
  }
}

let total = 0, passed = 0, skipped = 0;
for (const group of queue) {
  const file = group[0] ?? '(unnamed)';
  for (let k = 1; k < group.length; k++) {
    const run = group[k] as QueuedSuite;
    group[k] = async () => {
      const res = await run();
      const [errors, ran, skip, max] = res;
      total += max; passed += ran; skipped += skip;
      if (errors !== true || ran < max) failed.push(file);
      return res;
    };
  }
}

await uvu.exec();

const hookFailures = g.__TEST_HOOK_FAILURES__ ?? 0;
console.log(`Total: ${total}  Passed: ${passed}  Skipped: ${skipped}`);
if (hookFailures) console.error(`test/run: ${hookFailures} leak check(s) failed (see the messages above)`);
if (failed.length) console.error(`test/run: failures in ${[...new Set(failed)].join(', ')}`);
const ok = failed.length === 0 && hookFailures === 0 && passed === total && !process.exitCode;
process.exitCode = ok ? 0 : 1;
