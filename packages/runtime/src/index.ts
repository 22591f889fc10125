export * from './backend.js';
export * from './session.js';
