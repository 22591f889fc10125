import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { createProgram } from '../run.js';
import { captureIo } from '../test-io.js';
import { parseModelArguments } from './serve.js';

// The deployment files are not run here (no cluster, no Docker): they are parsed, and checked
// against each other and against the real `vitzoo serve` command.
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, 'deploy', path), 'utf8');
/** Parsed YAML, checked field by field. */
type Yaml = any;

const serve = createProgram(captureIo(root), { code: 0 }).commands.find((command: Command) => command.name() === 'serve')!;
const flags = new Set(serve.options.flatMap((option) => [option.long, option.short].filter(Boolean)));

/** Checks container args against the serve command: every flag exists, and the models parse. */
function checkServeArguments(args: readonly string[]): { name: string; source: string }[] {
  const models: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    expect(arg.startsWith('-'), `argument '${arg}' is a value without a flag`).toBe(true);
    expect(flags.has(arg), `vitzoo serve has no option ${arg}`).toBe(true);
    const value = args[++i]!;
    expect(typeof value).toBe('string');
    if (arg === '--model' || arg === '-m') models.push(value);
  }
  return parseModelArguments(models);
}

const PORT = 8080;

describe('deploy/: the Docker image and the KServe manifests', () => {
  test('the Dockerfile: Node 20 slim, `vitzoo serve` as entry point on 0.0.0.0:8080, models from /mnt/models, the cache a volume', () => {
    const dockerfile = read('Dockerfile');
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
    expect(stages).toEqual(['node:20-slim', 'node:20-slim']);
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint.slice(0, 3)).toEqual(['node', '/app/dist/bin.js', 'serve']);
    const command = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    checkServeArguments([...entrypoint.slice(3), ...command]);
    expect(entrypoint.slice(3)).toEqual(['--host', '0.0.0.0', '--port', String(PORT)]);
    expect(command).toEqual(['--model', '/mnt/models']);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/VITZOO_CACHE=\/var\/cache\/vitzoo/);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/cache\/vitzoo"\]$/m);
    // pnpm version as the repository pins it.
    const packageManager = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
    expect(dockerfile).toContain(`npm install -g ${packageManager}`);
  });

  test('inference-service.yaml: a custom predictor container speaking v2, probed on the health routes, scaled on concurrency, with the model cache volume', () => {
    const service: Yaml = parse(read('kserve/inference-service.yaml'));
    const cache: Yaml = parse(read('kserve/model-cache.yaml'));
    expect(service.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(service.kind).toBe('InferenceService');
    const predictor = service.spec.predictor;
    expect(predictor).toMatchObject({ minReplicas: 1, scaleMetric: 'concurrency' });
    expect(predictor.maxReplicas).toBeGreaterThan(predictor.minReplicas);
    expect(predictor.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30); // time to drain
    expect(predictor.containers).toHaveLength(1);
    const container = predictor.containers[0];
    expect(container.name).toBe('kserve-container');
    const env = Object.fromEntries(container.env.map((variable: Yaml) => [variable.name, variable.value]));
    expect(env.PROTOCOL).toBe('v2'); // KServe's protocol switch for custom predictors
    expect(container.ports).toEqual([{ containerPort: PORT, protocol: 'TCP' }]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: PORT });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: PORT });
    const models = checkServeArguments(container.args);
    expect(models).toEqual([{ name: 'deit', source: 'timm/deit_small_patch16_224.fb_in1k' }]);
    // Autoscaling keeps about one full batch in flight per replica.
    const maxBatch = Number(container.args[container.args.indexOf('--max-batch') + 1]);
    expect(predictor.scaleTarget).toBe(maxBatch);
    // The cache volume: the claim model-cache.yaml creates, mounted where VITZOO_CACHE points.
    expect(cache).toMatchObject({ apiVersion: 'v1', kind: 'PersistentVolumeClaim' });
    expect(cache.spec.accessModes).toEqual(['ReadWriteMany']);
    const volume = predictor.volumes.find((candidate: Yaml) => candidate.persistentVolumeClaim?.claimName === cache.metadata.name);
    expect(volume).toBeDefined();
    expect(container.volumeMounts).toEqual([{ name: volume.name, mountPath: env.VITZOO_CACHE }]);
    // --threads matches the CPUs the container may use.
    expect(container.args[container.args.indexOf('--threads') + 1]).toBe(String(container.resources.limits.cpu));
  });

  test('serving-runtime.yaml + inference-service-runtime.yaml: a ServingRuntime for protocolVersion v2 and a model that runs on it', () => {
    const runtime: Yaml = parse(read('kserve/serving-runtime.yaml'));
    const service: Yaml = parse(read('kserve/inference-service-runtime.yaml'));
    expect(runtime).toMatchObject({ apiVersion: 'serving.kserve.io/v1alpha1', kind: 'ServingRuntime' });
    expect(runtime.spec.protocolVersions).toEqual(['v2']);
    const [container] = runtime.spec.containers;
    expect(container.name).toBe('kserve-container');
    expect(container.ports).toEqual([{ containerPort: PORT, protocol: 'TCP' }]);
    // KServe fills in {{.Name}}: the model is served under the InferenceService's name, from the storage initializer's folder.
    expect(container.args).toEqual(['--model', '{{.Name}}=/mnt/models']);
    expect(checkServeArguments(container.args.map((arg: string) => arg.replace('{{.Name}}', 'digits')))).toEqual([{ name: 'digits', source: '/mnt/models' }]);

    expect(service).toMatchObject({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService' });
    const model = service.spec.predictor.model;
    expect(model.protocolVersion).toBe('v2');
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((format: Yaml) => format.name)).toContain(model.modelFormat.name);
    expect(model.storageUri).toMatch(/^pvc:\/\//);
    expect(service.spec.predictor.scaleMetric).toBe('concurrency');
  });
});
