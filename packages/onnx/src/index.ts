export * from './builder.js';
export * from './serialize.js';
export { OnnxDataType } from './schema.js';
