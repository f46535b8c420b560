/**
 * The `layout --json` document: every integer constant and every named record
 * the header itself defines, on one ABI, with fields by C member-access path.
 */
import type { Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { AbiLayout, type RecordLayout } from './layout.js';

/** One record in the JSON document. */
export interface RecordJson {
  size: number;
  align: number;
  /** C member-access path (anonymous members flattened) -> byte offset in the outer record. */
  fields: Record<string, number>;
  /** Access paths of named bit-fields (they have no byte offset), where there are any. */
  bitfields?: string[];
}

/** The `layout --json` document: everything a header defines, for one ABI (also the clang oracle's answer). */
export interface LayoutJson {
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

/**
 * Field offsets by access path: anonymous members flattened into their parent,
 * named nested records as `outer` and `outer.inner`, arrays once by name.
 * Bit-fields are left out (they have no byte offset in C).
 */
export function fieldPaths(layout: AbiLayout, record: RecordLayout, prefix = '', base = 0, into: Record<string, number> = {}, bitfields: string[] = []): Record<string, number> {
  for (const m of record.members) {
    if (m.bitWidth !== undefined) {
      if (m.field.name !== undefined) bitfields.push(prefix + m.field.name);
      continue;
    }
    const offset = base + m.offset;
    const nested = m.resolved.kind === 'record' ? layout.recordLayout(m.resolved.id, m.field.loc) : undefined;
    if (m.field.name === undefined) {
      if (nested) fieldPaths(layout, nested, prefix, offset, into, bitfields);
      continue;
    }
    const path = prefix + m.field.name;
    into[path] = offset;
    if (nested) fieldPaths(layout, nested, `${path}.`, offset, into, bitfields);
  }
  return into;
}

/** Builds the JSON document for `ir` on `abi`. */
export function layoutJson(ir: HeaderIR, abi: Abi, headerLabel: string = ir.file): LayoutJson {
  const layout = new AbiLayout(ir, abi);
  const constants: Record<string, number | string> = {};
  for (const c of layout.constants().values) constants[c.name] = jsonNumber(c.value);
  const records: Record<string, RecordJson> = {};
  for (const decl of ir.records) {
    if (!decl.name || !decl.fields || decl.loc.file !== ir.file) continue;
    const r = layout.recordLayout(decl.id);
    const bitfields: string[] = [];
    const fields = fieldPaths(layout, r, '', 0, {}, bitfields);
    records[`${decl.tag} ${decl.name}`] = { size: r.size, align: r.align, fields, ...(bitfields.length ? { bitfields } : {}) };
  }
  return { header: headerLabel, abi: abi.name, constants, records };
}
