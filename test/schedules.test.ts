// schedules: the official lr / wd / EMA schedules against docs/ijepa-step.md §4.3 and a Python port of
// src/utils/schedulers.py (values below printed by that port with repr(), torch-free).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cosineWd, emaMomentum, scheduleAt, scheduleSteps, warmupCosineLr, type EmaSchedule, type LrSchedule,
  type WdSchedule } from '../model/schedules.ts';

/** Relative closeness; the cosine may differ from CPython's libm in the last ulp or two. */
function close(got: number, want: number, rtol = 1e-12, msg = ''): void {
  assert.ok(Math.abs(got - want) <= rtol * Math.abs(want) + 1e-300, `${msg} got ${got}, want ${want}`);
}

// ViT-H/14 IN-1K: 16 GPUs × 128 → ipe 625; 300 epochs, warmup 40, lr 2e-4 → 1e-3 → 1e-6,
// wd 0.04 → 0.4, ema 0.996 → 1.0. W = 25000, T = 187500.
const LR: LrSchedule = { ipe: 625, epochs: 300, warmupEpochs: 40, startLr: 2e-4, refLr: 1e-3, finalLr: 1e-6 };
const WD: WdSchedule = { ipe: 625, epochs: 300, refWd: 0.04, finalWd: 0.4 };
const EMA: EmaSchedule = { ipe: 625, epochs: 300, emaStart: 0.996, emaFinal: 1.0 };

const t = suite('schedules');

t('ViT-H/14: W = 25000, T = 187500', () => {
  assert.equal(scheduleSteps(LR), { warmup: 25000, total: 187500 });
});

t('ViT-H/14 example values of docs/ijepa-step.md §4.3', () => {
  close(warmupCosineLr(1, LR), 2.00032e-4, 1e-12, 'lr t=1');
  close(cosineWd(1, WD), 0.04, 1e-8, 'wd t=1');
  close(warmupCosineLr(25000, LR), 1e-3, 1e-12, 'lr t=25000');
  close(cosineWd(25000, WD), 0.05556, 1e-4, 'wd t=25000');
  // Iteration 25000 uses momentum index 24999 (0.99653329); index 25000 is 0.99653333. Both 0.996533.
  close(emaMomentum(24999, EMA), 0.996533, 1e-6, 'm iteration 25000');
  close(warmupCosineLr(93750, LR), 6.2004e-4, 1e-5, 'lr t=93750');
  close(cosineWd(93750, WD), 0.22, 1e-12, 'wd t=93750');
  close(warmupCosineLr(187500, LR), 1e-6, 1e-12, 'lr t=187500');
  close(cosineWd(187500, WD), 0.4, 1e-12, 'wd t=187500');
  // The last iteration (187500) uses index 187499 = 1 − 0.004/187500 ≈ 0.99999998; index 187500 is 1.
  close(emaMomentum(187499, EMA), 0.99999998, 5e-9, 'm last iteration (the docs print 8 decimals)');
  assert.is(emaMomentum(187500, EMA), 1.0);
});

t('ViT-H/14 matches the Python port of the official schedulers to ~1 ulp', () => {
  // [t, lr, wd, m(t − 1), m(t)]
  const rows: [number, number, number, number, number][] = [
    [1, 0.000200032, 0.04000000002526616, 0.996, 0.9960000213333333],
    [2, 0.00020006400000000001, 0.04000000010106475, 0.9960000213333333, 0.9960000426666666],
    [24999, 0.000999968, 0.05556059095859783, 0.9965332906666666, 0.996533312],
    [25000, 0.001, 0.05556181762433182, 0.996533312, 0.9965333333333334],
    [25001, 0.0009999999999066535, 0.05556304433622944, 0.9965333333333334, 0.9965333546666667],
    [93750, 0.0006200381743116352, 0.22, 0.9979999786666667, 0.998],
    [150000, 0.00012661888128853496, 0.36562305898749053, 0.9991999786666667, 0.9992],
    [187499, 1.0000000933465934e-06, 0.39999999997473384, 0.9999999573333334, 0.9999999786666667],
    [187500, 1e-06, 0.4, 0.9999999786666667, 1.0],
  ];
  for (const [k, lr, wd, mPrev, m] of rows) {
    close(warmupCosineLr(k, LR), lr, 1e-12, `lr t=${k}`);
    close(cosineWd(k, WD), wd, 1e-12, `wd t=${k}`);
    close(emaMomentum(k - 1, EMA), mPrev, 1e-15, `m i=${k - 1}`);
    close(emaMomentum(k, EMA), m, 1e-15, `m i=${k}`);
  }
});

