// golden-bundles: the PyTorch step bundles of test/golden/bundles, read from disk. The browser
// suite swaps this file for test/browser/golden-bundles-shim.ts, which fetches the same files
// from the test server, so test/step-parity.test.ts runs unchanged on every adapter.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BUNDLE_DIR = join(import.meta.dirname, 'golden', 'bundles');

/** The bundle file names, sorted. */
export async function bundleNames(): Promise<string[]> {
  return readdirSync(BUNDLE_DIR).filter((f) => f.endsWith('.safetensors')).sort();
}

/** The bytes of bundle `name`. */
export async function readBundle(name: string): Promise<Uint8Array> {
  return readFileSync(join(BUNDLE_DIR, name));
}
