export * from './case.js';
export * from './weights.js';
