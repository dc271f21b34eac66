// interop: official I-JEPA checkpoints (.pth.tar, torch.save zip) and safetensors (official or
// Hugging Face IJepaModel names) to and from our train-state checkpoints, with no Python and no
// pickle code execution. See convert.ts for what is mapped and what is filled in.
export { importCheckpoint, exportCheckpoint, openSource, readTrainState, officialCheckpointValue } from './convert.ts';
export type { ImportOptions, ImportResult, ExportOptions, ExportFormat, SourceModel, SourceFormat, CheckpointMeta, TrainState } from './convert.ts';
export { hfToOfficial, officialToHf, looksLikeHf } from './hf.ts';
export type { LazyTensor, HostTensor } from './hf.ts';
export { officialLayout, encoderLayout, predictorLayout, officialParamGroups, guessConfig, NET_NAMES } from './layout.ts';
export type { ModelLayout, NetName, TensorSpec, ParamRef } from './layout.ts';
export { officialConfig, formatOfficialConfig, officialConfigPath, officialModelName, OFFICIAL_CONFIG_KEYS } from './official-config.ts';
export type { OfficialConfig, OfficialConfigOptions } from './official-config.ts';
export { unpickle, pickle, PickleError, PyDict, PyTuple, PyFloat, PyGlobal } from './pickle.ts';
export type { PyValue, Opaque, GlobalHandler, UnpickleOptions, PickleHooks } from './pickle.ts';
export { TorchFile, TorchTensor, TensorOut, TorchFileError, writeTorchFile } from './torch-file.ts';
export { ZipReader, ZipError, writeZip, crc32 } from './zip.ts';
