/// <reference types="@webgpu/types" preserve="true" />
// device/node: the engine's only Node-specific file. It creates a WebGPU device through Dawn's
// Node bindings (the `webgpu` package) with the adapter's own limits and optional features
// (device/request.ts), then makes it the engine's default backend. device/browser.ts is its
// twin for `navigator.gpu`.
import { create, globals } from 'webgpu';
import { WebGPUBackend } from '../backend/webgpu.ts';
import { setBackend } from '../runtime.ts';
import { requestFullDevice, type DeviceInfo } from './request.ts';

export type { DeviceInfo };

// The GPU instance and adapter are held for the life of the process: if the instance is
// garbage-collected, Dawn tears down its threads under the device and the process aborts.
let current: { backend: WebGPUBackend; info: DeviceInfo; gpu: GPU; adapter: GPUAdapter; } | null = null;

/** Create (once per process) the WebGPU device and make it the default backend. `sanitize` defaults to IJEPA_SANITIZE=1. */
export async function initWebGPU(opts: { powerPreference?: GPUPowerPreference; sanitize?: boolean; } = {}): Promise<WebGPUBackend> {
  if (current) return current.backend;
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error(
      'initWebGPU: no WebGPU adapter. On Linux without a GPU, install Mesa ≥ 24 lavapipe and libvulkan1 (`npm run setup` does it on Debian)',
    );
  }
  const { device, info } = await requestFullDevice(adapter, 'core');
  // IJEPA_SANITIZE=1 turns on the bounds sanitizer (test/run.ts sets it): see backend/webgpu.ts
  const backend = new WebGPUBackend(device, { sanitize: opts.sanitize ?? process.env.IJEPA_SANITIZE === '1' });
  setBackend(backend);
  current = { backend, info, gpu, adapter };
  return backend;
}

/** Adapter, features and limits of the device `initWebGPU` created. */
export function deviceInfo(): DeviceInfo {
  if (!current) throw new Error('deviceInfo: call initWebGPU() first');
  return current.info;
}
