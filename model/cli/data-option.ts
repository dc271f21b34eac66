// data-option: read the --data folder of train, eval and embed so that every way it can be wrong
// ends the same in all three: a failure (exit 1) whose message starts `--data FOLDER:` and says
// what is wrong with it (no such folder, not a folder, a link loop, no images, none readable, no
// class sub-folders). A usage error (an OptionError, e.g. fewer images than one batch) passes
// through as it is.
import { stat } from 'node:fs/promises';
import { FolderError, fsReason, ImageReadError } from '../data/index.ts';
import { OptionError } from './options.ts';

/**
 * Run `read` (a scan of `root`) after checking that `root` is a folder; any error it throws is
 * reworded to name --data and `root` once. `whose` says where the folder came from when it was
 * not typed now (a resume takes the run's).
 */
export async function readDataFolder<T>(root: string, read: () => Promise<T>, whose = ''): Promise<T> {
  const flag = `--data ${root}${whose ? ` (${whose})` : ''}`;
  const s = await stat(root).catch((e: NodeJS.ErrnoException) => e);
  if (s instanceof Error) throw new Error(`${flag}: ${fsReason(s)}`);
  if (!s.isDirectory()) throw new Error(`${flag}: not a folder; give the folder that holds the images`);
  try {
    return await read();
  } catch (e) {
    if (e instanceof OptionError) throw e;
    // the folder is named once, by the flag; a sub-folder of it (train/, a class) or a file in it is named too
    if (e instanceof FolderError) throw new Error(`${flag}: ${e.folder === root ? e.reason : `${e.folder}${e.joined}${e.reason}`}`);
    if (e instanceof ImageReadError) throw new Error(`${flag}: cannot read ${e.path}: ${e.reason}`);
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
}
