/**
 * The shared `progress` option (see the README's "Options shared across vitzoo"): one callback,
 * events told apart by `stage`. Long jobs report counts: `{ stage: 'embed', loaded, total }`
 * (images through the backbone), `{ stage: 'soup', loaded, total }` (tensors averaged),
 * `{ stage: 'evaluate', loaded, total }` (greedy-soup candidates scored).
 */
export interface ProgressEvent {
  stage: 'download' | 'build' | 'session' | 'embed' | 'soup' | 'evaluate' | (string & {});
  /** The file concerned (downloads, graphs). */
  file?: string;
  /** Done so far: bytes for files, items for counted stages. */
  loaded?: number;
  /** The whole; undefined when unknown. */
  total?: number;
}

export type ProgressCallback = (event: ProgressEvent) => void;
