// skips: every test that cannot run here is registered with what the machine lacks and why, so
// the runners (test/run.ts, test/browser/run.ts) count and name it: a skip is never a pass.
// uvu counts `.skip`s but names none, and a test that returns early counts as passed, so a test
// that needs something (a package, a binary, an adapter feature) is declared through
// `skipUnless`, which registers it and hands it to uvu's `.skip`. `judgeSkips` then checks the
// two counts against each other: a skip uvu saw that nobody registered (a bare `.skip`, an
// `.only`) fails the run, and with IJEPA_NO_SKIPS=1 (set by .ci/run) so does any skip that is
// not an allowed fact of the adapter. No Node imports: the browser tab uses it too.
import type { Callback, Test } from 'uvu';

export interface Skip {
  /** The test file (its queue group in the runner) and the test's name. */
  file: string;
  test: string;
  /** What is missing: a Debian package, a binary or an adapter feature (one of LACKS or a package name). */
  lacks: string;
  /** Why that stops the test, and how to get it. */
  why: string;
}

/** Adapter features tests wait for; the browser runner's allow-list is keyed by these. */
export const LACKS = {
  subgroups8: 'subgroups of 8 or more',
  f16: 'shader-f16',
} as const;

type SkipGlobals = typeof globalThis & {
  __TEST_SKIPS__?: Skip[];
  UVU_QUEUE?: [string | null, ...unknown[]][];
  UVU_INDEX?: number;
};

/** The skips registered so far in this process (or tab). */
export const registeredSkips = (): Skip[] => ((globalThis as SkipGlobals).__TEST_SKIPS__ ??= []);

/** The test file being loaded: test/suite-count.ts's queueFile heads each file's queue group with its name. */
function currentFile(): string {
  const g = globalThis as SkipGlobals;
  return g.UVU_QUEUE?.[g.UVU_INDEX ?? 0]?.[0] ?? '(no file)';
}

/**
 * `t` itself when `have` holds; otherwise a test function that registers each test given to it
 * as skipped (lacking `lacks`, because `why`) and passes it to uvu's `t.skip`.
 */
export function skipUnless<T>(t: Test<T>, have: boolean, lacks: string, why: string): (name: string, fn: Callback<T>) => void {
  if (have) return t;
  return (name, fn) => {
    registeredSkips().push({ file: currentFile(), test: name, lacks, why });
    t.skip(name, fn);
  };
}

export interface SkipVerdict {
  /** The summary's skip lines: the count, then one line per skip, then what fails the run. */
  lines: string[];
  ok: boolean;
}

/**
 * Judge a run's skips. `uvuSkipped` is uvu's own count; `noSkips` (IJEPA_NO_SKIPS=1) makes any
 * skip fail the run except those whose `lacks` is in `allowed` (what the adapter lacks by design).
 */
export function judgeSkips(skips: readonly Skip[], uvuSkipped: number, opts: { noSkips: boolean; allowed?: readonly string[]; }): SkipVerdict {
  const allowed = new Set(opts.allowed ?? []);
  const lines = [`Skipped: ${uvuSkipped}`];
  for (const s of skips) {
    lines.push(`  ${s.file} / ${s.test}: lacks ${s.lacks}${allowed.has(s.lacks) ? ' (allowed: this adapter lacks it by design)' : ''}; ${s.why}`);
  }
  let ok = true;
  const unnamed = uvuSkipped - skips.length;
  if (unnamed !== 0) {
    ok = false;
    lines.push(`  ${unnamed} skip(s) counted by uvu but not registered (a bare .skip or an .only): declare them with skipUnless from test/skips.ts`);
  }
  const failing = skips.filter((s) => !allowed.has(s.lacks));
  if (opts.noSkips && failing.length > 0) {
    ok = false;
    lines.push(`  IJEPA_NO_SKIPS=1: ${failing.length} skip(s) above are not allowed; install what they lack (bash scripts/setup.sh --test)`);
  }
  return { lines, ok };
}
