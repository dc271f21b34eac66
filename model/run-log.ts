// run-log: a training run's JSONL log (one record per step: `{"timestamp": "…", "step": …, "loss": …, …}`).
//
// A record is appended after each step; a run killed between its last checkpoint and the kill has
// logged steps that the resume will run again. `cutLog` drops them (and a torn last line) when the
// run resumes, so each step appears once and the report and `export --to pth` (which averages an
// epoch's losses) see one trajectory. The cut goes through a temp file and a rename
// (model/atomic-write.ts): a crash during it leaves the old log, never half of one.
// Every write error names the log's path (a full disk says ENOSPC and nothing else).
import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.ts';

/** Append one record as a JSON line. */
export async function appendRecord(path: string, record: Readonly<Record<string, number | string | boolean>>): Promise<void> {
  try {
    await appendFile(path, JSON.stringify(record) + '\n');
  } catch (e) {
    throw new Error(`cannot write the log ${path}: ${(e as Error).message}`);
  }
}

/**
 * Keep the records of steps ≤ `step` (the checkpoint a resume starts from) and drop the rest and any
 * line that is not a whole record. Returns how many lines were dropped; the file is rewritten only
 * when that is more than 0, and a missing log is left missing.
 */
export async function cutLog(path: string, step: number): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new Error(`cannot read the log ${path}: ${(e as Error).message}`);
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => {
    try {
      const r = JSON.parse(l) as { step?: unknown; };
      return typeof r.step === 'number' && r.step <= step;
    } catch {
      return false; // a line torn by a kill mid-append
    }
  });
  if (kept.length === lines.length) return 0;
  try {
    await writeFileAtomic(path, kept.map((l) => l + '\n').join(''));
  } catch (e) {
    throw new Error(`cannot write the log ${path}: ${(e as Error).message}`);
  }
  return lines.length - kept.length;
}
