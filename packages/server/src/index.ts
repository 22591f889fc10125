export { createServer, DEFAULT_BODY_LIMIT, type ServerOptions, type ServerLoggerOptions, type VitzooServer } from './server.js';
export { MODEL_NAME, type ServedModelSource, type ModelSignature, type TensorMetadata } from './served-model.js';
export { Batcher, QueueFullError, Ticket, type BatcherOptions, type BatchObserver, type RunBatch } from './batcher.js';
export { createMetrics, type ServerMetrics } from './metrics.js';
export {
  HEADER_CONTENT_LENGTH,
  PROTOCOL_EXTENSIONS,
  classificationStrings,
  encodeInferenceResponse,
  readBytes,
  readFloat32,
  readInferenceRequest,
  splitBody,
  type EncodedResponse,
  type InferenceRequest,
  type Parameters,
  type RequestInput,
  type RequestedOutput,
  type ResponseOutput,
} from './protocol.js';
