// device-shim: stands in for engine/device/node.ts when the tests are bundled for a browser tab
// (test/browser/run.ts aliases it). The feature level comes from the page's query string, so
// one bundle serves every adapter.
import { initWebGPU as initBrowser, deviceInfo } from '../../engine/device/browser.ts';

export { deviceInfo };

export function initWebGPU() {
  const level = new URLSearchParams(globalThis.location?.search ?? '').get('level');
  // the bounds sanitizer is on here too, as in test/run.ts
  return initBrowser({ featureLevel: level === 'compatibility' ? 'compatibility' : 'core', sanitize: true });
}
