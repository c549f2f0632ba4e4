/** Prometheus metrics of one worker (prom-client, a registry per worker instance). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConnectionBudget } from './connection-budget.js';
import { LabelledHistogram, RequestCounts } from './plain-metrics.js';
import type { ConfigInformer } from '../informer/informer.js';

export class WorkerMetrics {
  readonly registry = new Registry();
  /** Per request: plain numbers, read at scrape time (plain-metrics.ts). */
  readonly resolveSeconds: LabelledHistogram;
  readonly requests: RequestCounts;

  constructor(informer: ConfigInformer, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'alluxio_worker_' });
    new Gauge({
      name: 'alluxio_worker_applied_revision',
      help: 'etcd revision of the config snapshot this worker serves.',
      registers: [r],
      collect() {
        this.set(informer.appliedRevision());
      },
    });
    new Gauge({
      name: 'alluxio_worker_snapshot_age_seconds',
      help: 'How stale the snapshot may be: 0 while the watch is live, else seconds since last in sync with etcd (-1 before the first load).',
      registers: [r],
      collect() {
        const a = informer.snapshotAgeMs();
        this.set(Number.isFinite(a) ? a / 1000 : -1);
      },
    });
    new Gauge({
      name: 'alluxio_worker_snapshot_reloads',
      help: 'Snapshots published since start (initial list, relists and watch responses).',
      registers: [r],
      collect() {
        this.set(informer.status().reloads);
      },
    });
    new Gauge({
      name: 'alluxio_worker_relists',
      help: 'Relists after compaction or a revision going backwards.',
      registers: [r],
      collect() {
        this.set(informer.status().relists);
      },
    });
    new Gauge({
      name: 'alluxio_worker_watch_connected',
      help: '1 while the watch on etcd is live.',
      registers: [r],
      collect() {
        this.set(informer.status().state === 'watching' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'alluxio_worker_invalid_config_entries',
      help: 'Malformed config entries skipped in the current snapshot.',
      registers: [r],
      collect() {
        this.set(informer.status().invalid.length);
      },
    });
    this.resolveSeconds = new LabelledHistogram(r, 'alluxio_worker_resolve_seconds', 'Latency of one path resolution, by API.', 'api', [
      0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05,
    ]);
    this.requests = new RequestCounts(r, 'alluxio_worker_requests_total', 'Requests answered, by front end and status code.');
  }
}

/** The connection budget (connection-budget.ts): connections open, the limit, and refusals by the limit that refused them. */
export function registerConnectionMetrics(r: Registry, budget: ConnectionBudget): void {
  new Gauge({
    name: 'alluxio_worker_connections_open',
    help: 'Client connections open on the worker\'s ports (S3 and REST, HTTP and HTTPS).',
    registers: [r],
    collect() {
      this.set(budget.openCount);
    },
  });
  new Gauge({
    name: 'alluxio_worker_connections_max',
    help: 'The most client connections the worker keeps open at once (--max-connections); more are closed as they are accepted.',
    registers: [r],
    collect() {
      this.set(budget.limits.max);
    },
  });
  new Counter({
    name: 'alluxio_worker_connections_refused_total',
    help: 'Client connections closed at accept: limit="total" (--max-connections) or limit="client" (--max-connections-per-client).',
    labelNames: ['limit'],
    registers: [r],
    collect() {
      this.reset();
      for (const limit of ['total', 'client'] as const) this.inc({ limit }, budget.refusedCount(limit));
    },
  });
}
