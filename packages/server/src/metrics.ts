import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, in their own registry (so several servers in one process do not mix). */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Requests by model (empty for requests that name no served model), endpoint and HTTP status. */
  readonly requests: Counter<'model' | 'endpoint' | 'status'>;
  /** Request latency from the first byte read to the response sent. */
  readonly requestSeconds: Histogram<'model' | 'endpoint'>;
  /** Images per model run. */
  readonly batchSize: Histogram<'model'>;
  /** Time of each model run. */
  readonly batchSeconds: Histogram<'model'>;
  /** Requests admitted and not yet running (being read, preprocessed or queued). */
  readonly queueDepth: Gauge<'model'>;
  /** Seconds from the start of loading to ready (load, session, warm-up run). */
  readonly modelLoadSeconds: Gauge<'model'>;
  /** 1 when the model serves requests, else 0. */
  readonly modelReady: Gauge<'model'>;
}

export function createMetrics(prefix = 'vitzoo_'): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: `${prefix}requests_total`, help: 'HTTP requests by model, endpoint and status code.', labelNames: ['model', 'endpoint', 'status'], registers }),
    requestSeconds: new Histogram({
      name: `${prefix}request_duration_seconds`,
      help: 'HTTP request latency in seconds, by model and endpoint.',
      labelNames: ['model', 'endpoint'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchSize: new Histogram({ name: `${prefix}batch_size`, help: 'Images per model run (dynamic batching).', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers }),
    batchSeconds: new Histogram({
      name: `${prefix}batch_duration_seconds`,
      help: 'Model run time per batch in seconds.',
      labelNames: ['model'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueDepth: new Gauge({ name: `${prefix}queue_depth`, help: 'Requests admitted and not yet running, by model.', labelNames: ['model'], registers }),
    modelLoadSeconds: new Gauge({ name: `${prefix}model_load_seconds`, help: 'Seconds the model took to load and warm up.', labelNames: ['model'], registers }),
    modelReady: new Gauge({ name: `${prefix}model_ready`, help: '1 when the model is ready to serve, else 0.', labelNames: ['model'], registers }),
  };
}
