/**
 * Progress reports, one shape across vitzoo (the `progress` option of the pipeline README's
 * shared options): downloads report bytes per file, conversion reports the build (and, when the
 * graph is written to a cache, its bytes), and `session` marks the runtime session starting.
 * Long jobs add their own stages with `loaded` / `total` counts.
 */
export interface ProgressEvent {
  /** 'download' (bytes of `file`), 'build' (conversion; graph bytes written when cached), 'session' (runtime session starting), or a job's own stage. */
  stage: 'download' | 'build' | 'session' | (string & {});
  /** The file the bytes belong to (downloads; the graph file when a built graph is written). */
  file?: string;
  /** Done so far (bytes for downloads and graph writes). */
  loaded?: number;
  /** The whole amount, undefined when unknown (e.g. no Content-Length). */
  total?: number;
}

export type ProgressListener = (event: ProgressEvent) => void;
