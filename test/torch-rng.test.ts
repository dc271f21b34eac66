// torch-rng: the MT19937 port against draws recorded from torch 1.13 (test/golden/make_masks.py).
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TorchGenerator } from '../model/torch-rng.ts';

interface RngGolden {
  ops: (['rand'] | ['randint', number, number])[];
  cases: { seed: number; values: number[]; tailFrom: number; tail: number[]; }[];
}
const golden = (JSON.parse(readFileSync(new URL('./golden/masks.json', import.meta.url), 'utf8')) as { rng: RngGolden; }).rng;

const t = suite('torch-rng');

t('seed 0 gives torch.rand(2) = [0.4963, 0.7682] exactly as float32 24-bit values', () => {
  const g = new TorchGenerator(0);
  const a = g.rand();
  const b = g.rand();
  assert.ok(Math.abs(a - 0.496257) < 1e-6, `${a}`);
  assert.ok(Math.abs(b - 0.768222) < 1e-6, `${b}`);
  // Exactly k / 2^24: torch keeps 24 bits of the 32-bit draw.
  assert.ok(Number.isInteger(a * 2 ** 24) && Number.isInteger(b * 2 ** 24));
});

t('interleaved rand/randint (incl. range 1 and 64-bit ranges) match torch bit for bit', () => {
  for (const c of golden.cases) {
    const g = new TorchGenerator(c.seed);
    const got: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (const op of golden.ops) got.push(op[0] === 'rand' ? g.rand() : g.randint(op[1], op[2]));
    }
    assert.equal(got, c.values, `seed ${c.seed}`);
    const tail: number[] = [];
    for (let i = 0; i < c.tailFrom + c.tail.length; i++) {
      const v = g.randint(0, 1000003);
      if (i >= c.tailFrom) tail.push(v);
    }
    assert.equal(tail, c.tail, `seed ${c.seed}, draws across the twist boundary`);
  }
});

t('randint(lo, lo + 1) still consumes one draw', () => {
  const a = new TorchGenerator(3);
  const b = new TorchGenerator(3);
  assert.is(a.randint(5, 6), 5);
  b.nextU32();
  assert.is(a.nextU32(), b.nextU32());
});

t('ranges ≥ 2^32 consume two draws, the first as the high word', () => {
  const a = new TorchGenerator(11);
  const b = new TorchGenerator(11);
  const hi = b.nextU32();
  const lo = b.nextU32();
  const range = 2 ** 40;
  assert.is(a.randint(0, range), Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(range)));
  assert.is(a.nextU32(), b.nextU32());
});

t('seeds equal mod 2^32 give the same stream (torch seeds MT from the low 32 bits)', () => {
  const a = new TorchGenerator(5);
  const b = new TorchGenerator(2 ** 32 + 5);
  for (let i = 0; i < 10; i++) assert.is(a.nextU32(), b.nextU32());
  assert.is(b.initialSeed(), 5);
});

t('getState/setState resumes exactly, mid-buffer and across a twist', () => {
  const g = new TorchGenerator(123);
  for (let i = 0; i < 600; i++) g.nextU32();
  const s = g.getState();
  const want: number[] = [];
  for (let i = 0; i < 100; i++) want.push(g.randint(0, 1000), g.rand());
  const h = new TorchGenerator(999).setState(s);
  const got: number[] = [];
  for (let i = 0; i < 100; i++) got.push(h.randint(0, 1000), h.rand());
  assert.equal(got, want);
  // The snapshot is a copy: drawing more does not alter it.
  const again = new TorchGenerator().setState(s);
  assert.is(again.randint(0, 1000), want[0]);
});

t('rejects empty ranges and bad states with the values in the message', () => {
  const g = new TorchGenerator(0);
  assert.throws(() => g.randint(3, 3), /randint: need integers lo < hi, got \[3, 3\)/);
  assert.throws(() => g.setState({ mt: new Uint32Array(5), index: 0, seed: 0 }), /mt has 5 words, expected 624/);
  assert.throws(() => g.manualSeed(-1), /seed -1/);
});

t.run();
