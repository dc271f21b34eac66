// flops: the analytic step FLOPs of model/flops.ts against a count by hand for a tiny config,
// and its parameter count against the parameters a real IJepa allocates.
import * as assert from 'uvu/assert';
import { measurePeakGflops } from '../engine/index.ts';
import { IJepa } from '../model/ijepa.ts';
import { stepFlops, trainableParams } from '../model/flops.ts';
import { getPreset, type ModelConfig } from '../model/presets.ts';
import { checkLeaks, cpu, gpu, suite } from './helpers.ts';

const t = suite('flops');
checkLeaks(t);

// G 2 (N 4), one channel, 4 pixels per patch, D = Dp = 4, h 8, one head, one block each
const tinyCfg: ModelConfig = { imgSize: 4, chans: 1, patchSize: 2, dim: 4, depth: 1, heads: 1, mlpRatio: 2, predDepth: 1, predDim: 4,
  patchEmbedStd: 0.02 };

t('a tiny step matches the count by hand, per family', () => {
  const f = stepFlops(tinyCfg, { batch: 1, kc: 2, kt: 1, nenc: 1, npred: 1 });
  // matmul. target (×1): patch 2·4·4·4 = 128; block over 4 tokens: qkv 384 + proj 128 + fc1 256 + fc2 256.
  // context: patch 128 ×2; block over 2 tokens: 192 + 64 + 128 + 128 = 512, ×3.
  // predictor (×3): embed 2·2·4·4 = 64; block over 3 tokens: 288 + 96 + 192 + 192 = 768; proj 2·1·4·4 = 32.
  assert.is(f.matmul, (128 + 1024) + 256 + 512 * 3 + (64 + 768 + 32) * 3);
  // attention: 4·n²·W per sequence: target 4·16·4 = 256; context 4·4·4 = 64 ×3; predictor 4·9·4 = 144 ×3
  assert.is(f.attention, 256 + 64 * 3 + 144 * 3);
  // rest. target: block LN 224 + GELU 256 + residuals 32 + biases 112 + softmax 80 = 704; patch bias +
  // positions 32; final LN 7·16 and the loss target's LN 5·16 = 192.
  // context: patch 32 ×2; (block LN 112 + GELU 128 + residuals 16 + biases 56 + softmax 20, final LN 56) ×3.
  // predictor ×3: embed bias + positions 16, mask token + positions 4, block LN 168 + GELU 192 +
  // residuals 24 + biases 84 + softmax 45, norm 84, proj bias 4 + loss 16.
  // AdamW 12 × (encoder 200 + predictor 224 parameters); EMA 3 × 200.
  assert.is(f.rest, (704 + 32 + 192) + (64 + (332 + 56) * 3) + (16 + 4 + 513 + 84 + 20) * 3 + 12 * 424 + 3 * 200);
  assert.is(f.total, f.matmul + f.attention + f.rest);
  assert.is(trainableParams(tinyCfg), 424);
});

t('the parameter count is what IJepa allocates (features and pixel targets)', () => {
  for (const target of ['features', 'pixels'] as const) {
    for (const cfg of [getPreset('micro').model, getPreset('tiny').model]) {
      const model = new IJepa(cfg, { target });
      try {
        const n = [model.encoder, model.predictor].flatMap((m) => m.parameters()).reduce((s, p) => s + p.size, 0);
        assert.is(trainableParams(cfg, target), n, `${target}, dim ${cfg.dim}`);
      } finally {
        model.dispose();
      }
    }
  }
});

t('pixel targets drop the target encoder and the EMA', () => {
  const f = stepFlops(tinyCfg, { batch: 1, kc: 2, kt: 1, nenc: 1, npred: 1, target: 'pixels' });
  const feats = stepFlops(tinyCfg, { batch: 1, kc: 2, kt: 1, nenc: 1, npred: 1 });
  // out = C·p² = 4 = D here, so only the target encoder (matmul 1152, attention 256) and the EMA go
  assert.is(feats.matmul - f.matmul, 1152);
  assert.is(feats.attention - f.attention, 256);
  assert.is(feats.rest - f.rest, 928 + 600);
});

t('measurePeakGflops: a positive rate on the WebGPU device, an error on the CPU reference', async () => {
  const g = await measurePeakGflops(gpu());
  assert.ok(Number.isFinite(g) && g > 0, `peak ${g} GFLOP/s`);
  let err: unknown = null;
  await measurePeakGflops(cpu).catch((e: unknown) => {
    err = e;
  });
  assert.match(String(err), /measurePeakGflops: needs the WebGPU backend, not cpu/);
});

t.run();
