// run-lock: one training process per run folder. Two runs on one --out would interleave their
// logs and checkpoints (each exiting 0), so `train` takes DIR/.lock, a file holding its PID created
// with O_EXCL (atomic: of two starts, one wins), before it reads or writes the folder, and removes
// it when it ends. A lock whose process is gone (a run killed with -9) is stale and taken over.
// Node-only, like model/atomic-write.ts.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class RunLockedError extends Error {
  override name = 'RunLockedError';
}

/** Whether a process with this PID exists (this one included). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** Take `dir`'s lock; returns its release (idempotent). Throws RunLockedError naming the holder. */
export function lockRunFolder(dir: string): () => void {
  const file = join(dir, '.lock');
  for (let attempt = 0;; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new RunLockedError(`${dir} is in use by another run (PID ${holder}, ${file}); wait for it to end, or give another --out`);
      }
      unlinkSync(file); // stale: its writer died without releasing it
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch { /* already gone */ }
  };
  process.on('exit', release); // also on process.exit() after an error
  return release;
}
