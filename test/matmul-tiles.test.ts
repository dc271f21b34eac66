// The tuned matmul tile table is keyed by adapter: an adapter's own rows choose its tiles, an
// adapter never tuned gets the default for every shape, and a tune rewrites only its own rows.
// Pure (no device): the table, the picker and the file the tune writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterKey, DEFAULT_SUBGROUP_TILE, MATMUL_TILES, pickSubgroupTile, type AdapterTiles } from '../kernels/index.ts';
import { renderTileTable, tileTableHead, withAdapterTiles } from '../bench/tile-table.ts';

const test = suite('matmul tiles per adapter');
const shape = (M: number, N: number, K: number, transA = false, transB = false) => ({ M, N, K, transA, transB });
const row = (M: number, N: number, K: number, tm: number, tn4: number, transB = false) => ({ ...shape(M, N, K, false, transB), tm, tn4, gflops: 1 });
const table: AdapterTiles[] = [
  { adapter: 'vendorA / arch / dev / driver 1.0', tuned: '2026-01-01', tiles: [row(64, 64, 64, 8, 2), row(1024, 1024, 1024, 32, 1)] },
  { adapter: 'vendorA / arch / dev / driver 2.0', tuned: '2026-02-01', tiles: [row(64, 64, 64, 32, 1)] },
];

test('adapterKey joins vendor, architecture, device and description, skipping empty fields', () => {
  assert.is(adapterKey({ vendor: 'mesa', architecture: '', device: 'llvmpipe', description: 'Mesa 25.0.7' }), 'mesa / llvmpipe / Mesa 25.0.7');
  assert.is(adapterKey(undefined), '');
});

test("an adapter's own rows choose its tile: the exact shape, else the nearest with the same transposes", () => {
  const a = table[0]!.adapter;
  assert.equal(pickSubgroupTile({ ...shape(64, 64, 64), adapter: a }, table), { tm: 8, tn4: 2 });
  assert.equal(pickSubgroupTile({ ...shape(900, 1100, 1000), adapter: a }, table), { tm: 32, tn4: 1 });
  assert.equal(pickSubgroupTile({ ...shape(64, 64, 64, false, true), adapter: a }, table), DEFAULT_SUBGROUP_TILE, 'no row with these transposes');
});

test('the same device on another driver uses the rows tuned for that driver', () => {
  assert.equal(pickSubgroupTile({ ...shape(64, 64, 64), adapter: table[1]!.adapter }, table), { tm: 32, tn4: 1 });
});

test('an adapter never tuned gets the default tile for every shape, even a shape another adapter tuned', () => {
  for (const s of MATMUL_TILES.flatMap((t) => t.tiles)) {
    assert.equal(pickSubgroupTile({ ...s, adapter: 'unknown / gpu / 1 / driver 9' }), DEFAULT_SUBGROUP_TILE);
    assert.equal(pickSubgroupTile(s), DEFAULT_SUBGROUP_TILE, 'no adapter given');
  }
});

test('the shipped table has one entry per adapter, each with rows', () => {
  const keys = MATMUL_TILES.map((t) => t.adapter);
  assert.is(new Set(keys).size, keys.length);
  for (const t of MATMUL_TILES) {
    assert.ok(t.adapter.length > 0);
    assert.ok(t.tiles.length > 0, t.adapter);
  }
});

test("a tune replaces its adapter's rows, appends a new adapter, and keeps the others", () => {
  const mine: AdapterTiles = { adapter: table[1]!.adapter, tuned: '2026-03-01', tiles: [row(8, 8, 8, 16, 2)] };
  assert.equal(withAdapterTiles(table, mine), [table[0], mine]);
  const fresh: AdapterTiles = { ...mine, adapter: 'new / gpu' };
  assert.equal(withAdapterTiles(table, fresh), [...table, fresh]);
});

test('the file a tune writes loads back as the same table, with the hand-written head kept', async () => {
  const source = readFileSync(fileURLToPath(new URL('../kernels/matmul-tiles.ts', import.meta.url)), 'utf8');
  const head = tileTableHead(source);
  const text = renderTileTable(head, table, (t) => `${t.M}³`);
  assert.ok(text.startsWith(head));
  const dir = mkdtempSync(join(tmpdir(), 'tiles-'));
  try {
    const file = join(dir, 'matmul-tiles.ts');
    writeFileSync(file, text);
    const loaded = await import(file) as { MATMUL_TILES: AdapterTiles[]; };
    assert.equal(loaded.MATMUL_TILES, table);
    // and the shipped file is itself what the renderer writes (the tune's output format)
    const shipped = renderTileTable(head, MATMUL_TILES, () => '').replace(/ {3}\/\/.*$/gm, '');
    assert.is(source.replace(/ {3}\/\/.*$/gm, ''), shipped);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
