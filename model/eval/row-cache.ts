// row-cache: the control rows of `ijepa eval` (random init and raw pixels) depend only on the
// data split, the protocol and, for random init, the encoder's shape, seed and readout; never on
// the trained weights. So they are computed once and kept, and an eval of a new checkpoint costs
// one encoder pass. Each entry is a JSON file named by the SHA-256 of everything it depends on
// (with CACHE_VERSION, bumped whenever the protocol's code changes its numbers; image folders are
// keyed by every file's path, size and modification time), written atomically.
// Where: $IJEPA_CACHE, else $XDG_CACHE_HOME/ijepa-webgpu/eval, else ~/.cache/ijepa-webgpu/eval.
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../node.ts';
import type { ProtocolResult } from './protocol.ts';

const CACHE_VERSION = 1;

export function cacheDir(env: Record<string, string | undefined> = process.env): string {
  if (env.IJEPA_CACHE) return env.IJEPA_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ijepa-webgpu', 'eval');
}

/** What a data split's rows depend on: its description, and for folders every file's path, size and mtime. */
export async function splitIdentity(description: string, files: readonly string[] | undefined): Promise<string> {
  const h = createHash('sha256').update(description);
  for (const f of files ?? []) {
    const s = await stat(f);
    h.update(`\n${f}\t${s.size}\t${s.mtimeMs}`);
  }
  return h.digest('hex');
}

const keyOf = (parts: unknown) => createHash('sha256').update(JSON.stringify({ v: CACHE_VERSION, parts })).digest('hex');

// NaN (an accuracy with nothing held out) survives the round trip as a string
const encode = (r: ProtocolResult) => JSON.stringify(r, (_, x) => (typeof x === 'number' && Number.isNaN(x) ? 'NaN' : x));
const decode = (s: string) => JSON.parse(s, (_, x) => (x === 'NaN' ? NaN : x)) as ProtocolResult;

/** The cached result for `parts`, or `compute()`'s, stored. `fresh` recomputes and overwrites. */
export async function cachedRow(parts: unknown, compute: () => Promise<ProtocolResult>,
  opts: { dir?: string; fresh?: boolean; log?: (m: string) => void; } = {}): Promise<ProtocolResult>
{
  const dir = opts.dir ?? cacheDir();
  const file = join(dir, `${keyOf(parts)}.json`);
  if (!opts.fresh) {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text !== null) {
      try {
        const r = decode(text);
        if (typeof r.knn === 'number' && typeof r.linear?.accuracy === 'number' && Array.isArray(r.lowShot)) {
          opts.log?.(`  (from the cache: ${file})`);
          return r;
        }
      } catch { /* a torn or foreign file: recompute and overwrite it */ }
    }
  }
  const r = await compute();
  await mkdir(dir, { recursive: true }).then(() => writeFileAtomic(file, encode(r))).catch((e: Error) =>
    opts.log?.(`warning: could not cache the row in ${file}: ${e.message}`)
  );
  return r;
}
