// browser/run: the op suite inside headless Chromium, on each adapter Chromium reaches here
// (scripts/chromium.ts), driven from Node. It bundles test/browser/entry.ts for the browser
// platform (so a Node import in the engine fails right here), serves it from 127.0.0.1, runs
// it once per adapter and prints which tests ran on which adapter. Exits non-zero when any
// suite failed on any adapter, or when an adapter gave no device.
// `node --import tsx test/browser/run.ts [filter] [--adapter swiftshader|gles]`
import { build, type Plugin } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROWSER_ADAPTERS, FEATURE_LEVEL, launchChromium, type BrowserAdapter } from '../../scripts/chromium.ts';
import { serve } from '../../scripts/static-server.ts';

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

// The tests create their device through engine/device/node.ts; in the tab it is the shim.
const deviceShim: Plugin = {
  name: 'device-shim',
  setup(b) {
    b.onResolve({ filter: /device\/node\.ts$/ }, () => ({ path: join(dir, 'device-shim.ts') }));
  },
};
const bundle = await build({
  entryPoints: [join(dir, 'entry.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
  write: false, plugins: [deviceShim], logLevel: 'error',
});
const js = bundle.outputFiles[0]!.contents;
const html = '<!doctype html><meta charset="utf-8"><title>ijepa-webgpu tests</title><script type="module" src="/bundle.js"></script>';
const { server, url } = await serve({ '/': html, '/bundle.js': js });

interface Result { ok: boolean; total: number; passed: number; skipped: number; failed: string[]; hookFailures: number; adapter: unknown; features: string[]; featureLevel: string; error?: string }
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
      await page.waitForFunction(() => (globalThis as { __ijepaTests?: unknown }).__ijepaTests !== undefined, undefined, { timeout: TIMEOUT_MS, polling: 500 });
      const r = await page.evaluate(() => (globalThis as unknown as { __ijepaTests: Result }).__ijepaTests);
      const secs = ((performance.now() - t0) / 1000).toFixed(0);
      if (r.error) console.error(`[${adapter}] ${r.error}`);
      const a = r.adapter as { description?: string; vendor?: string; architecture?: string; device?: string } | null;
      const name = a?.description || [a?.vendor, a?.architecture, a?.device].filter(Boolean).join(' ') || 'an adapter that gives no name';
      summary.push(`${adapter}: ${name} (${r.featureLevel}; ${r.features.join(', ') || 'no optional features'}): `
        + `${r.passed}/${r.total} passed, ${r.skipped} skipped, ${secs} s${r.failed.length ? `; failures in ${r.failed.join(', ')}` : ''}`
        + `${r.hookFailures ? `; ${r.hookFailures} leak checks failed` : ''}`);
      if (!r.ok || r.total === 0) allOk = false;
    } finally {
      await browser.close();
    }
  }
} finally {
  server.close();
}
console.log(`\nbrowser suite${filter ? ` (files matching "${filter}")` : ''}:\n  ${summary.join('\n  ')}`);
process.exitCode = allOk ? 0 : 1;
