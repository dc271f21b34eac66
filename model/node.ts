// model/node: the parts of the model's own files that need Node (files, processes), apart from
// model/index.ts so that the model proper stays loadable in a browser tab. Train-state checkpoints
// (checkpoint.ts), the run's JSONL log (run-log.ts) and its folder lock (run-lock.ts), and the two
// file-system helpers they and the commands share: atomic writes and a mkdir -p that refuses
// pseudo-file systems.
export { writeFileAtomic } from './atomic-write.ts';
export { CHECKPOINT_FORMAT, NonFiniteError, firstNonFinite, finiteOrThrow, encodeTrainState, encodeCheckpoint, saveCheckpoint, readCheckpoint,
  checkTrainConfig, checkConfigPreset, readCheckpointMeta, loadCheckpoint, checkpointName, listCheckpoints, pruneCheckpoints } from './checkpoint.ts';
export type { TrainNets, CheckpointConfig, CheckpointContents, CheckpointFile } from './checkpoint.ts';
export { makeDirs } from './make-dirs.ts';
export { RunLockedError, processAlive, lockRunFolder } from './run-lock.ts';
export { appendRecord, cutLog } from './run-log.ts';
