export {
  STATE_DICT_KEYS,
  detectPytorchFormat,
  parseWeights,
  readPytorchCheckpoint,
  type PytorchCheckpoint,
  type PytorchFormat,
  type ReadPytorchCheckpointOptions,
} from './checkpoint.js';
export { ALLOWED_GLOBALS, TorchUnpicklePolicy, type StorageRequest } from './torch-globals.js';
export { PickleDict, PickleGlobal, PickleObject, describePickleValue, isTuple, type PickleValue } from './pickle-values.js';
export { StorageReference, TensorReference, materializeTensor, type CopyBudget } from './tensor-reference.js';
export { DEFAULT_UNPICKLE_LIMITS, unpickle, type UnpickleLimits, type UnpicklePolicy, type UnpickleResult } from './unpickler.js';
export { readZipArchive, type ZipEntry } from './zip-archive.js';
