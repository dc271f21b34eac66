// model/eval: frozen-feature evaluation of an encoder (docs/ijepa-step.md §7, docs/small-recipe.md).
// `ijepa eval` (model/cli/eval.ts) runs `evaluateFeatures` on the trained encoder, its random-init
// control and raw pixels; `ijepa embed` writes `extractFeatures` to a file.
export { evalView, fashionMnistImages, fashionMnistSplits, folderImages, folderSplits } from './datasets.ts';
export type { EvalImages, EvalSplits } from './datasets.ts';
export { FEATURE_KINDS, featureDim, encodeBatch, encoderTokens, extractFeatures, pixelFeatures } from './features.ts';
export type { FeatureKind, FeatureOptions, ImageBatches } from './features.ts';
export { accuracyOf, knnClassify, numClassesOf } from './knn.ts';
export type { KnnOptions, KnnResult } from './knn.ts';
export { DEFAULT_LRS, DEFAULT_WEIGHT_DECAYS, columnStats, crossEntropy, fitLogisticRegression, fitLogisticRegressions, linearProbe,
  predictProbe } from './linear-probe.ts';
export type { FitOptions, FittedProbe, LabelledFeatures, ProbeOptions, ProbeResult } from './linear-probe.ts';
export { lowShotIndices, lowShotName, lowShotPerClass, lowShotProbe } from './low-shot.ts';
export type { LowShotResult, LowShotSpec } from './low-shot.ts';
export { evaluateFeatures, lowShotSpecs } from './protocol.ts';
export type { ProtocolOptions, ProtocolResult } from './protocol.ts';
export { QUICK_PROBE_BANK, QUICK_PROBE_TEST, QuickProbe } from './quick-probe.ts';
export type { QuickProbeResult } from './quick-probe.ts';
export { EVAL_FORMAT, resultsTable } from './results-table.ts';
export type { ResultsTable } from './results-table.ts';
export { cacheDir, cachedRow, splitIdentity } from './row-cache.ts';
export { classBalancedSample, indicesByClass, stratifiedSplit, takeLabels, takeRows } from './sampling.ts';
