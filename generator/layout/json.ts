/**
 * The `layout --json` document: every integer constant and every named record
 * the header itself defines, on one ABI, with fields by C member-access path.
 */
import type { Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { AbiLayout, type RecordLayout } from './layout.js';
import { HeaderError } from '../errors.js';
import { MAX_MEMBER_PATHS, MAX_TYPE_DEPTH, ourLimit } from '../limits.js';

/** A bit-field's place: its first bit from the start of the outer record, in allocation order, and its width. */
export interface BitFieldJson {
  bit_offset: number;
  bit_width: number;
}

/** One record in the JSON document. */
export interface RecordJson {
  size: number;
  align: number;
  /**
   * C member-access path (anonymous members flattened) -> byte offset in the outer record; for a
   * named bit-field, its bit position. Allocation order counts from the least significant bit of
   * the first byte on little-endian ABIs and from the most significant on big-endian ones.
   */
  fields: Record<string, number | BitFieldJson>;
}

/** The `layout --json` document: everything a header defines, for one ABI (also the clang oracle's answer). */
export interface LayoutJson {
  /** The version of this document's shape (schemas/layout.schema.json). */
  schema_version?: number;
  header: string;
  abi: string;
  /** Integer constants (object-like macros that are integer constant expressions, enum constants); a decimal string beyond 2^53. */
  constants: Record<string, number | string>;
  /** Keyed `struct NAME` / `union NAME`. */
  records: Record<string, RecordJson>;
}

/** A constant as JSON: a number when |v| < 2^53, else a decimal string. */
export function jsonNumber(v: bigint): number | string {
  return v < 2n ** 53n && v > -(2n ** 53n) ? Number(v) : v.toString();
}

/** The version of the `layout --json` shape; schemas/layout.schema.json describes it. */
export const LAYOUT_SCHEMA_VERSION = 2;

/**
 * Field offsets by access path: anonymous members flattened into their parent,
 * named nested records as `outer` and `outer.inner`, arrays once by name.
 * Named bit-fields give their bit position; unnamed ones are not members.
 */
export function fieldPaths(layout: AbiLayout, record: RecordLayout, prefix = '', base = 0, into: Record<string, number | BitFieldJson> = {}, depth = 0, top = record): Record<string, number | BitFieldJson> {
  if (depth > MAX_TYPE_DEPTH) throw new HeaderError(top.decl.loc, ourLimit('nesting of records in member paths', MAX_TYPE_DEPTH));
  for (const m of record.members) {
    if (m.bitWidth !== undefined) {
      if (m.field.name !== undefined) into[prefix + m.field.name] = { bit_offset: base * 8 + m.bitOffset!, bit_width: m.bitWidth };
      continue;
    }
    const offset = base + m.offset;
    const nested = m.resolved.kind === 'record' ? layout.recordLayout(m.resolved.id, m.field.loc) : undefined;
    if (m.field.name === undefined) {
      if (nested) fieldPaths(layout, nested, prefix, offset, into, depth + 1, top);
      continue;
    }
    const path = prefix + m.field.name;
    into[path] = offset;
    if (nested) fieldPaths(layout, nested, `${path}.`, offset, into, depth + 1, top);
  }
  return into;
}

/** Builds the JSON document for `ir` on `abi`. */
export function layoutJson(ir: HeaderIR, abi: Abi, headerLabel: string = ir.file): LayoutJson {
  const layout = new AbiLayout(ir, abi);
  layout.checkStaticAsserts();
  const constants: Record<string, number | string> = {};
  for (const c of layout.constants().values) constants[c.name] = jsonNumber(c.value);
  const records: Record<string, RecordJson> = {};
  let paths = 0;
  // In definition order: a record's members are defined before it, so each layout is one level deep.
  for (const decl of ir.records) {
    if (!decl.name || !decl.fields || decl.loc.file !== ir.file) continue;
    const r = layout.recordLayout(decl.id);
    const fields = fieldPaths(layout, r);
    paths += Object.keys(fields).length;
    if (paths > MAX_MEMBER_PATHS) throw new HeaderError(decl.loc, ourLimit('member paths in layout --json', MAX_MEMBER_PATHS));
    records[`${decl.tag} ${decl.name}`] = { size: r.size, align: r.align, fields };
  }
  return { schema_version: LAYOUT_SCHEMA_VERSION, header: headerLabel, abi: abi.name, constants, records };
}
