// memory-guard: print what a run will hold before building it, and refuse a run that cannot fit
// (estimate: model/memory-estimate.ts). WebGPU does not say how much memory a device has; on the
// CPU adapters this project runs on (lavapipe, SwiftShader) device memory is host memory, so the
// default limit is the host memory available now; on a discrete GPU give --max-memory. A refusal
// is a usage error (exit 2): the command asked for more than the machine has, and the way out is
// another --batch, --img-size, --preset or --max-memory.
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { estimateStepMemory, formatBytes, type TargetKind, type Preset } from '../index.ts';
import { OptionError } from './options.ts';

/** MemAvailable from /proc/meminfo (free + reclaimable cache) where there is one, else os.freemem(). */
export function availableMemory(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return freemem();
}

/** Print the estimate for `preset` at its batch; throw an OptionError when it exceeds `limitGiB` (default: available memory). */
export function guardStepMemory(preset: Preset, target: TargetKind,
  opts: { limitGiB?: number; prefetch?: number; log?: (s: string) => void; }): void
{
  const B = preset.optim.batch;
  const e = estimateStepMemory(preset.model, preset.mask, B, { prefetch: opts.prefetch, target });
  const limit = opts.limitGiB !== undefined ? opts.limitGiB * 2 ** 30 : availableMemory();
  const what = opts.limitGiB !== undefined ? `--max-memory ${opts.limitGiB}` : 'the memory available now';
  (opts.log ?? console.error)(`model: ${(e.params / 1e6).toFixed(1)}M trainable parameters; a step at batch ${B} needs about `
    + `${formatBytes(e.deviceBytes)} of device and ${formatBytes(e.hostBytes)} of host memory (limit ${formatBytes(limit)}: ${what})`);
  if (e.deviceBytes + e.hostBytes > limit) {
    throw new OptionError(`${preset.name} at batch ${B}, ${preset.model.imgSize} px: a step needs about ${formatBytes(e.deviceBytes + e.hostBytes)}, `
      + `more than ${what} (${
        formatBytes(limit)
      }). Lower --batch or --img-size, pick a smaller --preset, or raise --max-memory if the device has more.`);
  }
}
