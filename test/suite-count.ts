// suite-count: uvu 0.5.6's deferred queue, counted. With globalThis.UVU_DEFER set before uvu
// loads, `suite.run()` only queues the suite into UVU_QUEUE[UVU_INDEX] (one group per file,
// headed by its name), and `exec()` runs the queue and prints the summary. exec() returns
// nothing: it reports failure through process.exitCode (absent in a browser), and a suite whose
// hook threw during a failing test comes back as passed with fewer tests run than it has. So
// each queued suite is wrapped here to count its results. Used by test/run.ts (Node) and
// test/browser/entry.ts (a browser tab). No Node imports.
type SuiteResult = [errors: string | true, passed: number, skipped: number, total: number];
type QueuedSuite = () => Promise<SuiteResult>;
export type TestGlobals = typeof globalThis & {
  UVU_DEFER?: number;
  UVU_INDEX?: number;
  UVU_QUEUE?: [string | null, ...QueuedSuite[]][];
  __TEST_HOOK_FAILURES__?: number;
};

export interface RunCounts {
  total: number;
  passed: number;
  skipped: number;
  failed: string[];
  hookFailures: number;
}

/** Call before uvu is imported: suites queue instead of running. */
export function deferSuites(): TestGlobals {
  const g = globalThis as TestGlobals;
  g.UVU_DEFER = 1;
  g.UVU_QUEUE ??= [];
  return g;
}

/** Import one test file (by `load`) as its own queue group, named `name`. */
export async function queueFile(name: string, load: () => Promise<unknown>, counts: RunCounts): Promise<void> {
  const g = globalThis as TestGlobals;
  const queue = (g.UVU_QUEUE ??= []);
  g.UVU_INDEX = queue.length;
  queue.push([name]);
  try {
    await load();
  } catch (e) {
    // a file that fails to load fails the run, but the other files still run
    console.error(`${name} failed to load:`, e);
    counts.failed.push(name);
  }
}

/** Wrap every queued suite so that its results add into `counts`, then run them all. */
export async function runQueued(exec: () => Promise<void>, counts: RunCounts): Promise<RunCounts> {
  const g = globalThis as TestGlobals;
  for (const group of g.UVU_QUEUE ?? []) {
    const file = group[0] ?? '(unnamed)';
    for (let k = 1; k < group.length; k++) {
      const run = group[k] as QueuedSuite;
      group[k] = async () => {
        const res = await run();
        const [errors, ran, skip, max] = res;
        counts.total += max;
        counts.passed += ran;
        counts.skipped += skip;
        if (errors !== true || ran < max) counts.failed.push(file);
        return res;
      };
    }
  }
  await exec();
  counts.hookFailures = g.__TEST_HOOK_FAILURES__ ?? 0;
  counts.failed = [...new Set(counts.failed)];
  return counts;
}

export const newCounts = (): RunCounts => ({ total: 0, passed: 0, skipped: 0, failed: [], hookFailures: 0 });
export const countsOk = (c: RunCounts) => c.failed.length === 0 && c.hookFailures === 0 && c.passed === c.total;
