// browser/run: the op suite inside headless Chromium, on each adapter Chromium reaches here
// (scripts/chromium.ts), driven from Node. It bundles test/browser/entry.ts for the browser
// platform (so a Node import in the engine fails right here), serves it from 127.0.0.1, runs
// it once per adapter and prints which tests ran on which adapter. Each tab also runs the fixed
// optimizer run of test/optim-agreement.ts, which must agree with Node's (Dawn on Vulkan) to
// 1e-6. Exits non-zero when any suite failed on any adapter, when an adapter gave no device, when
// the optimizer results disagree, or when the skips fail (test/skips.ts: a skip nobody registered;
// with IJEPA_NO_SKIPS=1, any skip for something other than what the adapter lacks by design,
// listed in ADAPTER_LACKS).
// `node --import tsx test/browser/run.ts [filter] [--adapter swiftshader|gles]`
import { build, type Plugin } from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initWebGPU } from '../../engine/device/node.ts';
import { maxAbsDiff, optimizerRun } from '../optim-agreement.ts';
import { BROWSER_ADAPTERS, FEATURE_LEVEL, launchChromium, type BrowserAdapter } from '../../scripts/chromium.ts';
import { serve } from '../../scripts/static-server.ts';
import { judgeSkips, LACKS, type Skip } from '../skips.ts';

const dir = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const adapterArg = args.indexOf('--adapter');
const only = adapterArg >= 0 ? args.splice(adapterArg, 2)[1] : undefined;
if (only !== undefined && !BROWSER_ADAPTERS.includes(only as BrowserAdapter)) {
  console.error(`test/browser/run: --adapter '${only}' is not one of ${BROWSER_ADAPTERS.join(', ')}`);
  process.exit(2);
}
const adapters = only ? [only as BrowserAdapter] : BROWSER_ADAPTERS;
const filter = args[0] ?? '';
const TIMEOUT_MS = Number(process.env.IJEPA_BROWSER_TIMEOUT_MS ?? 15 * 60_000);

// The tests create their device through engine/device/node.ts and read the golden bundles
// through test/golden-bundles.ts; in the tab both are shims.
const shims: Plugin = {
  name: 'shims',
  setup(b) {
    b.onResolve({ filter: /device\/node\.ts$/ }, () => ({ path: join(dir, 'device-shim.ts') }));
    b.onResolve({ filter: /\/golden-bundles\.ts$/ }, () => ({ path: join(dir, 'golden-bundles-shim.ts') }));
  },
};
const bundle = await build({
  entryPoints: [join(dir, 'entry.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  plugins: [shims],
  logLevel: 'error',
});
const js = bundle.outputFiles[0]!.contents;
const html = '<!doctype html><meta charset="utf-8"><title>ijepa-webgpu tests</title><script type="module" src="/bundle.js"></script>';
const bundleDir = join(dir, '..', 'golden', 'bundles');
const bundleNames = readdirSync(bundleDir).filter((f) => f.endsWith('.safetensors')).sort();
const { server, url } = await serve({
  '/': html,
  '/bundle.js': js,
  '/golden/bundles/index.json': JSON.stringify(bundleNames),
  ...Object.fromEntries(bundleNames.map((f) => [`/golden/bundles/${f}`, { file: join(bundleDir, f) }])),
});

/**
 * What each adapter lacks by design; the tests that need it are skipped there and that is not a
 * CI failure: the code has a fallback for it (the plain attention and matmul kernels, f32
 * storage), which the same suite runs on that adapter. SwiftShader's subgroups are 4 wide;
 * Dawn's GLES backend is the compatibility level, with neither subgroups nor f16.
 */
const ADAPTER_LACKS: Record<BrowserAdapter, readonly string[]> = {
  swiftshader: [LACKS.subgroups8, LACKS.f16],
  gles: [LACKS.subgroups8, LACKS.f16],
};

interface Result {
  ok: boolean;
  total: number;
  passed: number;
  skipped: number;
  skips: Skip[];
  failed: string[];
  hookFailures: number;
  adapter: unknown;
  features: string[];
  featureLevel: string;
  optimizer: number[];
  error?: string;
}
/** Cross-adapter agreement of the optimizer run (AdamW and EMA in f32; a few ulps apart at most). */
const OPTIMIZER_AGREEMENT = 1e-6;
await initWebGPU();
const nodeOptimizer = await optimizerRun();
const agreement: string[] = [];
let allOk = true;
const summary: string[] = [];
try {
  for (const adapter of adapters) {
    const t0 = performance.now();
    const browser = await launchChromium(adapter);
    try {
      const page = await browser.newPage();
      page.on('console', (m) => console.log(`[${adapter}] ${m.text()}`));
      page.on('pageerror', (e) => console.error(`[${adapter}] page error: ${e.message}`));
      await page.goto(`${url}/?level=${FEATURE_LEVEL[adapter]}&filter=${encodeURIComponent(filter)}`);
      await page.waitForFunction(() => (globalThis as { __ijepaTests?: unknown; }).__ijepaTests !== undefined, undefined, { timeout: TIMEOUT_MS,
        polling: 500 });
      const r = await page.evaluate(() => (globalThis as unknown as { __ijepaTests: Result; }).__ijepaTests);
      const secs = ((performance.now() - t0) / 1000).toFixed(0);
      if (r.error) console.error(`[${adapter}] ${r.error}`);
      const a = r.adapter as { description?: string; vendor?: string; architecture?: string; device?: string; } | null;
      const name = a?.description || [a?.vendor, a?.architecture, a?.device].filter(Boolean).join(' ') || 'an adapter that gives no name';
      summary.push(`${adapter}: ${name} (${r.featureLevel}; ${r.features.join(', ') || 'no optional features'}): `
        + `${r.passed}/${r.total} passed, ${r.skipped} skipped, ${secs} s${r.failed.length ? `; failures in ${r.failed.join(', ')}` : ''}`
        + `${r.hookFailures ? `; ${r.hookFailures} leak checks failed` : ''}`);
      const skips = judgeSkips(r.skips, r.skipped, { noSkips: process.env.IJEPA_NO_SKIPS === '1', allowed: ADAPTER_LACKS[adapter] });
      summary.push(...skips.lines.map((l) => `  ${l}`));
      if (!skips.ok) summary.push(`  ${adapter}: these skips fail the run`);
      const diff = maxAbsDiff(r.optimizer, nodeOptimizer);
      agreement.push(`${adapter} vs node: max |Δ| ${diff.toExponential(2)} over ${nodeOptimizer.length} values`);
      if (!r.ok || !skips.ok || r.total === 0 || !(diff <= OPTIMIZER_AGREEMENT)) allOk = false;
    } finally {
      await browser.close();
    }
  }
} finally {
  server.close();
}
console.log(`\nbrowser suite${filter ? ` (files matching "${filter}")` : ''}:\n  ${summary.join('\n  ')}`);
console.log(
  `optimizer run (AdamW + EMA, test/optim-agreement.ts; must agree to ${OPTIMIZER_AGREEMENT.toExponential(0)}):\n  ${agreement.join('\n  ')}`,
);
process.exitCode = allOk ? 0 : 1;
