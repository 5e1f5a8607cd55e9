/**
 * The metrics touched by every request, counted in plain numbers and handed to prom-client only when the registry
 * is read. prom-client's own `inc()` / `observe()` validate the labels, build a label hash string and (for a
 * histogram) a label/value pair on every call: with four or five of them per request they were a measurable share
 * of a proxied HTTP/2 request (docs/http2.md "Performance"). The exported series, names, labels and values are
 * the same as prom-client's Counter, Gauge and Histogram produce.
 */
import type {Counter, Registry} from 'prom-client';

/** One label child of a counter (or a gauge), counted here; added to prom-client's series when read. */
export class Tally {
  n = 0;
  inc(): void {
    this.n++;
  }
  dec(): void {
    this.n--;
  }
}

/**
 * Children of a counter counted in Tallies, one per label set; `flushInto` (the counter's `collect` option, which
 * prom-client runs before every read) adds what they counted to the counter.
 */
export function tallies<K>(series: ReadonlyArray<readonly [K, Record<string, string>]>): {byKey: ReadonlyMap<K, Tally>; flushInto(counter: Counter<string>): void} {
  const entries = series.map(([key, labels]) => ({key, labels, tally: new Tally()}));
  return {
    byKey: new Map(entries.map((e) => [e.key, e.tally])),
    flushInto(counter) {
      for (const {labels, tally} of entries) {
        if (tally.n === 0) continue;
        counter.inc(labels, tally.n);
        tally.n = 0;
      }
    },
  };
}

/** One series of the histogram: counts per bucket (not cumulative), sum and count. */
class Series {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    private readonly bounds: readonly number[],
    readonly labelValue: string,
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const {bounds} = this;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

type Value = {labels: Record<string, string | number>; sharedLabels?: Record<string, string>; value: number; metricName: string};

/**
 * A histogram with one label whose values are all known up front, registered on `registry` as prom-client's
 * Histogram would be, with the same exposition.
 */
export class LabelledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    values: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    for (const v of values) this.series.set(v, new Series(bounds, v));
    registry.registerMetric(this as never);
  }

  /** The series for one label value (one of those given to the constructor). */
  child(value: string): {observe(seconds: number): void} {
    return this.series.get(value)!;
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** What prom-client's Registry formats (the label of the series as a shared label, as prom-client does). */
  async getForPromString(): Promise<{name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[]}> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      // As prom-client's: a series appears with its first observation.
      if (s.count === 0) continue;
      const sharedLabels = {[this.labelName]: s.labelValue};
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({labels: {le}, sharedLabels, value: acc, metricName: bucket});
      });
      values.push(
        {labels: {le: '+Inf'}, sharedLabels, value: s.count, metricName: bucket},
        {labels: {}, sharedLabels, value: s.sum, metricName: `${this.name}_sum`},
        {labels: {}, sharedLabels, value: s.count, metricName: `${this.name}_count`},
      );
    }
    return {name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values};
  }

  /** The same values with every label in `labels` (prom-client's `get()`). */
  async get(): Promise<{name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[]}> {
    const data = await this.getForPromString();
    data.values = data.values.map(({sharedLabels, labels, ...rest}) => ({...rest, labels: {...labels, ...sharedLabels}}));
    return data;
  }
}
