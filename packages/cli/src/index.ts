export { run, createProgram, EXIT, JSON_FORMAT_VERSION } from './run.js';
export type { CliIo } from './io.js';
export { readModelFolder, type ModelSource } from './model-dir.js';
export { loadPlugin } from './plugins.js';
export { writeFileAtomic } from './write-file.js';
