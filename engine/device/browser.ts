/// <reference types="@webgpu/types" preserve="true" />
// device/browser: the twin of device/node.ts for a browser tab (or a worker): a device from
// `navigator.gpu` with the adapter's own limits and optional features (device/request.ts),
// made the engine's default backend. WebGPU needs a secure context (https or
// http://localhost / 127.0.0.1, never file://).
//
// Feature level: 'core' by default. 'compatibility' asks for an adapter that may be backed by
// OpenGL ES or D3D11 (Chromium: `--use-webgpu-adapter=opengles`); such an adapter has no
// subgroups or f16 and clamps out-of-bounds writes, and the engine takes its portable kernels.
// 'auto' tries core, then compatibility.
import { WebGPUBackend } from '../backend/webgpu.ts';
import { setBackend } from '../runtime.ts';
import { requestFullDevice, type DeviceInfo } from './request.ts';

export type { DeviceInfo };

export interface BrowserDeviceOptions {
  powerPreference?: GPUPowerPreference;
  featureLevel?: 'core' | 'compatibility' | 'auto';
  /** Where to look for WebGPU; defaults to `navigator.gpu`. */
  gpu?: GPU;
  /** Guard tails on every storage, checked at each sync (backend/webgpu.ts); for tests and debugging. */
  sanitize?: boolean;
}

let current: { backend: WebGPUBackend; info: DeviceInfo; } | null = null;

/** Why there is no WebGPU here, in words a user can act on. */
function missingWebGPU(): string {
  const secure = (globalThis as { isSecureContext?: boolean; }).isSecureContext;
  if (secure === false) {
    return 'initWebGPU: navigator.gpu is missing because this page is not a secure context: serve it over https or from http://localhost / http://127.0.0.1 (not file://)';
  }
  return 'initWebGPU: this browser exposes no WebGPU (navigator.gpu is undefined). Use a browser with WebGPU '
    + '(Chrome/Edge ≥ 113, Safari ≥ 26, Firefox ≥ 141), or enable it: Chromium on Linux needs --enable-unsafe-webgpu '
    + '(and --enable-features=Vulkan), Firefox dom.webgpu.enabled in about:config';
}

async function adapterFor(gpu: GPU, level: 'core' | 'compatibility', powerPreference: GPUPowerPreference): Promise<GPUAdapter | null> {
  // featureLevel is newer than some type definitions; browsers that do not know it ignore it
  return gpu.requestAdapter({ powerPreference, featureLevel: level });
}

/** Create (once per page) the WebGPU device and make it the default backend. */
export async function initWebGPU(opts: BrowserDeviceOptions = {}): Promise<WebGPUBackend> {
  if (current) return current.backend;
  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU; }; }).navigator?.gpu;
  if (!gpu) throw new Error(missingWebGPU());
  const want = opts.featureLevel ?? 'core';
  const powerPreference = opts.powerPreference ?? 'high-performance';
  const levels: ('core' | 'compatibility')[] = want === 'auto' ? ['core', 'compatibility'] : [want];
  for (const level of levels) {
    const adapter = await adapterFor(gpu, level, powerPreference);
    if (!adapter) continue;
    // An adapter that is only compatibility-capable reports it; take its word over our request.
    const isCompat = level === 'compatibility' && !adapter.features.has('core-features-and-limits');
    const { device, info } = await requestFullDevice(adapter, isCompat ? 'compatibility' : 'core');
    const backend = new WebGPUBackend(device, { sanitize: opts.sanitize ?? false });
    setBackend(backend);
    current = { backend, info };
    return backend;
  }
  throw new Error(`initWebGPU: navigator.gpu gave no adapter for feature level ${levels.join(' or ')}. `
    + 'On a machine without a GPU, Chromium blocklists CPU adapters unless started with --enable-unsafe-webgpu; '
    + (want === 'core' ? "an OpenGL ES-only adapter needs featureLevel: 'compatibility'." : 'check chrome://gpu for why WebGPU is disabled.'));
}

/** Adapter, features, limits and feature level of the device `initWebGPU` created. */
export function deviceInfo(): DeviceInfo {
  if (!current) throw new Error('deviceInfo: call initWebGPU() first');
  return current.info;
}
