/**
 * @vitzoo/onnx/layers: the graph layers every architecture (and third-party plugin) is built from.
 * One implementation of weight lookup, Linear, LayerNorm, GELU, MLP, Conv, attention, token
 * layouts and outputs, so build options (precision, extra outputs) reach every architecture.
 */
export * from './layers/graph-layers.js';
export * from './layers/attention.js';
export * from './layers/precision.js';
export * from './layers/resample.js';
export * from './layers/pooled-head.js';
