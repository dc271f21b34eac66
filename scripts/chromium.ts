// chromium: the system Chromium (Debian's /usr/bin/chromium, never a downloaded browser),
// headless with WebGPU, through playwright-core. Two adapters are reachable on a machine with
// no GPU (docs/browser.md):
//   swiftshader  Chromium's default here: Vulkan on the CPU; subgroups of 4, no shader-f16,
//                10 storage buffers per shader stage
//   gles         Dawn's OpenGL ES backend on ANGLE → Vulkan → lavapipe, compatibility feature
//                level: no subgroups, no f16, no timestamp queries, out-of-bounds writes clamped
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export type BrowserAdapter = 'swiftshader' | 'gles';
export const BROWSER_ADAPTERS: readonly BrowserAdapter[] = ['swiftshader', 'gles'];
export const CHROMIUM = process.env.IJEPA_CHROMIUM ?? '/usr/bin/chromium';

// Without the background-networking flags Chromium keeps dialling out on a closed network.
const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ADAPTER_ARGS: Record<BrowserAdapter, string[]> = {
  swiftshader: [],
  gles: ['--use-webgpu-adapter=opengles', '--use-angle=vulkan'],
};
/** The feature level the page must request for each adapter. */
export const FEATURE_LEVEL: Record<BrowserAdapter, 'core' | 'compatibility'> = { swiftshader: 'core', gles: 'compatibility' };

export async function launchChromium(adapter: BrowserAdapter): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: \`npm run setup\` installs Debian's chromium (or set IJEPA_CHROMIUM)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...ADAPTER_ARGS[adapter]] });
}
