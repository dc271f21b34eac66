// device/request: what both bootstraps (node.ts, browser.ts) ask of an adapter. Plain WebGPU,
// no Node: the adapter's own limits (the defaults are smaller than most adapters allow, and in
// compatibility mode maxComputeInvocationsPerWorkgroup defaults to 128, which breaks the
// 256-wide kernels) and the optional features the engine can use when present.

/** Features the engine uses where the adapter has them; none is required. */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups'];

/** Adapter, features and limits of the device a bootstrap created. */
export interface DeviceInfo {
  adapter: GPUAdapterInfo;
  features: string[];
  limits: Record<string, number>;
  featureLevel: 'core' | 'compatibility';
}

/** Request a device with every limit at the adapter's value and the optional features it has. */
export async function requestFullDevice(adapter: GPUAdapter,
  featureLevel: DeviceInfo['featureLevel']): Promise<{ device: GPUDevice; info: DeviceInfo; }>
{
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    // Dawn caps the dynamic-offset limits itself and warns if asked for the adapter's value
    if (typeof v === 'number' && !key.includes('Dynamic')) requiredLimits[key] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info: DeviceInfo = { adapter: adapter.info, features: [...device.features].sort(), limits: requiredLimits, featureLevel };
  return { device, info };
}
