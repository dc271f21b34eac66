// entry: the op suite in a browser tab. Bundled by test/browser/run.ts with esbuild (platform
// browser, so a Node import anywhere on this path fails the bundle), it queues the test files
// that need no Node (the f64-reference and finite-difference op checks, fused ops, optimizers,
// leak checks, one I-JEPA step against each PyTorch golden bundle) and runs them with uvu, then
// leaves the counts, the registered skips (test/skips.ts) and the fixed optimizer run of
// test/optim-agreement.ts in window.__ijepaTests.
import { optimizerRun } from '../optim-agreement.ts';
import { registeredSkips, type Skip } from '../skips.ts';
import { countsOk, deferSuites, newCounts, queueFile, runQueued, type RunCounts } from '../suite-count.ts';
import { deviceInfo, initWebGPU } from './device-shim.ts';

/** The test files that run in a browser (none imports Node). */
const FILES: Record<string, () => Promise<unknown>> = {
  'autograd.test.ts': () => import('../autograd.test.ts'),
  'collapse.test.ts': () => import('../collapse.test.ts'),
  'f16.test.ts': () => import('../f16.test.ts'),
  'fused.test.ts': () => import('../fused.test.ts'),
  'matmul-kernels.test.ts': () => import('../matmul-kernels.test.ts'),
  'ops-elementwise.test.ts': () => import('../ops-elementwise.test.ts'),
  'ops-errors.test.ts': () => import('../ops-errors.test.ts'),
  'ops-limits.test.ts': () => import('../ops-limits.test.ts'),
  'ops-movement.test.ts': () => import('../ops-movement.test.ts'),
  'ops-nn.test.ts': () => import('../ops-nn.test.ts'),
  'ops-reduce.test.ts': () => import('../ops-reduce.test.ts'),
  'optim.test.ts': () => import('../optim.test.ts'),
  'schedules.test.ts': () => import('../schedules.test.ts'),
  'step-parity.test.ts': () => import('../step-parity.test.ts'),
};

interface BrowserResult extends RunCounts {
  ok: boolean;
  skips: Skip[];
  adapter: unknown;
  features: string[];
  featureLevel: string;
  optimizer: number[];
  error?: string;
}
const w = globalThis as typeof globalThis & { __ijepaTests?: BrowserResult; };

try {
  await initWebGPU(); // before any test file, so a missing adapter is the one error reported
  deferSuites();
  const uvu = await import('uvu');
  const filter = new URLSearchParams(location.search).get('filter') ?? '';
  const counts = newCounts();
  for (const [name, load] of Object.entries(FILES)) if (name.includes(filter)) await queueFile(name, load, counts);
  await runQueued(() => uvu.exec(), counts);
  const optimizer = Array.from(await optimizerRun());
  const info = deviceInfo();
  const a = info.adapter;
  w.__ijepaTests = {
    ...counts,
    ok: countsOk(counts),
    skips: registeredSkips(),
    optimizer,
    features: info.features,
    featureLevel: info.featureLevel,
    adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description },
  };
} catch (e) {
  w.__ijepaTests = { ...newCounts(), ok: false, skips: [], adapter: null, features: [], featureLevel: '', optimizer: [],
    error: String((e as Error)?.stack ?? e) };
}
