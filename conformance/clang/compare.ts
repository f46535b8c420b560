/**
 * Comparing a layout produced by our generator with clang's (the oracle's).
 */
import type { LayoutJson } from './oracle.js';
import type { BitFieldJson } from '../../generator/layout/json.js';

/** What kind of difference a {@link Disagreement} is. */
export type DisagreementKind =
  | 'abi'
  | 'missing-constant' | 'extra-constant' | 'constant-value' | 'constant-format'
  | 'missing-record' | 'extra-record' | 'record-size' | 'record-align'
  | 'missing-field' | 'extra-field' | 'field-offset';

/** One difference between clang's layout and ours. */
export interface Disagreement {
  readonly kind: DisagreementKind;
  readonly header: string;
  readonly abi: string;
  /** What differs: a constant name, `struct S`, `struct S.a.b`, `sizeof(struct S)`, ... */
  readonly subject: string;
  readonly clang?: number | string | readonly string[];
  readonly ours?: number | string | readonly string[];
  /** A sentence such as `struct vfio_region_info.offset: ours 24, clang 20 (i386)`. */
  readonly message: string;
}

/**
 * Every difference between `expected` (clang) and `actual` (ours): missing or
 * extra constants, records and fields, and different values, sizes,
 * alignments, offsets and bitfield lists. The `header` fields are not compared
 * (they are paths chosen by the callers).
 */
export function compareLayouts(expected: LayoutJson, actual: LayoutJson): Disagreement[] {
  const out: Disagreement[] = [];
  const abi = expected.abi;
  const header = expected.header;
  const add = (kind: DisagreementKind, subject: string, clang: Disagreement['clang'], ours: Disagreement['ours'], text: string) =>
    out.push({ kind, header, abi, subject, clang, ours, message: `${subject}: ${text} (${abi})` });
  const show = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

  if (expected.abi !== actual.abi) add('abi', 'ABI', expected.abi, actual.abi, `ours ${actual.abi}, clang ${expected.abi}`);

  for (const [name, c] of Object.entries(expected.constants)) {
    if (!Object.hasOwn(actual.constants, name)) {
      add('missing-constant', name, c, undefined, `missing in ours, clang ${c}`);
      continue;
    }
    const o = actual.constants[name];
    const cv = toBigInt(c);
    const ov = toBigInt(o);
    if (cv === undefined || ov === undefined || cv !== ov) add('constant-value', name, c, o, `ours ${show(o)}, clang ${c}`);
    else if (typeof c !== typeof o) add('constant-format', name, c, o, `ours ${JSON.stringify(o)}, clang ${JSON.stringify(c)} (same value, different JSON form)`);
  }
  for (const [name, o] of Object.entries(actual.constants)) {
    if (!Object.hasOwn(expected.constants, name)) add('extra-constant', name, undefined, o, `ours ${show(o)}, not an integer constant of the header for clang`);
  }

  for (const [key, c] of Object.entries(expected.records)) {
    const o = Object.hasOwn(actual.records, key) ? actual.records[key] : undefined;
    if (!o) {
      add('missing-record', key, c.size, undefined, `missing in ours, clang has it (size ${c.size})`);
      continue;
    }
    if (c.size !== o.size) add('record-size', `sizeof(${key})`, c.size, o.size, `ours ${o.size}, clang ${c.size}`);
    if (c.align !== o.align) add('record-align', `_Alignof(${key})`, c.align, o.align, `ours ${o.align}, clang ${c.align}`);
    for (const [path, off] of Object.entries(c.fields)) {
      if (!Object.hasOwn(o.fields, path)) add('missing-field', `${key}.${path}`, place(off), undefined, `missing in ours, clang offset ${place(off)}`);
      else if (place(o.fields[path]!) !== place(off)) add('field-offset', `${key}.${path}`, place(off), place(o.fields[path]!), `ours ${place(o.fields[path]!)}, clang ${place(off)}`);
    }
    for (const [path, off] of Object.entries(o.fields)) {
      if (!Object.hasOwn(c.fields, path)) add('extra-field', `${key}.${path}`, undefined, place(off), `ours ${place(off)}, no such member for clang`);
    }
  }
  for (const [key, o] of Object.entries(actual.records)) {
    if (!Object.hasOwn(expected.records, key)) add('extra-record', key, undefined, o.size, `ours (size ${o.size}), not defined by the header for clang`);
  }
  return out;
}

/** A readable report: `no disagreements`, or a count and one line per disagreement, grouped by header and ABI. */
export function formatDisagreements(list: readonly Disagreement[]): string {
  if (list.length === 0) return 'no disagreements with clang';
  const groups = new Map<string, Disagreement[]>();
  for (const d of list) {
    const g = `${d.header} (${d.abi})`;
    groups.set(g, [...(groups.get(g) ?? []), d]);
  }
  const lines = [`${list.length} disagreement(s) with clang:`];
  for (const [g, ds] of groups) {
    lines.push(`${g}:`);
    for (const d of ds) lines.push(`  - ${d.message}`);
  }
  return lines.join('\n');
}

/** A field's place as one comparable value: a byte offset, or `bit N width W` for a bit-field. */
function place(v: number | BitFieldJson): number | string {
  return typeof v === 'number' ? v : `bit ${v.bit_offset} width ${v.bit_width}`;
}

function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}
