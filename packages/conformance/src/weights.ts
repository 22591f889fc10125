/**
 * Weights and file reading are shared with the model pipeline: one implementation (safetensors, or
 * the safe PyTorch reader for `.pth`/`.pt`/`.bin` and sniffed torch archives) in @vitzoo/pipeline/node.
 */
export { loadWeights, readRequiredFile } from '@vitzoo/pipeline/node';
