/**
 * What a header defines on one ABI, as plain comparable facts: every record the
 * header itself defines (size, alignment, and every field by C access path with
 * its offset, size, alignment and type), every integer constant with its C value
 * and type, every ioctl with its number and argument, and every flag with the
 * field it belongs to. Built from the public API of the layout stage
 * (`AbiLayout`) and of the associations (`ioctlSpecs`, `flagGroups`); the diff
 * compares two of these.
 */
import type { Abi } from '../abi/abis.js';
import type { HeaderIR, RecordDecl } from '../ir/types.js';
import { AbiLayout, type RecordLayout } from '../layout/layout.js';
import { flagGroups, ioctlSpecs, type IoctlArgSpec } from '../analysis/conventions.js';

/** One field of a record, flattened to its C access path. */
export interface FieldFacts {
  /** Access path: anonymous members flattened, members of anonymous record type as `outer.inner`. */
  readonly path: string;
  /** Byte offset from the start of the record (for bit-fields: of the storage unit's first byte). */
  readonly offset: number;
  readonly size: number;
  readonly align: number;
  /** The C type as written, e.g. `__u32`, `__aligned_u64`, `__u8[16]`. */
  readonly type: string;
  /** A key of the resolved type's layout shape: equal keys mean the same scalar (or record, or array of them). */
  readonly shape: string;
  /** For bit-fields: first bit (from the record's start) and width. */
  readonly bits?: { readonly offset: number; readonly width: number };
  /** Position in declaration order, for stable listings. */
  readonly order: number;
}

/** One named record the header defines. */
export interface RecordFacts {
  readonly name: string;
  readonly tag: 'struct' | 'union';
  readonly size: number;
  readonly align: number;
  /** Whether the record is argsz-extensible: its first member is `argsz`. */
  readonly extensible: boolean;
  readonly fields: ReadonlyMap<string, FieldFacts>;
  /** Position in the header, for stable listings. */
  readonly order: number;
}

/** One integer constant (object-like macro or enumerator). */
export interface ConstantFacts {
  readonly name: string;
  readonly value: bigint;
  /** Its C type (`int`, `unsigned long`, ...). */
  readonly type: string;
  readonly source: 'macro' | 'enum';
}

/** One ioctl: its request number on this ABI and its argument. */
export interface IoctlFacts {
  readonly name: string;
  readonly number: bigint;
  /** The argument in words: `none`, `inout struct vfio_device_info`, `in __u32`, `string`, `unknown`. */
  readonly arg: string;
  /** True when the header does not say what the argument is. */
  readonly argUnknown: boolean;
}

/** One flag (single bit) or mask of an integer field. */
export interface FlagFacts {
  readonly name: string;
  readonly value: bigint;
  /** The field it belongs to: `record.field`. */
  readonly group: string;
}

/** Everything the diff compares, for one header on one ABI. */
export interface AbiSnapshot {
  readonly abi: Abi;
  readonly records: ReadonlyMap<string, RecordFacts>;
  readonly constants: ReadonlyMap<string, ConstantFacts>;
  readonly ioctls: ReadonlyMap<string, IoctlFacts>;
  readonly flags: ReadonlyMap<string, FlagFacts>;
}

/** The argument of an ioctl in words. */
export function describeArg(arg: IoctlArgSpec): string {
  switch (arg.kind) {
    case 'none': return 'none';
    case 'struct': return `${arg.direction} struct ${arg.record}`;
    case 'scalar': return arg.direction === 'value' ? `${arg.cType} by value` : `${arg.direction} ${arg.cType}`;
    case 'string': return 'string';
    case 'unknown': return 'unknown';
  }
}

/** Takes the snapshot of `ir` on `abi`. */
export function snapshot(ir: HeaderIR, abi: Abi): AbiSnapshot {
  const layout = new AbiLayout(ir, abi);
  const constants = new Map<string, ConstantFacts>();
  for (const c of layout.constants().values) {
    constants.set(c.name, { name: c.name, value: c.value, type: c.type.name, source: c.source });
  }

  const records = new Map<string, RecordFacts>();
  ir.records
    .filter((r): r is RecordDecl & { name: string } => r.name !== undefined && r.fields !== undefined && r.loc.file === ir.file)
    .forEach((decl, order) => {
      const r = layout.recordLayout(decl.id);
      const first = decl.fields![0];
      records.set(decl.name, {
        name: decl.name, tag: decl.tag, size: r.size, align: r.align, order,
        extensible: decl.tag === 'struct' && first?.name === 'argsz',
        fields: flattenFields(layout, r),
      });
    });

  const ioctls = new Map<string, IoctlFacts>();
  for (const spec of ioctlSpecs(ir)) {
    const c = constants.get(spec.name);
    if (!c) continue; // not an integer constant on this ABI
    ioctls.set(spec.name, { name: spec.name, number: c.value, arg: describeArg(spec.arg), argUnknown: spec.arg.kind === 'unknown' });
  }

  const flags = new Map<string, FlagFacts>();
  for (const g of flagGroups(ir, layout)) {
    for (const name of [...g.bits, ...g.masks]) {
      const c = constants.get(name);
      if (c && !flags.has(name)) flags.set(name, { name, value: c.value, group: `${g.record.name}.${g.field}` });
    }
  }
  return { abi, records, constants, ioctls, flags };
}

/** Every field of a record by access path (see {@link FieldFacts.path}). */
function flattenFields(layout: AbiLayout, record: RecordLayout): Map<string, FieldFacts> {
  const out = new Map<string, FieldFacts>();
  const walk = (r: RecordLayout, prefix: string, base: number) => {
    for (const m of r.members) {
      const nested = m.resolved.kind === 'record' ? layout.recordLayout(m.resolved.id, m.field.loc) : undefined;
      const anonymousType = nested !== undefined && nested.decl.name === undefined;
      if (m.field.name === undefined) {
        if (nested) walk(nested, prefix, base + m.offset);
        continue;
      }
      const path = prefix + m.field.name;
      out.set(path, {
        path, offset: base + m.offset, size: m.size, align: m.align,
        type: anonymousType ? `${nested!.decl.tag} {...}` : m.field.spelling,
        shape: shapeKey(layout, m.resolved, m.field.loc),
        bits: m.bitWidth === undefined ? undefined : { offset: base * 8 + m.bitOffset!, width: m.bitWidth },
        order: out.size,
      });
      // Members of an anonymous record type have no record of their own to be compared as: list them here.
      if (anonymousType) walk(nested!, `${path}.`, base + m.offset);
    }
  };
  walk(record, '', 0);
  return out;
}

/** A key of a resolved type: the same key means the same representation. */
function shapeKey(layout: AbiLayout, t: ReturnType<AbiLayout['resolve']>, loc: Parameters<AbiLayout['resolve']>[1]): string {
  switch (t.kind) {
    case 'builtin': return t.name;
    case 'enum': return `enum ${layout.ir.enums[t.id]!.name ?? '(anonymous)'}`;
    case 'record': {
      const d = layout.ir.records[t.id]!;
      return d.name ? `${d.tag} ${d.name}` : `${d.tag} {...}`;
    }
    case 'pointer': return `${shapeKey(layout, layout.resolve(t.to, loc), loc)} *`;
    case 'array': return `${shapeKey(layout, layout.resolve(t.of, loc), loc)}[]`;
    default: return t.kind;
  }
}
