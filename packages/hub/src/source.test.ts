import { describe, expect, it } from 'vitest';
import { createRegistry, InvalidArgumentError, UnknownModelError, type Architecture } from '@vitzoo/core';
import { fakeArchitecture } from './test-architecture.js';
import { configLayout, folderLayout } from './layout.js';
import { checkRepoFileName } from './names.js';
import { hubFileUrl, hubSettings, normalizeEtag } from './hub.js';
import { parseModelSource } from './source.js';

describe('parseModelSource', () => {
  const registry = createRegistry([fakeArchitecture as Architecture]);

  it('hub ids, revisions and hf-hub: prefixes', () => {
    expect(parseModelSource('org/repo')).toEqual({ kind: 'hub', repo: 'org/repo', revision: 'main' });
    expect(parseModelSource('hf-hub:timm/vit_tiny_patch16_224.augreg_in21k@v1.0')).toEqual({ kind: 'hub', repo: 'timm/vit_tiny_patch16_224.augreg_in21k', revision: 'v1.0' });
    expect(parseModelSource('org/repo', { revision: 'dev' })).toEqual({ kind: 'hub', repo: 'org/repo', revision: 'dev' });
    expect(() => parseModelSource('org/repo@../../x')).toThrow(InvalidArgumentError);
  });

  it('URLs and paths', () => {
    expect(parseModelSource('https://example.com/a/model.onnx')).toEqual({ kind: 'url', url: 'https://example.com/a/model.onnx' });
    for (const path of ['./models/x', '../x', '/abs/x', '~/x', 'C:\\models\\x', 'a/b/c']) expect(parseModelSource(path).kind, path).toBe('local');
  });

  it('registry names resolve to their hub repo or release url', () => {
    const hub = parseModelSource('fake_tiny', { registry });
    expect(hub).toMatchObject({ kind: 'registry', name: 'fake_tiny.hub', hub: { repo: 'timm/fake_tiny.hub', revision: 'main' } });
    expect(parseModelSource('fake_tiny.release', { registry })).toMatchObject({ kind: 'registry', name: 'fake_tiny.release', url: 'https://example.com/releases/fake_tiny.pth' });
    const nowhere = parseModelSource('fake_tiny.nowhere', { registry });
    expect(nowhere.kind === 'registry' && nowhere.hub === undefined && nowhere.url === undefined).toBe(true);
    expect(() => parseModelSource('fake_tinny', { registry })).toThrow(UnknownModelError);
    expect(() => parseModelSource('fake_tiny')).toThrow(/no registry was given/);
    expect(() => parseModelSource('  ')).toThrow(InvalidArgumentError);
  });
});

describe('hub protocol helpers', () => {
  it('builds resolve URLs with encoded parts; HF_ENDPOINT and HF_TOKEN from the environment', () => {
    expect(hubFileUrl('https://hf.example/', 'org/repo', 'refs/pr/1', 'onnx/model q.onnx')).toBe('https://hf.example/org/repo/resolve/refs%2Fpr%2F1/onnx/model%20q.onnx');
    const settings = hubSettings({}, { HF_ENDPOINT: 'http://127.0.0.1:9/', HF_TOKEN: 'tok' });
    expect(settings.endpoint).toBe('http://127.0.0.1:9');
    expect(settings.token).toBe('tok');
    expect(hubSettings({}, {}).endpoint).toBe('https://huggingface.co');
    expect(() => hubSettings({ endpoint: 'ftp://x' })).toThrow(InvalidArgumentError);
    expect(() => hubSettings({ timeoutMs: 0 })).toThrow(InvalidArgumentError);
  });

  it('normalises ETags', () => {
    expect(normalizeEtag('W/"abc"')).toBe('abc');
    expect(normalizeEtag('"abc"')).toBe('abc');
    expect(normalizeEtag(null)).toBeUndefined();
  });

  it('accepts nested repo file names and refuses traversal', () => {
    expect(checkRepoFileName('onnx/model.onnx')).toBe('onnx/model.onnx');
    for (const bad of ['..', '../a', 'a/../../b', '/a', 'a\\b', 'C:x', 'a/./b', 'a\u0000b']) expect(() => checkRepoFileName(bad), bad).toThrow(InvalidArgumentError);
  });
});

describe('layouts', () => {
  it('from config.json contents', () => {
    expect(configLayout({ architecture: 'vit_tiny_patch16_224', num_classes: 10 })).toBe('timm');
    expect(configLayout({ model_type: 'vit', architectures: ['ViTForImageClassification'] })).toBe('onnx');
    expect(() => configLayout({ foo: 1 })).toThrow(/neither a timm config/);
    expect(() => configLayout([1])).toThrow(InvalidArgumentError);
  });

  it('from a folder listing', () => {
    expect(folderLayout(['config.json', 'model.safetensors'])).toEqual({ layout: 'timm', modelFile: 'model.safetensors' });
    expect(folderLayout(['config.json', 'pytorch_model.bin'])).toEqual({ layout: 'timm', modelFile: 'pytorch_model.bin' });
    const onnx = ['config.json', 'preprocessor_config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx'];
    expect(folderLayout(onnx)).toEqual({ layout: 'onnx', modelFile: 'onnx/model.onnx' });
    expect(folderLayout(onnx, { quantized: true })).toEqual({ layout: 'onnx', modelFile: 'onnx/model_quantized.onnx' });
    expect(folderLayout(['model.onnx'])).toEqual({ layout: 'onnx', modelFile: 'model.onnx' });
    expect(folderLayout(['config.json', 'cswin_tiny_224.pth'])).toEqual({ layout: 'timm', modelFile: 'cswin_tiny_224.pth' });
    expect(folderLayout(['README.md'])).toBeUndefined();
  });
});
