// demo-browser: `npm run demo:browser` serves the I-JEPA-in-a-tab page (scripts/demo-browser/
// page.ts, bundled here with esbuild for the browser platform) from 127.0.0.1, with the
// installed Fashion-MNIST training files, and prints the address to open in a browser with
// WebGPU. `--headless [--steps N] [--adapter swiftshader|gles] [--screenshot F]` instead runs it
// in the system Chromium until it finishes and prints the loss (test/demo-browser.test.ts).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BROWSER_ADAPTERS, FEATURE_LEVEL, launchChromium, type BrowserAdapter } from './chromium.ts';
import { serve } from './static-server.ts';
import { fashionMnistDir, FASHION_MNIST_FILES } from '../model/data/fashion-mnist.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const headless = args.includes('--headless');
const steps = Number(opt('--steps') ?? 300);
const adapter = (opt('--adapter') ?? 'gles') as BrowserAdapter;
if (!BROWSER_ADAPTERS.includes(adapter)) {
  console.error(`demo-browser: --adapter '${adapter}' is not one of ${BROWSER_ADAPTERS.join(', ')}`);
  process.exit(2);
}
if (!(Number.isInteger(steps) && steps >= 2)) {
  console.error(`demo-browser: --steps '${opt('--steps')}' must be an integer ≥ 2`);
  process.exit(2);
}

const images = join(fashionMnistDir(), FASHION_MNIST_FILES.train.images);
if (!existsSync(images)) {
  console.error(`demo-browser: ${images} not found: \`npm run setup\` installs Debian's dataset-fashion-mnist`);
  process.exit(1);
}

const bundle = await build({
  entryPoints: [join(import.meta.dirname, 'demo-browser', 'page.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'error',
});
const html = `<!doctype html><meta charset="utf-8"><title>I-JEPA in a tab</title>
<style>body{font:14px sans-serif;margin:20px} canvas{border:1px solid #ccc;margin:4px} #status{font-family:monospace}</style>
<h1>I-JEPA in a tab</h1><p id="adapter"></p><p id="status"></p>
<canvas id="loss" width="600" height="200"></canvas><p id="watch"></p>
<p>current batch: context patches bright, target blocks outlined</p>
${[0, 1, 2, 3].map(() => '<canvas class="mask" width="128" height="128"></canvas>').join('')}
<script type="module" src="/page.js"></script>`;
const { server, url } = await serve({ '/': html, '/page.js': bundle.outputFiles[0]!.contents, '/data/train-images-idx3-ubyte.gz': { file: images } },
  headless ? 0 : Number(process.env.PORT ?? 8080));

if (!headless) {
  console.log(`demo-browser: open ${url}/ in a browser with WebGPU (Ctrl-C stops the server)`);
} else {
  const browser = await launchChromium(adapter);
  try {
    const page = await browser.newPage({ viewport: { width: 760, height: 640 } });
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(`${url}/?steps=${steps}&level=${FEATURE_LEVEL[adapter]}`);
    await page.waitForFunction(() => (globalThis as { __demo?: { done: boolean; }; }).__demo?.done, undefined, { timeout: 20 * 60_000,
      polling: 500 });
    const s = await page.evaluate(() =>
      (globalThis as unknown as { __demo: { losses: number[]; std: number[]; rank: number[]; error?: string; adapter?: string; }; }).__demo
    );
    const shot = opt('--screenshot');
    if (shot) await page.screenshot({ path: shot });
    if (s.error) {
      console.error(`demo-browser: ${s.error}`);
      process.exitCode = 1;
    }
    console.log(JSON.stringify({ adapter: s.adapter, steps: s.losses.length, losses: s.losses, std: s.std, rank: s.rank }));
  } finally {
    await browser.close();
    server.close();
  }
}
