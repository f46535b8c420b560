/**
 * A pahole-like text rendering of a header's layout on one ABI: each record with
 * member offsets, sizes, holes and trailing padding, then the constants.
 */
import type { Abi } from '../abi/abis.js';
import type { HeaderIR } from '../ir/types.js';
import { AbiLayout, type RecordLayout } from './layout.js';

/** Renders the layout of every named record and constant the header defines. */
export function layoutTable(ir: HeaderIR, abi: Abi): string {
  const layout = new AbiLayout(ir, abi);
  const out: string[] = [`/* ${ir.file} on ${abi.name} (${abi.endian}-endian) */`, ''];
  for (const decl of ir.records) {
    if (!decl.name || !decl.fields || decl.loc.file !== ir.file) continue;
    const r = layout.recordLayout(decl.id);
    out.push(`${decl.tag} ${decl.name} {${' '.repeat(Math.max(1, 52 - decl.tag.length - decl.name.length))}/* size ${r.size}, align ${r.align} */`);
    renderMembers(layout, r, 0, 1, out);
    out.push('};', '');
  }
  const { values } = layout.constants();
  const width = Math.max(0, ...values.map((c) => c.name.length));
  for (const c of values) {
    const hex = c.value < 0n ? '' : `  0x${c.value.toString(16)}`;
    out.push(`#define ${c.name.padEnd(width)}  ${c.value}${hex}  (${c.type.name})`);
  }
  return out.join('\n') + '\n';
}

function renderMembers(layout: AbiLayout, r: RecordLayout, base: number, depth: number, out: string[]): void {
  const indent = '\t'.repeat(depth);
  let end = 0;
  for (const m of r.members) {
    const offset = base + m.offset;
    if (r.decl.tag === 'struct' && m.bitWidth === undefined && m.offset > end) out.push(`${indent}/* XXX ${m.offset - end} byte hole */`);
    const nested = m.resolved.kind === 'record' ? layout.recordLayout(m.resolved.id) : undefined;
    if (nested && m.field.name === undefined) {
      out.push(`${indent}${nested.decl.tag} {${' '.repeat(Math.max(1, 46 - depth * 8))}/* ${String(offset).padStart(5)} ${String(nested.size).padStart(5)} */`);
      renderMembers(layout, nested, offset, depth + 1, out);
      out.push(`${indent}};`);
    } else {
      const bits = m.bitWidth !== undefined ? `:${m.bitWidth}` : '';
      const decl = `${indent}${m.field.spelling}${m.field.name === undefined ? "" : ` ${m.field.name}`}${bits};`;
      const where = m.bitWidth !== undefined ? `${offset}:${(m.bitOffset ?? 0) % 8}` : String(offset);
      out.push(`${decl.padEnd(Math.max(decl.length + 1, 56))}/* ${where.padStart(5)} ${String(m.size).padStart(5)} */`);
    }
    end = Math.max(end, m.offset + (m.bitWidth !== undefined ? Math.ceil(((m.bitOffset ?? 0) % 8 + m.bitWidth) / 8) : m.size));
  }
  if (r.decl.tag === 'struct' && r.size > end && depth === 1) out.push(`${indent}/* padding: ${r.size - end} */`);
}
