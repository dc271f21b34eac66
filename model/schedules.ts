// schedules: the official I-JEPA lr, weight-decay and EMA-momentum schedules as pure functions.
//
// Source: src/utils/schedulers.py (WarmupCosineSchedule, CosineWDSchedule), src/helper.py (init_opt)
// and src/train.py (the momentum generator); docs/ijepa-step.md §4.3. With
//   W = int(warmupEpochs · ipe),  T = int(ipeScale · epochs · ipe):
//   lr(t)  = start + (t/W)(ref − start)                                   for t < W
//          = max(final, final + (ref − final)·½(1 + cos πq)),  q = (t − W)/max(1, T − W)   otherwise
//   wd(t)  = final + (ref − final)·½(1 + cos π t/T), then max(final, ·) if final ≤ ref, else min(final, ·)
//   m(i)   = ema0 + i·(ema1 − ema0)/(ipe · epochs · ipeScale),   i = 0 … int(ipe · epochs · ipeScale)
//
// Counters, the classic off-by-one: lr and wd are stepped BEFORE the forward and their counters are
// incremented before use, so iteration 1 (the first) uses t = 1 and iteration k uses t = k. The
// momentum is a 0-based generator consumed AFTER the optimizer step, so iteration k uses i = k − 1
// (the first EMA update uses exactly ema0). `scheduleAt(k)` returns all three for iteration k.
// Resuming at a step is just evaluating at that step: nothing here has state.
//
// Faithful on purpose, where the official code is odd: nothing clamps t ≤ T, so past T the lr and
// the (rising) wd turn back along the cosine (only reachable with ipeScale > 1, whose stretch is
// exactly what keeps training short of T); the momentum generator ends at i = int(ipe·epochs·ipeScale),
// and asking past it throws like the exhausted Python generator would. ipeScale defaults to 1.0, the
// value in every config (init_opt's own default of 1.25 is never used by train.py).
// Deliberately not here: optimizer param groups (wd applies to groups 0/1 only; that is the
// optimizer's business), and any notion of epochs beyond ipe.

/** How long the schedules are: iterations per epoch, epochs, and the official stretch factor. */
export interface ScheduleLength {
  /** Iterations per epoch (len(loader) with drop_last). */
  ipe: number;
  /** Training epochs. */
  epochs: number;
  /** Stretches every schedule past the end of training when > 1. Default 1.0 (all configs). */
  ipeScale?: number;
}

/** Linear warmup from startLr to refLr, then cosine to finalLr (the official WarmupCosineSchedule). */
export interface LrSchedule extends ScheduleLength {
  /** Warmup length in epochs (may be fractional); W = int(warmupEpochs · ipe) iterations. */
  warmupEpochs: number;
  startLr: number;
  /** Peak lr: WarmupCosineSchedule's `ref_lr`, the official yaml's `optimization.lr` (presets keep the name). */
  refLr: number;
  finalLr: number;
}

/** Cosine weight decay from refWd to finalWd (the official CosineWDSchedule). */
export interface WdSchedule extends ScheduleLength {
  /** Weight decay at t = 0 (config `weight_decay`, 0.04). */
  refWd: number;
  /** Weight decay at t = T (config `final_weight_decay`, 0.4): the cosine RISES when final > ref. */
  finalWd: number;
}

/** EMA momentum rising linearly from emaStart towards emaFinal over the schedule. */
export interface EmaSchedule extends ScheduleLength {
  /** First momentum (config ema[0], 0.996). */
  emaStart: number;
  /** Momentum approached at the end (config ema[1], 1.0). */
  emaFinal: number;
}

/** W and T in iterations, with Python's int() truncation. */
export function scheduleSteps(o: LrSchedule | ScheduleLength): { warmup: number; total: number; } {
  const ipeScale = o.ipeScale ?? 1.0;
  checkLength(o, ipeScale);
  const warmup = 'warmupEpochs' in o ? Math.trunc(o.warmupEpochs * o.ipe) : 0;
  return { warmup, total: Math.trunc(ipeScale * o.epochs * o.ipe) };
}

/** Learning rate at 1-based step t (WarmupCosineSchedule after its t-th step()). */
export function warmupCosineLr(t: number, o: LrSchedule): number {
  checkStep('warmupCosineLr', t);
  const { warmup: W, total: T } = scheduleSteps(o);
  if (t < W) {
    const progress = t / Math.max(1, W);
    return o.startLr + progress * (o.refLr - o.startLr);
  }
  // Official: T_max = T − W, progress over max(1, T_max).
  const progress = (t - W) / Math.max(1, T - W);
  return Math.max(o.finalLr, o.finalLr + (o.refLr - o.finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Weight decay at 1-based step t (CosineWDSchedule after its t-th step()). */
export function cosineWd(t: number, o: WdSchedule): number {
  checkStep('cosineWd', t);
  const { total: T } = scheduleSteps(o);
  if (T <= 0) throw new RangeError(`cosineWd: T = int(ipeScale·epochs·ipe) is ${T}; the official code divides by it`);
  const progress = t / T;
  const wd = o.finalWd + (o.refWd - o.finalWd) * 0.5 * (1 + Math.cos(Math.PI * progress));
  return o.finalWd <= o.refWd ? Math.max(o.finalWd, wd) : Math.min(o.finalWd, wd);
}

/** EMA momentum with 0-based index i (the i-th value of train.py's momentum_scheduler generator). */
export function emaMomentum(i: number, o: EmaSchedule): number {
  const ipeScale = o.ipeScale ?? 1.0;
  checkLength(o, ipeScale);
  const denom = o.ipe * o.epochs * ipeScale; // a float product, not truncated (unlike its length)
  const last = Math.trunc(denom);
  if (!Number.isInteger(i) || i < 0 || i > last) {
    throw new RangeError(`emaMomentum: index ${i} outside the official generator's range [0, ${last}]`);
  }
  return o.emaStart + (i * (o.emaFinal - o.emaStart)) / denom;
}

/** lr, wd and momentum used by 1-based training iteration k (lr/wd at t = k, momentum at i = k − 1). */
export function scheduleAt(
  k: number,
  o: LrSchedule & Omit<WdSchedule, keyof ScheduleLength> & Omit<EmaSchedule, keyof ScheduleLength>,
): { lr: number; wd: number; momentum: number; } {
  return { lr: warmupCosineLr(k, o), wd: cosineWd(k, o), momentum: emaMomentum(k - 1, o) };
}

function checkStep(name: string, t: number): void {
  if (!Number.isInteger(t) || t < 1) {
    throw new RangeError(`${name}: step ${t} must be an integer ≥ 1 (the official counter is 1-based)`);
  }
}

function checkLength(o: ScheduleLength, ipeScale: number): void {
  if (!Number.isInteger(o.ipe) || o.ipe < 1 || !(o.epochs > 0) || !(ipeScale > 0)) {
    throw new RangeError(`schedules: need integer ipe ≥ 1, epochs > 0, ipeScale > 0; got ipe ${o.ipe}, ` +
      `epochs ${o.epochs}, ipeScale ${ipeScale}`);
  }
}
