/// <reference types="@webgpu/types" preserve="true" />
// model: I-JEPA itself, for programs that embed it (Node or a browser tab). The ViT context and
// target encoders, the predictor, the multi-block mask collator, the training step with its
// AdamW + EMA updates, the presets with their schema and their schedules, the step's memory and
// FLOP counts, and its parity check against a PyTorch step bundle. It imports only the engine,
// never Node (test/import-rules.test.ts): what needs Node is in model/node.ts, and the CLI, data
// loading, evaluation, interop and report live in sub-folders beside it, which reach the model
// through these two files only.
export { collapseStats } from './collapse.ts';
export type { CollapseStats } from './collapse.ts';
export { MAX_STEPS, MODEL_FIELDS, MASK_FIELDS, OPTIM_FIELDS, RUN_FIELDS, optionRange, fieldProblem, show, checkField,
  checkFields } from './config-schema.ts';
export type { Field, NumberField, PairField, ChoiceField, BooleanField } from './config-schema.ts';
export { stepFlops, trainableParams } from './flops.ts';
export type { StepFlops, StepShape } from './flops.ts';
export { fmt as formatShape } from './format-shape.ts';
export { IJepa, isDecayed } from './ijepa.ts';
export type { AsyncStepResult, IJepaOptions, StepHyper, StepMasks, StepResult, TargetKind } from './ijepa.ts';
export { MaskCollator, sampleBlockSize } from './masks.ts';
export type { MaskBatch, MaskCollatorOptions, MaskCollatorState, MaskMode, MaskSettings, BlockSize } from './masks.ts';
export { estimateStepMemory, formatBytes } from './memory-estimate.ts';
export type { StepMemory } from './memory-estimate.ts';
export { sincos2d } from './pos-embed.ts';
export { VisionTransformerPredictor } from './predictor.ts';
export type { PredictorConfig } from './predictor.ts';
export { PRESET_NAMES, getPreset, derivePreset, gridOf, validatePreset, validateModelConfig } from './presets.ts';
export type { Preset, ModelConfig, MaskConfig, OptimConfig } from './presets.ts';
export { warmupCosineLr, cosineWd, emaMomentum, scheduleAt, scheduleSteps } from './schedules.ts';
export type { LrSchedule, WdSchedule, EmaSchedule, ScheduleLength } from './schedules.ts';
export { DEFAULT_TOLERANCE, MEASURED_ERROR, TOLERANCE_FACTOR, toleranceKey, parseStepBundle, bundleModelConfig, loadModuleFrom, modelFromBundle,
  checkStepBundle, formatParityReport } from './step-bundle.ts';
export type { BundleConfig, ParityTolerance } from './step-bundle.ts';
export { VisionTransformer, PatchEmbed, Attention, Mlp, Block, patchify, applyMasks, repeatInterleaveBatch } from './vit.ts';
export type { EncoderConfig } from './vit.ts';
