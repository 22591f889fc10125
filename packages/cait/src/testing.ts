/** @vitzoo/cait/testing: the package's internals, for tests and for architectures built on them. */
export * from './config.js';
export * from './checkpoint.js';
export * from './graph.js';
export { caitVariants } from './variants.js';
