// device/node: the engine's only Node-specific file. It creates a WebGPU device through Dawn's
// Node bindings (the `webgpu` package), asking for the adapter's own limits (lavapipe allows
// 128 MiB storage bindings, the WebGPU default is 128 MiB too but other limits are smaller) and
// for the optional features it has, then makes it the engine's default backend.
import { create, globals } from 'webgpu';
import { WebGPUBackend } from '../backend/webgpu.ts';
import { setBackend } from '../runtime.ts';

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

export interface NodeDeviceInfo {
  adapter: GPUAdapterInfo;
  features: string[];
  limits: Record<string, number>;
}

// The GPU instance and adapter are held for the life of the process: if the instance is
// garbage-collected, Dawn tears down its threads under the device and the process aborts.
let current: { backend: WebGPUBackend; info: NodeDeviceInfo; gpu: GPU; adapter: GPUAdapter } | null = null;

/** Create (once per process) the WebGPU device and make it the default backend. `sanitize` defaults to IJEPA_SANITIZE=1. */
export async function initWebGPU(opts: { powerPreference?: GPUPowerPreference; sanitize?: boolean } = {}): Promise<WebGPUBackend> {
  if (current) return current.backend;
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error('initWebGPU: no WebGPU adapter. On Linux without a GPU, install Mesa ≥ 24 lavapipe and libvulkan1 (`npm run setup` does it on Debian)');
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    // Dawn caps the dynamic-offset limits itself and warns if asked for the adapter's value
    if (typeof v === 'number' && !key.includes('Dynamic')) requiredLimits[key] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  // IJEPA_SANITIZE=1 turns on the bounds sanitizer (test/run.ts sets it): see backend/webgpu.ts
  const backend = new WebGPUBackend(device, { sanitize: opts.sanitize ?? process.env.IJEPA_SANITIZE === '1' });
  setBackend(backend);
  current = {
    backend,
    info: { adapter: adapter.info, features: [...device.features].sort(), limits: requiredLimits },
    gpu,
    adapter,
  };
  return backend;
}

/** Adapter, features and limits of the device `initWebGPU` created. */
export function deviceInfo(): NodeDeviceInfo {
  if (!current) throw new Error('deviceInfo: call initWebGPU() first');
  return current.info;
}
