/**
 * Manifests in, manifests out: multi-document YAML or JSON, with `kind: List` (and any `*List` with items) opened.
 * The engine's changes are applied as patch operations to the parsed YAML documents (the `yaml` package's Document
 * API), so that what injection did not change keeps its order and comments; a document nothing changed is written
 * back as it came.
 */
import {isSeq, parseAllDocuments, stringify, type Document} from 'yaml';
import {runEngine, type EngineOptions} from './engine.js';
import {InjectError} from './errors.js';
import type {PatchOp} from './json-patch.js';
import type {KubeObject} from './types.js';
import type {Path} from './workloads.js';

export interface Source {
  /** File name (or `<stdin>`) for messages. */
  name: string;
  text: string;
}

interface Unit {
  source: number;
  doc: number;
  /** Where the object is in its document: [] or ['items', i]. */
  at: Path;
  object: KubeObject;
}

interface Parsed {
  json: boolean;
  docs: {doc?: Document; value: unknown; raw: string}[];
}

export interface InjectOutput {
  text: string;
  notes: string[];
}

function isList(v: unknown): v is {kind: string; items: unknown[]} {
  return !!v && typeof v === 'object' && typeof (v as {kind?: unknown}).kind === 'string' && (v as {kind: string}).kind.endsWith('List') && Array.isArray((v as {items?: unknown}).items);
}

function parseSource(src: Source): Parsed {
  const trimmed = src.text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    // One JSON document is written back as JSON; anything else (JSON documents between `---`) is YAML.
    try {
      return {json: true, docs: [{value: JSON.parse(src.text), raw: src.text}]};
    } catch {
      // not one JSON document
    }
  }
  const docs = parseAllDocuments(src.text, {keepSourceTokens: false});
  if (!Array.isArray(docs)) return {json: false, docs: []};
  return {
    json: false,
    docs: docs.map((doc, i) => {
      if (doc.errors.length > 0) throw new InjectError('INJECT_BAD_INPUT', src.name, `document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`);
      // From the previous document's end: a comment above the first document belongs to it.
      const start = i === 0 ? 0 : docs[i - 1]!.range[2];
      return {doc, value: doc.toJS(), raw: src.text.slice(start, doc.range[2])};
    }),
  };
}

/** The style of the input's block sequences under a key: indented (`  - x`) or not (`- x`, as kubectl and helm write). */
function indentsSequences(text: string): boolean {
  const m = /^( *)[^\s#-][^\n]*:\n( *)- /m.exec(text);
  return m ? m[2]!.length > m[1]!.length : true;
}

function applyToDocument(doc: Document, ops: readonly PatchOp[], at: Path): void {
  for (const op of ops) {
    const path = [...at, ...op.path];
    if (op.op === 'remove') {
      doc.deleteIn(path);
      continue;
    }
    const last = path[path.length - 1];
    const parent = path.length > 0 ? doc.getIn(path.slice(0, -1), true) : undefined;
    if (op.op === 'add' && typeof last === 'number' && isSeq(parent)) {
      parent.items.splice(last, 0, doc.createNode(op.value));
    } else if (path.length === 0) {
      doc.contents = doc.createNode(op.value);
    } else {
      doc.setIn(path, doc.createNode(op.value));
    }
  }
}

function applyToValue(value: unknown, ops: readonly PatchOp[], at: Path): void {
  for (const op of ops) {
    const path = [...at, ...op.path];
    let parent = value as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op.op === 'add' && Array.isArray(parent)) {
      parent.splice(Number(last), 0, op.value);
    } else {
      parent[last] = op.value;
    }
  }
}

/** Injects every source; throws one InjectError listing every refusal (nothing is written then). */
export function injectManifests(sources: readonly Source[], options: EngineOptions): InjectOutput {
  const parsed = sources.map(parseSource);
  const units: Unit[] = [];
  parsed.forEach((p, s) =>
    p.docs.forEach((d, i) => {
      if (isList(d.value)) d.value.items.forEach((item, j) => units.push({source: s, doc: i, at: ['items', j], object: item as KubeObject}));
      else if (d.value && typeof d.value === 'object' && !Array.isArray(d.value)) units.push({source: s, doc: i, at: [], object: d.value as KubeObject});
    }),
  );
  const r = runEngine(units.map((u) => u.object), options);
  if (r.errors.length > 0) {
    const message = `refused ${r.errors.length} workload(s), nothing written:\n${r.errors.map((e) => `  ${e.message}`).join('\n')}`;
    throw new InjectError(r.errors[0]!.code, r.errors.map((e) => e.workload).join(', '), message, {cause: r.errors});
  }
  const changed = new Set<string>();
  units.forEach((u, k) => {
    const ops = r.ops[k]!;
    if (ops.length === 0) return;
    changed.add(`${u.source}/${u.doc}`);
    const d = parsed[u.source]!.docs[u.doc]!;
    if (d.doc) applyToDocument(d.doc, ops, u.at);
    else applyToValue(d.value, ops, u.at);
  });
  const parts: string[] = [];
  parsed.forEach((p, s) => {
    if (p.json) {
      const d = p.docs[0]!;
      let value = d.value;
      if (r.added.length > 0 && s === parsed.length - 1) {
        value = isList(value) ? {...value, items: [...value.items, ...r.added]} : {apiVersion: 'v1', kind: 'List', items: [value, ...r.added]};
        changed.add(`${s}/0`);
      }
      parts.push(changed.has(`${s}/0`) ? JSON.stringify(value, null, 2) + '\n' : d.raw);
      return;
    }
    const indentSeq = indentsSequences(sources[s]!.text);
    p.docs.forEach((d, i) => {
      let text = changed.has(`${s}/${i}`) ? d.doc!.toString({lineWidth: 0, indentSeq}) : d.raw;
      text = text.replace(/^---[ \t]*\n/, '');
      if (text.trim() === '') return;
      parts.push(text.endsWith('\n') ? text : text + '\n');
    });
  });
  // Added to the last source: into a JSON one above, else as YAML documents at the end.
  if (!parsed[parsed.length - 1]?.json) for (const o of r.added) parts.push(stringify(o, {lineWidth: 0}));
  // A leading `---` (as helm writes) stays: a second pass must give the same text.
  const lead = /^---[ \t]*\n/.test(sources[0]?.text ?? '') && !parsed[0]?.json ? '---\n' : '';
  return {text: lead + parts.join('---\n'), notes: r.notes};
}
