/**
 * Metrics counted on every request, kept in plain numbers: prom-client's `inc(labels)` and
 * `observe(labels, v)` hash the label set on each call (a closure, a sort, a string), which
 * was a visible share of a warm 4 KiB GET's CPU (docs/cache.md "The warm path"). /metrics
 * shows them exactly as prom-client's own Counter and Histogram would.
 */
import { Counter, type Metric, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

/** Responses by front end and status code (`alluxio_worker_requests_total`). */
export class RequestCounts {
  /** front end -> status code -> responses */
  private readonly counts = new Map<string, Map<number, number>>();
  /** The label sets in the order first seen (prom-client lists them so). */
  private readonly seen: [string, number][] = [];

  constructor(r: Registry, name: string, help: string) {
    const { counts, seen } = this;
    new Counter({
      name,
      help,
      labelNames: ['frontend', 'code'],
      registers: [r],
      collect() {
        this.reset();
        for (const [frontend, code] of seen) this.inc({ frontend, code: String(code) }, counts.get(frontend)!.get(code)!);
      },
    });
  }

  count(frontend: string, code: number): void {
    let byCode = this.counts.get(frontend);
    if (!byCode) this.counts.set(frontend, (byCode = new Map()));
    const n = byCode.get(code);
    if (n === undefined) this.seen.push([frontend, code]);
    byCode.set(code, (n ?? 0) + 1);
  }
}

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with one label, registered on a prom-client registry as a metric of its own.
 * Its text on /metrics is what prom-client's Histogram gives for the same observations:
 * cumulative `_bucket{le=...}` lines, `+Inf`, `_sum`, `_count`, per label value observed.
 */
export class LabelledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    r: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly bounds: readonly number[],
  ) {
    r.registerMetric(this as unknown as Metric<string>);
  }

  observe(label: string, value: number): void {
    let s = this.series.get(label);
    if (!s) this.series.set(label, (s = { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  reset(): void {
    this.series.clear();
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [label, s] of this.series) {
      const shared = { [this.labelName]: label };
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        values.push(pair({ le: this.bounds[i]! }, acc, bucket, shared));
      }
      values.push(pair({ le: '+Inf' }, s.count, bucket, shared));
      values.push(pair({}, s.sum, `${this.name}_sum`, shared));
      values.push(pair({}, s.count, `${this.name}_count`, shared));
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }
}

/** One value as prom-client's histogram exports it (own labels, and the series' labels shared). */
function pair(labels: Record<string, string | number>, value: number, metricName: string, sharedLabels: Record<string, string>): MetricValueWithName<string> {
  return { labels, sharedLabels, value, metricName } as MetricValueWithName<string>;
}
