// memory: what the engine holds right now, for leak checks and logs.
import type { MemoryStats } from './backend/backend.ts';
import { getBackend, tensorCount } from './runtime.ts';

export interface EngineMemory extends MemoryStats {
  /** Tensors (views included) not yet disposed. */
  liveTensors: number;
}

export function memory(backend = getBackend()): EngineMemory {
  return { ...backend.memory(), liveTensors: tensorCount() };
}
