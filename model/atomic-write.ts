// atomic-write: replace a file so that readers (and a crash) see either the old bytes or the new
// ones, never a torn mix. Used for checkpoints: a training run killed mid-save must still resume.
//
// Protocol: write `${path}.tmp-<pid>.<n>` in the same directory, fsync it, rename it over `path`
// (atomic within one file system on POSIX), then fsync the directory so the rename itself is durable.
// On any error the temp file is removed and the error rethrown, naming `path` (a full disk says only
// "ENOSPC ... write"); `path` is left untouched. A `path` that is there but is not a regular file
// (a directory, /dev/full, a FIFO) is refused before anything is written: the rename would replace
// it (as root, even a device node).
//
// Deliberately not: a lock. Two processes writing the same path each land whole, last rename wins.
// Node-only (node:fs); engine/ code stays browser-safe and never imports this.

import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

// The pid keeps concurrent processes apart; the counter keeps concurrent writes within one process apart.
let counter = 0;

/**
 * Atomically write `data` (bytes, a string as UTF-8, or a list of byte chunks written in order, so a
 * large checkpoint need not be concatenated first) to `path`.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
): Promise<void> {
  const there = await stat(path).catch(() => null); // follows a symlink: what a reader would open
  if (there && !there.isFile()) {
    throw new Error(
      `write ${path}: ${there.isDirectory() ? 'is a directory (EISDIR)' : 'is not a regular file (a device, FIFO or socket)'}; give a file path`,
    );
  }
  const tmp = `${path}.tmp-${process.pid}.${counter++}`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      const chunks = typeof data === 'string' ?
        [new TextEncoder().encode(data)]
        : data instanceof Uint8Array
        ? [data]
        : data;
      let position = 0;
      for (const chunk of chunks) {
        // write() may write less than asked (large buffers, some file systems): loop until done.
        for (let done = 0; done < chunk.length;) {
          const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position);
          done += bytesWritten;
          position += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined); // it may not exist (open failed) or be renamed already
    const err = e as NodeJS.ErrnoException;
    throw Object.assign(new Error(`write ${path}: ${err.message}`, { cause: e }), { code: err.code });
  }
  await syncDir(dirname(path));
}

/**
 * fsync a directory so a rename in it survives power loss. Windows cannot open a directory for
 * fsync (EPERM/EISDIR); there NTFS journals the rename itself, so skipping it is the best available.
 */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch (e) {
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!(process.platform === 'win32' || code === 'EINVAL')) throw e; // EINVAL: fs without dir fsync
  } finally {
    await fh.close();
  }
}
