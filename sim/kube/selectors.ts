// Label and field selectors with the syntax of k8s.io/apimachinery/pkg/labels and pkg/fields: equality (`=`, `==`,
// `!=`), set-based (`in`, `notin`), existence (`key`, `!key`), numeric `>`/`<`, comma meaning AND. Parse errors become
// 400 BadRequest like the real server's "unable to parse requirement".
import {badRequest} from './errors.js';

type Op = 'exists' | 'notexists' | 'eq' | 'neq' | 'in' | 'notin' | 'gt' | 'lt';

interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

export interface Selector {
  matches(labels: Record<string, string> | undefined): boolean;
  readonly empty: boolean;
  toString(): string;
}

type Token = {kind: 'ident'; value: string} | {kind: 'op'; value: string};

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '!' && input[i + 1] === '=') {
      tokens.push({kind: 'op', value: '!='});
      i += 2;
    } else if (c === '=' && input[i + 1] === '=') {
      tokens.push({kind: 'op', value: '=='});
      i += 2;
    } else if ('!=(),<>'.includes(c)) {
      tokens.push({kind: 'op', value: c});
      i++;
    } else {
      let j = i;
      while (j < input.length && !' \t!=(),<>'.includes(input[j])) j++;
      tokens.push({kind: 'ident', value: input.slice(i, j)});
      i = j;
    }
  }
  return tokens;
}

function parseError(input: string, why: string): never {
  throw badRequest(`unable to parse requirement: ${why} (in ${JSON.stringify(input)})`);
}

export function parseLabelSelector(input: string | undefined): Selector {
  const text = (input ?? '').trim();
  const reqs: Requirement[] = [];
  if (text !== '') {
    const tokens = tokenize(text);
    let p = 0;
    const peek = (): Token | undefined => tokens[p];
    const ident = (what: string): string => {
      const t = tokens[p++];
      if (!t || t.kind !== 'ident') parseError(text, `expected ${what}`);
      return t.value;
    };
    for (;;) {
      let t = peek();
      if (t?.kind === 'op' && t.value === '!') {
        p++;
        reqs.push({key: ident('key after !'), op: 'notexists', values: []});
      } else {
        const key = ident('key');
        t = peek();
        if (!t || (t.kind === 'op' && t.value === ',')) {
          reqs.push({key, op: 'exists', values: []});
        } else if (t.kind === 'op' && ['=', '==', '!='].includes(t.value)) {
          p++;
          const next = peek();
          // `key=` selects an empty value, which is legal.
          const value = next?.kind === 'ident' ? (p++, next.value) : '';
          reqs.push({key, op: t.value === '!=' ? 'neq' : 'eq', values: [value]});
        } else if (t.kind === 'op' && (t.value === '>' || t.value === '<')) {
          p++;
          const value = ident('number');
          if (!/^-?\d+$/.test(value)) parseError(text, `for 'gt', 'lt' operators, the value must be an integer`);
          reqs.push({key, op: t.value === '>' ? 'gt' : 'lt', values: [value]});
        } else if (t.kind === 'ident' && (t.value === 'in' || t.value === 'notin')) {
          p++;
          const open = tokens[p++];
          if (!open || open.kind !== 'op' || open.value !== '(') parseError(text, 'expected (');
          const values: string[] = [];
          for (;;) {
            const v = tokens[p++];
            if (!v) parseError(text, 'expected )');
            if (v.kind === 'op' && v.value === ')') break;
            if (v.kind === 'op' && v.value === ',') continue;
            if (v.kind !== 'ident') parseError(text, `unexpected ${v.value}`);
            values.push(v.value);
          }
          reqs.push({key, op: t.value === 'in' ? 'in' : 'notin', values});
        } else {
          parseError(text, `unexpected ${t.value}`);
        }
      }
      const sep = tokens[p];
      if (!sep) break;
      if (sep.kind !== 'op' || sep.value !== ',') parseError(text, `expected , got ${sep.value}`);
      p++;
    }
  }
  return {
    empty: reqs.length === 0,
    toString: () => text,
    matches(labels) {
      const l = labels ?? {};
      return reqs.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(l, r.key);
        const v = l[r.key];
        switch (r.op) {
          case 'exists': return has;
          case 'notexists': return !has;
          case 'eq': return has && v === r.values[0];
          case 'neq': return !has || v !== r.values[0];
          case 'in': return has && r.values.includes(v);
          case 'notin': return !has || !r.values.includes(v);
          case 'gt': return has && /^-?\d+$/.test(v) && Number(v) > Number(r.values[0]);
          case 'lt': return has && /^-?\d+$/.test(v) && Number(v) < Number(r.values[0]);
        }
      });
    },
  };
}

/** A Service's map selector as a Selector; an empty map selects nothing for Services (handled by callers). */
export function selectorFromMap(map: Record<string, string>): Selector {
  const reqs = Object.entries(map);
  return {
    empty: reqs.length === 0,
    toString: () => reqs.map(([k, v]) => `${k}=${v}`).join(','),
    matches: (labels) => reqs.every(([k, v]) => labels?.[k] === v),
  };
}

export interface FieldSelector {
  matches(obj: unknown): boolean;
  readonly empty: boolean;
  /** The value required for `field` by an equality term, if any (lets the server answer name lookups directly). */
  equals(field: string): string | undefined;
}

function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) {
      cur += text[i] + text[i + 1];
      i++;
    } else if (text[i] === sep) {
      parts.push(cur);
      cur = '';
    } else {
      cur += text[i];
    }
  }
  parts.push(cur);
  return parts;
}

const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');

/** Reads a dotted field path; booleans and numbers compare as their string form, missing fields as "". */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

/**
 * Parses `fieldSelector`; `supported` lists the field labels this resource accepts (the real server rejects others
 * with 400 "field label not supported").
 */
export function parseFieldSelector(input: string | undefined, supported: readonly string[]): FieldSelector {
  const text = (input ?? '').trim();
  const terms: {field: string; neq: boolean; value: string}[] = [];
  if (text !== '') {
    for (const raw of splitUnescaped(text, ',')) {
      const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/s.exec(raw.trim());
      if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${raw}'`);
      const field = m[1].trim();
      if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
      terms.push({field, neq: m[2] === '!=', value: unescape(m[3])});
    }
  }
  return {
    empty: terms.length === 0,
    equals: (field) => terms.find((t) => t.field === field && !t.neq)?.value,
    matches: (obj) => terms.every((t) => (fieldValue(obj, t.field) === t.value) !== t.neq),
  };
}
