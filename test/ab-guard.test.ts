// bench:check's A/B guard (bench/ab-guard.ts): a row's capture, stored as bench/baseline.json
// stores it (JSON), replays the launches the row recorded — on the row's live inputs, with the
// body's temporaries as storages of the replay's own — and writes what the row wrote. Timing is
// bench's business: here only that the pairs come back as finite ratios.
import * as assert from 'uvu/assert';
import { abPairs, CAPTURE_CALLS, capture, Replay, SAVED, type Capture, type CapturedKernels } from '../bench/ab-guard.ts';
import { filled, injectSlowdown, recordLaunch } from '../bench/common.ts';
import type { Storage, View } from '../engine/backend/backend.ts';
import { runElementwise } from '../engine/ops/elementwise.ts';
import { checkLeaks, gpu, suite } from './helpers.ts';

const test = suite('bench A/B guard: capture and replay');
checkLeaks(test);

const n = 1000;
const flat = (storage: Storage): View => ({ storage, shape: [n], strides: [1], offset: 0 });
const fill = (numel: number, dtype: 'f32' | 'f16' | 'i32') => filled(gpu(), numel, 9, dtype);
const stored = (sources: CapturedKernels['sources'], c: Capture): CapturedKernels =>
  JSON.parse(JSON.stringify({ sources, rows: { row: c } })) as CapturedKernels;

async function values(s: Storage): Promise<number[]> {
  return Array.from(await gpu().read(s, 0, n));
}
function inputs() {
  const b = gpu();
  const x = filled(b, n, 1), y = filled(b, n, 2), out = b.alloc(n, 'f32');
  return { x, y, out, release: () => [x, y, out].forEach((s) => b.release(s)) };
}

test('a replay of a captured add, through JSON, writes what the add wrote', async () => {
  const b = gpu();
  const { x, y, out, release } = inputs();
  const sources = {};
  const { capture: c, live } = capture(b, () => runElementwise(b, 'add', flat(out), flat(x), flat(y)), sources);
  assert.is(c.launches.length, CAPTURE_CALLS, 'one launch per call of the body');
  assert.equal(c.slots.map((s) => s.input), [true, true, true], 'x, y and out existed before and outlived the capture');
  const want = await values(out);
  b.upload(out, new Float32Array(n));
  const saved = stored(sources, c);
  const replay = new Replay(b, saved.rows.row!, saved.sources, live, fill, SAVED);
  replay.record();
  assert.equal(await values(out), want);
  replay.dispose();
  release();
});

test("a body's temporaries are the replay's own storages", async () => {
  const b = gpu();
  const { x, y, out, release } = inputs();
  const body = () => {
    const tmp = b.alloc(n, 'f32');
    runElementwise(b, 'add', flat(tmp), flat(x), flat(y));
    runElementwise(b, 'mul', flat(out), flat(tmp), flat(y));
    b.release(tmp);
  };
  const before = b.memory().liveStorages;
  const { capture: c, live } = capture(b, body, {});
  assert.is(c.launches.length, 2 * CAPTURE_CALLS);
  // x, y, then tmp, then out; each call's tmp is a slot of its own unless the pool hands the same
  // buffer back (it does not in the tests' sanitize mode, which quarantines released buffers)
  const temps = c.slots.filter((s) => !s.input).length;
  assert.equal(c.slots.slice(0, 4).map((s) => s.input), [true, true, false, true]);
  assert.ok(temps >= 1 && temps <= CAPTURE_CALLS, `${temps} temporaries`);
  const want = await values(out);
  b.upload(out, new Float32Array(n));
  // the sources were not kept ({}): a replay needs them, and allocates nothing before it says so
  assert.throws(() => new Replay(b, c, {}, live, fill), /lack source/);
  const sources = {};
  const again = capture(b, body, sources);
  const ok = new Replay(b, again.capture, sources, again.live, fill);
  assert.is(b.memory().liveStorages, before + again.capture.slots.filter((s) => !s.input).length, 'the replay owns the temporaries');
  ok.record();
  assert.equal(await values(out), want, 'out = (x + y) · y, through the replay-owned temporary');
  ok.dispose();
  assert.is(b.memory().liveStorages, before);
  release();
});

test("a saved slot that today's storage cannot stand in for gets a storage of its own", () => {
  const b = gpu();
  const { x, y, out, release } = inputs();
  const sources = {};
  const { capture: c, live } = capture(b, () => runElementwise(b, 'add', flat(out), flat(x), flat(y)), sources);
  const bigger: Capture = { ...c, slots: c.slots.map((s, i) => (i === 0 ? { ...s, bytes: s.bytes * 2 } : s)) };
  const before = b.memory().liveStorages;
  const replay = new Replay(b, bigger, sources, live, fill);
  assert.is(b.memory().liveStorages, before + 1);
  replay.dispose();
  release();
});

test('IJEPA_BENCH_SLOW shows in the capture as extra launches (0.25: one more per four calls)', () => {
  const b = gpu();
  const { x, y, out, release } = inputs();
  const old = process.env.IJEPA_BENCH_SLOW;
  process.env.IJEPA_BENCH_SLOW = 'the row:0.25';
  try {
    const body = injectSlowdown('the row', () => runElementwise(b, 'add', flat(out), flat(x), flat(y)));
    assert.is(capture(b, body, {}).capture.launches.length, CAPTURE_CALLS * 1.25);
  } finally {
    if (old === undefined) delete process.env.IJEPA_BENCH_SLOW;
    else process.env.IJEPA_BENCH_SLOW = old;
  }
  release();
});

test('abPairs gives at least 8 finite positive ratios t_saved / t_today', async () => {
  const b = gpu();
  const { x, y, out, release } = inputs();
  const sources = {};
  const { capture: c, live } = capture(b, () => runElementwise(b, 'add', flat(out), flat(x), flat(y)), sources);
  const today = new Replay(b, c, sources, live, fill), saved = new Replay(b, c, sources, live, fill, SAVED);
  const ratios = await abPairs(b, today, saved);
  assert.ok(ratios.length >= 8, `${ratios.length} pairs`);
  assert.ok(ratios.every((r) => Number.isFinite(r) && r > 0), ratios.join(' '));
  today.dispose();
  saved.dispose();
  release();
});

test('two kernels with the same name, overrides and text length get a pipeline each (a saved kernel beside its edit)', async () => {
  const b = gpu();
  const out = b.alloc(1, 'f32');
  const text = (v: string) =>
    `@group(0) @binding(0) var<uniform> u: vec4<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1) fn main() { out[0] = ${v} + f32(u.x); }`;
  const wrote: number[] = [];
  for (const v of ['1.0', '2.0']) {
    recordLaunch(b, { source: { name: 'same', wgsl: text(v), overrides: {} }, uniforms: new ArrayBuffer(16), workgroups: [1, 1, 1] }, [out]);
    wrote.push((await b.read(out, 0, 1))[0]!);
  }
  assert.equal(wrote, [1, 2]);
  b.release(out);
});

test.run();
