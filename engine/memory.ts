// memory: what the engine holds right now, for leak checks and logs.
import type { MemoryStats } from './backend/backend.ts';
import { getBackend, tensorCount } from './runtime.ts';

/** `memory()`'s report: the backend's counters plus the live tensor count. */
export interface EngineMemory extends MemoryStats {
  /** Tensors (views included) not yet disposed. */
  liveTensors: number;
}

/** What the engine holds now on `backend` (default: the current one): live tensors, storages and bytes, the pool, dispatch counts. */
export function memory(backend = getBackend()): EngineMemory {
  return { ...backend.memory(), liveTensors: tensorCount() };
}
