// Every request the API server saw, so tests can count API traffic (e.g. "zero requests while serving") and the
// benchmark can report requests per pod lifetime.

export interface RequestRecord {
  method: string;
  /** URL path without the query. */
  path: string;
  query: Record<string, string>;
  /** HTTP status sent; for watches the 200 of the stream. 0 while no response has been sent yet. */
  status: number;
  /** Arrival time, epoch ms. */
  time: number;
  userAgent: string;
  /** Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection); '' for non-resource paths. */
  verb: string;
  /** Resource plural (with `/subresource`), '' for non-resource paths. */
  resource: string;
  namespace: string;
  name: string;
}

export interface RequestFilter {
  method?: string;
  verb?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  status?: number;
  /** Only requests at or after this epoch ms. */
  since?: number;
}

export interface RequestLog {
  /** A copy of every record so far, oldest first. */
  all(): RequestRecord[];
  /** Records matching every given field of `filter`. */
  filter(filter?: RequestFilter): RequestRecord[];
  count(filter?: RequestFilter): number;
  clear(): void;
}

export interface RequestLogWriter extends RequestLog {
  /** Adds a record and returns it (its status is filled in when the response starts). */
  add(record: RequestRecord): RequestRecord;
}

export function createRequestLog(opts: {max?: number} = {}): RequestLogWriter {
  const max = opts.max ?? 100_000;
  let records: RequestRecord[] = [];
  const matches = (r: RequestRecord, f: RequestFilter): boolean =>
    (f.method === undefined || r.method === f.method) &&
    (f.verb === undefined || r.verb === f.verb) &&
    (f.resource === undefined || r.resource === f.resource) &&
    (f.namespace === undefined || r.namespace === f.namespace) &&
    (f.name === undefined || r.name === f.name) &&
    (f.status === undefined || r.status === f.status) &&
    (f.since === undefined || r.time >= f.since);
  const filter = (f: RequestFilter = {}): RequestRecord[] => records.filter((r) => matches(r, f)).map((r) => ({...r, query: {...r.query}}));
  return {
    add(record) {
      records.push(record);
      if (records.length > max) records = records.slice(records.length - max);
      return record;
    },
    all: () => filter(),
    filter,
    count: (f = {}) => records.filter((r) => matches(r, f)).length,
    clear() {
      records = [];
    },
  };
}
