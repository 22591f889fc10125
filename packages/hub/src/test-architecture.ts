import { pretrainedConfig, type Architecture } from '@vitzoo/core';

/** A tiny architecture for tests: variant 'fake_tiny' with a hub tag, a release-file tag and one with no source. */
export const fakeArchitecture: Architecture<Record<string, unknown>> = {
  specificationVersion: 'v1',
  id: 'fake',
  variants: {
    fake_tiny: {
      kwargs: { width: 2 },
      pretrained: {
        hub: pretrainedConfig({ hfHubId: 'timm/fake_tiny.hub', size: 32 }),
        release: pretrainedConfig({ url: 'https://example.com/releases/fake_tiny.pth', file: 'fake_tiny.pth', size: 32, numClasses: 10 }),
        nowhere: pretrainedConfig({ size: 32 }),
      },
    },
  },
  parseConfig: (kwargs) => ({ width: 2, num_classes: 1000, ...kwargs }),
  checkpointShapes: (config) => ({ 'head.weight': [config.num_classes as number, config.width as number], 'head.bias': [config.num_classes as number] }),
  buildGraph: () => {
    throw new Error('not used');
  },
};
