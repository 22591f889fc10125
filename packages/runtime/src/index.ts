export * from './backend.js';
export * from './session.js';
export * from './precision.js';
