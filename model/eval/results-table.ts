// results-table: the evaluation table (features, dim, kNN, linear, one column per low-shot
// setting; top-1 %) as header and row cells, read from an eval.json object. `ijepa eval` prints
// it and `ijepa report` renders it from the same function, so the two always show one table.
// Deliberately not: layout (padding, HTML); each caller lays the cells out its own way.

/** The eval.json format this reads (written by `ijepa eval`). */
export const EVAL_FORMAT = 'ijepa-webgpu-eval/1';

export interface ResultsTable {
  heads: string[];
  rows: string[][];
}

/** One decimal of a percentage; '-' for a missing or non-finite one (JSON writes NaN as null). */
const pct = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '-');

/**
 * The table of an eval.json object: one row per entry of `results` (in file order), low-shot
 * columns named by `protocol.low_shot`. Throws naming the field when the object is not an
 * eval.json of EVAL_FORMAT.
 */
export function resultsTable(json: unknown, source = 'eval.json'): ResultsTable {
  const o = json as { format?: unknown; results?: unknown; protocol?: { low_shot?: unknown; }; } | null;
  if (o === null || typeof o !== 'object') throw new Error(`${source}: not a JSON object`);
  if (o.format !== EVAL_FORMAT) throw new Error(`${source}: format is ${JSON.stringify(o.format)}, expected "${EVAL_FORMAT}"`);
  if (o.results === null || typeof o.results !== 'object') throw new Error(`${source}: results is missing`);
  const lowShot = o.protocol?.low_shot;
  if (lowShot === null || typeof lowShot !== 'object') throw new Error(`${source}: protocol.low_shot is missing`);
  const shots = Object.keys(lowShot);
  const rows = Object.entries(o.results as Record<string, Record<string, unknown> | null>).map(([key, r]) => {
    if (r === null || typeof r !== 'object') throw new Error(`${source}: results.${key} is not an object`);
    return [
      typeof r.label === 'string' ? r.label : key,
      typeof r.dim === 'number' ? String(r.dim) : '-',
      pct(r.knn),
      pct(r.linear),
      ...shots.map((s) => pct(r[`low_shot_${s}`])),
    ];
  });
  return { heads: ['features', 'dim', 'kNN', 'linear', ...shots], rows };
}
