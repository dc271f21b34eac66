// The elementwise op table is the one place an op is declared: the kernel's switch has exactly its
// cases (each op's code with its expression, copy as the only default), codes are unique, and the
// f64 twins are the table's. A missing case can no longer fall through to the identity.
// The engine derives each op's function, Tensor method and backward from the table's declaration.
import * as assert from 'uvu/assert';
import { ELEMENTWISE } from '../kernels/index.ts';
import { elementwise } from '../engine/ops/elementwise.ts';
import * as E from '../engine/index.ts';
import { checkLeaks, cpu, suite } from './helpers.ts';
import { ELEMENTWISE_F16_VEC4_WGSL, ELEMENTWISE_F16_WGSL, ELEMENTWISE_VEC4_WGSL, ELEMENTWISE_WGSL } from '../kernels/elementwise.wgsl.ts';

const t = suite('elementwise op table');
checkLeaks(t);

t('codes are unique', () => {
  const codes = Object.values(ELEMENTWISE).map((d) => d.code);
  assert.is(new Set(codes).size, codes.length);
});

for (const [name, text] of Object.entries({ ELEMENTWISE_WGSL, ELEMENTWISE_F16_WGSL, ELEMENTWISE_VEC4_WGSL, ELEMENTWISE_F16_VEC4_WGSL })) {
  t(`${name}: one case per op with its expression, and copy is the only default`, () => {
    const cases = [...text.matchAll(/case (\d+)u(, default)?: \{ return (.*); \}/g)].map((m) => ({ code: Number(m[1]), dflt: !!m[2], expr: m[3] }));
    assert.is(cases.length, Object.keys(ELEMENTWISE).length);
    for (const [op, d] of Object.entries(ELEMENTWISE)) {
      const c = cases.find((x) => x.code === d.code);
      assert.ok(c, `${op} (code ${d.code}) has no case`);
      assert.is(c.expr, d.wgsl, op);
      assert.is(c.dflt, op === 'copy', op);
    }
    assert.is((text.match(/default/g) ?? []).length, 1);
  });
}

t('the twins follow torch at the edges the kernels special-case', () => {
  assert.is(ELEMENTWISE.erf.ref(Infinity, 0, 0), 1);
  assert.is(ELEMENTWISE.erf.ref(-Infinity, 0, 0), -1);
  assert.is(ELEMENTWISE.gelu.ref(Infinity, 0, 0), Infinity);
  assert.is(ELEMENTWISE.sign.ref(0, 0, 0), 0);
  assert.is(ELEMENTWISE.tanh.ref(-Infinity, 0, 0), -1);
  assert.is(ELEMENTWISE.where.ref(0, 1, 2), 2);
  assert.is(ELEMENTWISE.where.ref(-3, 1, 2), 1);
  assert.is(ELEMENTWISE.ge.ref(2, 2, 0), 1);
  assert.is(ELEMENTWISE.maximum.ref(-2, -1, 0), -1, 'the third argument every twin gets is not an operand');
  assert.is(ELEMENTWISE.minimum.ref(2, 1, 0), 1);
});

t("every op of the table is a function, a public export of engine/index.ts, and a Tensor method but where (copy is table.ts's own op)", () => {
  for (const [op, d] of Object.entries(ELEMENTWISE)) {
    if (op === 'copy') continue;
    assert.type(elementwise[op as keyof typeof elementwise], 'function', op);
    assert.is((E as Record<string, unknown>)[op], elementwise[op as keyof typeof elementwise], `engine/index.ts exports ${op}`);
    assert.is(typeof (E.Tensor.prototype as unknown as Record<string, unknown>)[op], d.arity === 3 ? 'undefined' : 'function', op);
  }
});

t('an op declared with grad null records no tape; one with a rule does; geluGrad refuses a backward', () => {
  E.tidy(() => {
    const x = E.fromArray([1, -2, 3], [3], { backend: cpu, requiresGrad: true });
    assert.is(x.sign().requiresGrad, false, 'sign is piecewise constant');
    assert.is(x.gt(0).requiresGrad, false, 'comparisons give 0/1');
    assert.is(x.tanh().requiresGrad, true);
    assert.is(x.mul(2).node?.def.name, 'mul');
    const g = elementwise.geluGrad(x, x).sum();
    assert.throws(() => g.backward(), /geluGrad: no backward/);
  });
});

t.run();
