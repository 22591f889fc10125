import { unwrapStateDict, type StateDict } from '@vitzoo/core';

/**
 * The authors' checkpoints need no renaming (their state_dict keys are what the graph reads); a
 * `module.` prefix left by DataParallel training is stripped. Does not modify its input.
 */
export function filterCswinCheckpoint(stateDict: StateDict): StateDict {
  return unwrapStateDict(stateDict);
}
