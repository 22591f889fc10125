import { dropKeys, unwrapStateDict, type StateDict } from '@vitzoo/core';

/**
 * Drops the weights of the training-only masked auto-encoder branch (`decoders.*`, they never
 * affect eval outputs) and a `module.` prefix left by DataParallel training. Does not modify its
 * input.
 */
export function filterFdvitCheckpoint(stateDict: StateDict): StateDict {
  return dropKeys(unwrapStateDict(stateDict), (key) => key.startsWith('decoders.'));
}
