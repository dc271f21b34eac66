/// <reference types="@webgpu/types" preserve="true" />
// model: I-JEPA itself, for programs that embed it (Node or a browser tab). The ViT context and
// target encoders, the predictor, the multi-block mask collator, the training step with its
// AdamW + EMA updates, the presets and their schedules. It imports only the engine, never Node:
// the CLI, data loading, evaluation, interop and report live beside it and are not exported here.
export { IJepa, isDecayed } from './ijepa.ts';
export type { AsyncStepResult, IJepaOptions, StepHyper, StepMasks, StepResult, TargetKind } from './ijepa.ts';
export { stepFlops, trainableParams } from './flops.ts';
export type { StepFlops, StepShape } from './flops.ts';
export { VisionTransformer, PatchEmbed, Attention, Mlp, Block, patchify, applyMasks, repeatInterleaveBatch } from './vit.ts';
export type { EncoderConfig } from './vit.ts';
export { VisionTransformerPredictor } from './predictor.ts';
export type { PredictorConfig } from './predictor.ts';
export { MaskCollator, sampleBlockSize } from './masks.ts';
export type { MaskBatch, MaskCollatorOptions, MaskCollatorState, MaskMode, MaskSettings, BlockSize } from './masks.ts';
export { PRESET_NAMES, getPreset, derivePreset, gridOf, validatePreset, validateModelConfig } from './presets.ts';
export type { Preset, ModelConfig, MaskConfig, OptimConfig } from './presets.ts';
export { warmupCosineLr, cosineWd, emaMomentum, scheduleAt, scheduleSteps } from './schedules.ts';
export type { LrSchedule, WdSchedule, EmaSchedule, ScheduleLength } from './schedules.ts';
export { sincos2d } from './pos-embed.ts';
export { collapseStats } from './collapse.ts';
export type { CollapseStats } from './collapse.ts';
