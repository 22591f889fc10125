/** @vitzoo/swin/testing: the package's internals, for tests and for architectures built on them. */
export * from './config.js';
export * from './checkpoint.js';
export * from './windows.js';
export * from './graph.js';
export { swinVariants } from './variants.js';
