/**
 * Weights files are read by @vitzoo/pytorch/node, the one implementation every package shares
 * (safetensors, or the safe PyTorch reader for `.pth`/`.pt`/`.bin` and sniffed torch archives).
 */
export { loadWeights, readRequiredFile } from '@vitzoo/pytorch/node';
