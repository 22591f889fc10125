export * from './errors.js';
export * from './tensor.js';
export * from './safetensors.js';
export * from './architecture.js';
export * from './checkpoint.js';
export * from './config.js';
export * from './registry.js';
export * from './convert.js';
