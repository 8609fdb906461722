/**
 * A small Prometheus registry: counters with labels, gauges read at scrape
 * time, and one histogram type. Text exposition format 0.0.4.
 * Label values are always from a fixed vocabulary (route names, codes,
 * reasons): never a key name, worker name or value.
 * @module
 */

type Labels = Record<string, string>;

function labelKey(l: Labels): string {
  const ks = Object.keys(l);
  if (ks.length === 0) return "";
  return "{" + ks.map((k) => `${k}="${l[k].replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c))}"`).join(",") + "}";
}

export class Counter {
  private readonly values = new Map<string, number>();
  /** label values joined by "\u0000" → rendered label key (label sets are a closed vocabulary). */
  private readonly keys = new Map<string, string>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    let id = "";
    for (const k in labels) id += k + "\u0000" + labels[k] + "\u0000";
    let k = this.keys.get(id);
    if (k === undefined) {
      k = labelKey(labels);
      if (this.keys.size < 10_000) this.keys.set(id, k);
    }
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of this.values) s += `${this.name}${k} ${v}\n`;
    return s;
  }
}

export class Gauge {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.read()}\n`;
  }
}

/** A counter whose values live elsewhere (e.g. refusal tallies of the broker), read at scrape time. */
export class CounterView {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly read: () => Iterable<[string, number]>,
  ) {}
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [v, n] of this.read()) s += `${this.name}${labelKey({ [this.label]: v })} ${n}\n`;
    return s;
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private n = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) { this.counts[i]++; break; }
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cum += this.counts[i];
      s += `${this.name}_bucket{le="${this.buckets[i]}"} ${cum}\n`;
    }
    s += `${this.name}_bucket{le="+Inf"} ${this.n}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.n}\n`;
    return s;
  }
}

export class Registry {
  private readonly items: { render(): string }[] = [];
  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.items.push(c);
    return c;
  }
  gauge(name: string, help: string, read: () => number): Gauge {
    const g = new Gauge(name, help, read);
    this.items.push(g);
    return g;
  }
  /** A counter with one label, whose (label value, count) pairs are read at scrape time. */
  counterView(name: string, help: string, label: string, read: () => Iterable<[string, number]>): CounterView {
    const c = new CounterView(name, help, label, read);
    this.items.push(c);
    return c;
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    const h = new Histogram(name, help, buckets);
    this.items.push(h);
    return h;
  }
  render(): string {
    return this.items.map((i) => i.render()).join("");
  }
}
