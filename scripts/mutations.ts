// mutations: the planted bugs of scripts/mutate.ts. Each is a small realistic slip (a sign, an
// operand, an off-by-one, an epsilon, two steps in the wrong order) written as the exact text it
// replaces, so that a mutation whose text has moved is an error, not a silent no-op
// (test/mutations.test.ts checks that every `from` occurs exactly once). `tests` are the test
// files (test/run.ts filters) that should catch it, cheapest first; `checkStep` adds
// `ijepa check-step` on the golden bundles, for what concerns the training step.
// Deliberately not here: equivalent mutants (a max-subtraction by another constant, a reordered
// commutative sum), which no test can kill.

export interface Mutation {
  id: string;
  /** Repository-relative path. */
  file: string;
  from: string;
  to: string;
  /** test/run.ts filters (file-name substrings), run in order until one fails. */
  tests: string[];
  /** Also run `ijepa check-step test/golden/bundles/*.safetensors`. */
  checkStep?: boolean;
}

export const MUTATIONS: Mutation[] = [
  // ---- WGSL kernels ---------------------------------------------------------------------------
  { id: 'softmax-skips-first', file: 'kernels/softmax.wgsl.ts', from: 'for (var k = 0u; k < p.cols; k++) { let e = exp(',
    to: 'for (var k = 1u; k < p.cols; k++) { let e = exp(', tests: ['ops-nn'] },
  { id: 'softmax-backward-sign', file: 'kernels/softmax.wgsl.ts', from: '(f32(g[s + k]) - dot)', to: '(f32(g[s + k]) + dot)', tests: ['ops-nn'] },
  { id: 'reduce-drops-partial', file: 'kernels/reduce.wgsl.ts', from: 'o[i] = ${o}((s0 + s1) + (s2 + s3));', to: 'o[i] = ${o}((s0 + s1) + s2);',
    tests: ['ops-reduce'] },
  { id: 'reduce-max-off-by-one', file: 'kernels/reduce.wgsl.ts', from: 'for (var r = start + 1u; r < end; r++)',
    to: 'for (var r = start + 1u; r + 1u < end; r++)', tests: ['ops-reduce'] },
  { id: 'layernorm-drops-eps', file: 'kernels/layer-norm.wgsl.ts', from: 'let rs = inverseSqrt(total(q) * inv_d + p.eps);',
    to: 'let rs = inverseSqrt(total(q) * inv_d);', tests: ['ops-nn', 'fused'], checkStep: true },
  { id: 'layernorm-unbiased-var', file: 'kernels/layer-norm.wgsl.ts', from: '  let inv_d = 1.0 / f32(p.cols * W);\n  var s = V(0.0);',
    to: '  let inv_d = 1.0 / f32(p.cols * W - 1u);\n  var s = V(0.0);', tests: ['ops-nn', 'fused'], checkStep: true },
  { id: 'gelu-wrong-scale', file: 'kernels/elementwise.wgsl.ts', from: 'return 0.5 * x * (1.0 + erf_(x * 0.70710678118654752));',
    to: 'return 0.5 * x * (1.0 + erf_(x * 0.5));', tests: ['ops-elementwise'] },
  { id: 'gelu-grad-density', file: 'kernels/elementwise.wgsl.ts', from: 'x * 0.39894228040143268 * exp(-0.5 * x * x)',
    to: 'x * 0.39894228040143268 * exp(-x * x)', tests: ['ops-elementwise'] },
  { id: 'erf-odd-symmetry', file: 'kernels/elementwise.wgsl.ts', from: 'return select(-r, r, x >= 0.0);', to: 'return select(r, -r, x >= 0.0);',
    tests: ['ops-elementwise'] },
  { id: 'le-as-lt', file: 'kernels/elementwise-ops.ts', from: "le: compare(28, '<=',", to: "le: compare(28, '<',", tests: ['ops-elementwise'] },
  { id: 'attention-rescale-inverted', file: 'kernels/attention.wgsl.ts', from: 'let corr = exp2(m - mb);', to: 'let corr = exp2(mb - m);',
    tests: ['fused'] },
  { id: 'attention-lse-base2', file: 'kernels/attention.wgsl.ts', from: 'lse[h * p.nq + row] = (m + log2(l)) * LN2;',
    to: 'lse[h * p.nq + row] = m + log2(l);', tests: ['fused'] },
  { id: 'attention-dq-delta-sign', file: 'kernels/attention.wgsl.ts', from: '(dot(dp, vec4(1.0)) - D);', to: '(dot(dp, vec4(1.0)) + D);',
    tests: ['fused'] },
  { id: 'matmul-no-accumulate', file: 'kernels/matmul.wgsl.ts', from: 'acc[i][j] = fma(av[i], bv[j], acc[i][j]);', to: 'acc[i][j] = av[i] * bv[j];',
    tests: ['matmul-kernels', 'ops-nn'] },
  { id: 'matmul-residual-overwrites', file: 'kernels/matmul.wgsl.ts', from: "body.push('z += f32(residual[i]);');",
    to: "body.push('z = f32(residual[i]);');", tests: ['fused'] },
  { id: 'scatter-add-overwrites', file: 'kernels/gather.wgsl.ts', from: 'if (index[k] == i32(dest)) { s += f32(x[k]); }',
    to: 'if (index[k] == i32(dest)) { s = f32(x[k]); }', tests: ['ops-movement'] },
  { id: 'adamw-eps-inside-sqrt', file: 'kernels/optim.wgsl.ts', from: 'let denom = sqrt(vi) / s.bc2_sqrt + p.eps;',
    to: 'let denom = sqrt(vi + p.eps) / s.bc2_sqrt;', tests: ['optim', 'fused'], checkStep: true },
  { id: 'adamw-no-decay', file: 'kernels/optim.wgsl.ts', from: 'let decayed = theta${k}[j] * s.decay;', to: 'let decayed = theta${k}[j];',
    tests: ['optim', 'fused'], checkStep: true },
  { id: 'ema-momentum-swapped', file: 'kernels/optim.wgsl.ts', from: 'avg${k}[j] = avg${k}[j] * p.m + theta${k}[j] * p.one_minus_m;',
    to: 'avg${k}[j] = avg${k}[j] * p.one_minus_m + theta${k}[j] * p.m;', tests: ['optim', 'fused'], checkStep: true },
  // ---- kernel launchers ------------------------------------------------------------------------
  { id: 'adamw-bias-correction-no-sqrt', file: 'kernels/optim.ts', from: 'bc2Sqrt: Math.sqrt(1 - c.b2 ** s.step),',
    to: 'bc2Sqrt: 1 - c.b2 ** s.step,', tests: ['optim'], checkStep: true },
  { id: 'adamw-no-bias-correction', file: 'kernels/optim.ts', from: 'negStep: -(s.lr / (1 - c.b1 ** s.step)),', to: 'negStep: -s.lr,',
    tests: ['optim'], checkStep: true },
  // ---- engine ops -------------------------------------------------------------------------------
  { id: 'sqrt-grad-factor', file: 'kernels/elementwise-ops.ts', from: '(f, g, _x, y) => f.div(g, f.mul(y, 2))),',
    to: '(f, g, _x, y) => f.div(g, y)),', tests: ['ops-elementwise'] },
  { id: 'rsqrt-grad-sign', file: 'kernels/elementwise-ops.ts', from: 'f.mul(f.pow(y, 3), -0.5)', to: 'f.mul(f.pow(y, 3), 0.5)',
    tests: ['ops-elementwise'] },
  { id: 'div-grad-sign', file: 'kernels/elementwise-ops.ts', from: 'needs.b ? f.neg(f.div(f.mul(g, y), b)) : null',
    to: 'needs.b ? f.div(f.mul(g, y), b) : null', tests: ['ops-elementwise'] },
  { id: 'matmul-grad-transpose', file: 'engine/ops/table.ts', from: ': matmul(g, b, { transB: !transB });', to: ': matmul(g, b, { transB: transB });',
    tests: ['ops-nn'] },
  { id: 'max-grad-ties-not-split', file: 'engine/ops/table.ts', from: 'return [mul(isMax, div(keepShape(g, x, attrs), ties))];',
    to: 'return [mul(isMax, keepShape(g, x, attrs))];', tests: ['ops-reduce'] },
  { id: 'variance-ignores-correction', file: 'engine/ops/composite.ts',
    from: 'return mul(sum(mul(xc, xc), axes, keepdim), 1 / Math.max(0, n - correction));',
    to: 'return mul(sum(mul(xc, xc), axes, keepdim), 1 / Math.max(0, n));', tests: ['ops-reduce', 'ijepa.test'] },
  { id: 'layernorm-composite-eps-ignored', file: 'engine/ops/composite.ts', from: 'const rstd = rsqrt(add(mean(mul(xc, xc), -1, true), eps));',
    to: 'const rstd = rsqrt(add(mean(mul(xc, xc), -1, true), 1e-5));', tests: ['ops-nn', 'fused'] },
  { id: 'smooth-l1-offset', file: 'engine/ops/composite.ts', from: 'mul(mul(d, d), 0.5), sub(ad, 0.5)', to: 'mul(mul(d, d), 0.5), sub(ad, 1)',
    tests: ['ops-nn'], checkStep: true },
  { id: 'ema-composed-swapped', file: 'engine/optim/ema.ts', from: 't.assign(add(mul(t, momentum), mul(s, 1 - momentum)))',
    to: 't.assign(add(mul(t, 1 - momentum), mul(s, momentum)))', tests: ['optim', 'fused'] },
  { id: 'adamw-composed-no-bias-correction', file: 'engine/optim/adamw.ts', from: 'const stepSize = lr / (1 - b1 ** s.step);',
    to: 'const stepSize = lr;', tests: ['optim', 'fused'] },
  // ---- the I-JEPA step --------------------------------------------------------------------------
  { id: 'step-ema-before-adamw', file: 'model/ijepa.ts',
    from:
      '    this.optimizer.step({ lr: hyper.lr, wd: hyper.wd, invScale });\n    if (this.target_encoder) {\n      emaUpdate(trainableTwins(this.target_encoder, this.encoder), this.encoder.parameters(), hyper.momentum);\n    }\n',
    to:
      '    if (this.target_encoder) {\n      emaUpdate(trainableTwins(this.target_encoder, this.encoder), this.encoder.parameters(), hyper.momentum);\n    }\n    this.optimizer.step({ lr: hyper.lr, wd: hyper.wd, invScale });\n',
    tests: [], checkStep: true },
  { id: 'step-target-ln-eps', file: 'model/ijepa.ts', from: 'layerNorm(this.target_encoder.forward(x), null, null, 1e-5)',
    to: 'layerNorm(this.target_encoder.forward(x), null, null, 1e-6)', tests: [], checkStep: true },
  { id: 'step-ema-momentum-complement', file: 'model/ijepa.ts', from: 'this.encoder.parameters(), hyper.momentum);',
    to: 'this.encoder.parameters(), 1 - hyper.momentum);', tests: [], checkStep: true },
  { id: 'step-wd-wrong-group', file: 'model/ijepa.ts',
    from: "{ name: 'predictor/decayed', params: pred.filter(([n, t]) => isDecayed(n, t)).map(([, t]) => t) },",
    to: "{ name: 'predictor/decayed', params: pred.filter(([n, t]) => isDecayed(n, t)).map(([, t]) => t), weightDecay: 0 },", tests: [],
    checkStep: true },
  { id: 'step-norm-pix-eps', file: 'model/ijepa.ts', from: 'patches.var(-1, true, 1).add(1e-6)', to: 'patches.var(-1, true, 1).add(1e-5)',
    tests: ['ijepa.test'] },
  { id: 'vit-ln-eps', file: 'model/vit.ts', from: 'const LN_EPS = 1e-6;', to: 'const LN_EPS = 1e-5;', tests: [], checkStep: true },
  // ---- the data pipeline ------------------------------------------------------------------------
  { id: 'normalize-multiplies', file: 'model/data/transforms.ts', from: 'data[i] = ((data[i] as number) - m) / s;',
    to: 'data[i] = ((data[i] as number) - m) * s;', tests: ['data'] },
  { id: 'hflip-off-by-one', file: 'model/data/transforms.ts', from: 'for (let a = r * W, b = a + W - 1; a < b; a++, b--)',
    to: 'for (let a = r * W, b = a + W - 2; a < b; a++, b--)', tests: ['data'] },
  { id: 'rrc-aspect-not-log-uniform', file: 'model/data/transforms.ts', from: 'const aspect = Math.exp(rng.uniform(logLo, logHi));',
    to: 'const aspect = rng.uniform(ratio[0], ratio[1]);', tests: ['data'] },
  { id: 'fashion-mnist-std-unpadded', file: 'model/data/idx.ts', from: 'export const FASHION_MNIST_PADDED_STD = 0.3318;',
    to: 'export const FASHION_MNIST_PADDED_STD = 0.3530;', tests: ['data'] },
  { id: 'imagenet-std-channels-swapped', file: 'model/data/transforms.ts', from: 'export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;',
    to: 'export const IMAGENET_STD = [0.229, 0.225, 0.224] as const;', tests: ['data'] },
];

/** `text` (the contents of `m.file`) with mutation `m` applied; throws unless its `from` occurs exactly once. */
export function applyMutation(m: Mutation, text: string): string {
  const n = text.split(m.from).length - 1;
  if (n !== 1) throw new Error(`mutate: ${m.id}: ${m.file} holds its text ${n} times, expected once: ${JSON.stringify(m.from)}`);
  return text.replace(m.from, () => m.to);
}