t('fractional warmup, ipeScale 1.25: full trajectory incl. the turn past T, like the Python port', () => {
  // ipe 10, epochs 3, warmup 0.5 → W = 5; ipeScale 1.25 → T = int(37.5) = 37. Steps 1..40.
  const lr: LrSchedule = { ipe: 10, epochs: 3, ipeScale: 1.25, warmupEpochs: 0.5, startLr: 1e-5, refLr: 1e-3, finalLr: 1e-6 };
  const wd: WdSchedule = { ipe: 10, epochs: 3, ipeScale: 1.25, refWd: 0.04, finalWd: 0.4 };
  assert.equal(scheduleSteps(lr), { warmup: 5, total: 37 });
  const wantLr = [0.00020800000000000001, 0.00040600000000000006, 0.000604, 0.0008020000000000001, 0.001, 0.0009975947709727623,
    0.0009904022475614137, 0.0009784916976982383, 0.0009619778264893878, 0.0009410196715420034, 0.0009158190713451216, 0.0008866187214546872,
    0.0008536998372026805, 0.000817379445439741, 0.0007780073313932914, 0.0007359626700445861, 0.0006916503744663625, 0.0006454971962886039,
    0.0005979476158470562, 0.0005494595615946157, 0.0005005000000000001, 0.00045154043840538454, 0.00040305238415294404, 0.0003555028037113962,
    0.00030934962553363774, 0.0002650373299554142, 0.00022299266860670885, 0.00018362055456025916, 0.00014730016279731955, 0.00011438127854531287,
    8.51809286548786e-05, 5.9980328457996714e-05, 3.902217351061228e-05, 2.2508302301761696e-05, 1.0597752438586402e-05, 3.4052290272376897e-06,
    1e-06, 3.4052290272376346e-06, 1.0597752438586402e-05, 2.250830230176164e-05];
  const wantWd = [0.04064845206234524, 0.04258913613741244, 0.04580806955197014, 0.05028205981700484, 0.05597887173013555, 0.0628574596309861,
    0.07086826313610839, 0.07995356422268085, 0.09004790308818561, 0.10107854978978537, 0.11296602826522839, 0.12562468895969825, 0.1389633259328188,
    0.15288583399954442, 0.16729190117022094, 0.18207773140076927, 0.19713679244556181, 0.2123605834246933, 0.22763941657530665, 0.2428632075544382,
    0.25792226859923073, 0.2727080988297791, 0.28711416600045553, 0.30103667406718126, 0.3143753110403017, 0.3270339717347716, 0.33892145021021464,
    0.3499520969118144, 0.3600464357773191, 0.3691317368638916, 0.3771425403690139, 0.38402112826986445, 0.38971794018299516, 0.3941919304480298,
    0.39741086386258756, 0.3993515479376548, 0.4, 0.3993515479376548, 0.39741086386258756, 0.3941919304480298];
  // The lr value at t = 36 and t = 38 is the same cosine point; it sits near final, so allow a few ulps
  // of ref for the cancellation in final + (ref − final)·(…).
  for (let k = 1; k <= 40; k++) {
    assert.ok(Math.abs(warmupCosineLr(k, lr) - wantLr[k - 1]!) <= 1e-18 + 1e-12 * wantLr[k - 1]!, `lr t=${k}`);
    close(cosineWd(k, wd), wantWd[k - 1]!, 1e-12, `wd t=${k}`);
  }
  const ema: EmaSchedule = { ipe: 10, epochs: 3, ipeScale: 1.25, emaStart: 0.996, emaFinal: 1.0 };
  close(emaMomentum(1, ema), 0.9961066666666667, 1e-15);
  close(emaMomentum(37, ema), 0.9999466666666667, 1e-15, 'last of int(37.5) + 1 = 38 values');
  assert.throws(() => emaMomentum(38, ema), /index 38 outside the official generator's range \[0, 37\]/);
});

t('decreasing wd (ref > final) clamps with max, and turns back past T like the official code', () => {
  const wd: WdSchedule = { ipe: 10, epochs: 1, refWd: 0.4, finalWd: 0.04 };
  const want = [0.3911901729331277, 0.36562305898749053, 0.32580134541264516, 0.27562305898749057, 0.22000000000000003, 0.1643769410125095,
    0.11419865458735487, 0.07437694101250948, 0.04880982706687237, 0.04, 0.04880982706687237, 0.07437694101250944];
  for (let k = 1; k <= 12; k++) close(cosineWd(k, wd), want[k - 1]!, 1e-12, `wd t=${k}`);
});

t('scheduleAt(k): lr and wd at t = k, momentum at i = k − 1 (first iteration uses ema0 exactly)', () => {
  const o = { ...LR, refWd: 0.04, finalWd: 0.4, emaStart: 0.996, emaFinal: 1.0 };
  const first = scheduleAt(1, o);
  assert.is(first.momentum, 0.996);
  close(first.lr, 2.00032e-4);
  const last = scheduleAt(187500, o);
  assert.equal(last, { lr: warmupCosineLr(187500, LR), wd: cosineWd(187500, WD), momentum: emaMomentum(187499, EMA) });
});

t('rejects 0-based or fractional lr/wd steps and bad lengths, naming the value', () => {
  assert.throws(() => warmupCosineLr(0, LR), /step 0 must be an integer ≥ 1/);
  assert.throws(() => cosineWd(1.5, WD), /step 1.5/);
  assert.throws(() => emaMomentum(-1, EMA), /index -1/);
  assert.throws(() => warmupCosineLr(1, { ...LR, ipe: 0 }), /got ipe 0/);
});

t.run();
