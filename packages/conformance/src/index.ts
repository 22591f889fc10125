export * from './case.js';
export * from './weights.js';
export * from './precision.js';
