// make-dirs: create a folder and its missing parents, one mkdir at a time.
//
// Why not mkdir(path, { recursive: true }): under /proc (and other pseudo file systems) Node's
// recursive mode never returns: each missing parent answers ENOENT yet seems to exist, and it
// retries forever (`train --out /proc/x` hung). One plain mkdir per missing folder fails at once,
// naming the folder it could not create. Node-only, like model/atomic-write.ts.
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Create `path` (absolute) and its missing parents; throws naming the folder that failed, or a file in the way. */
export async function makeDirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create ${d}: ${(e as Error).message}`);
    }
  }
  if (!statSync(path).isDirectory()) throw new Error(`${path} is a file, not a folder`);
}
