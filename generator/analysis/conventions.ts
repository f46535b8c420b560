/**
 * Analysis, the stage between the IR (and its layouts) and emit: what the
 * header says about its constants beyond their values, by the kernel headers'
 * conventions: which flags belong to which field, which ioctls take which
 * argument on which fd, which capability ids go with which info struct, and
 * which function-like macros are plain expressions. All ABI-independent, by
 * name; values are bound per ABI. Used by emit, diff and the conformance
 * manifest alike.
 */
import { identifiersOf, type Expr } from '../expr/ast.js';
import { parseExpression } from '../expr/parser.js';
import { commentText } from '../source/lexer.js';
import type { HeaderIR, MacroDecl, RecordDecl } from '../ir/types.js';
import { ABI_BUILTIN_PREFIX } from '../abi/abis.js';
import type { AbiLayout } from '../layout/layout.js';

/** Which records get codecs: named records with a body, defined by the header itself. */
export function ownRecords(ir: HeaderIR): RecordDecl[] {
  return ir.records.filter((r) => r.name && r.fields && r.loc.file === ir.file);
}

/** Flags (single bits) and masks/values that belong to one integer field. */
export interface FlagGroup {
  readonly record: RecordDecl;
  readonly field: string;
  readonly bits: string[];
  readonly masks: string[];
}

/** An ioctl's argument, as the header states it. */
export type IoctlArgSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'struct'; readonly record: string; readonly direction: 'in' | 'out' | 'inout' }
  | { readonly kind: 'scalar'; readonly cType: string; readonly direction: 'in' | 'out' | 'inout' | 'value' }
  | { readonly kind: 'string' }
  | { readonly kind: 'unknown'; readonly reason: string };

/** One ioctl of the header. */
export interface IoctlSpec {
  readonly name: string;
  readonly fd: 'container' | 'group' | 'device' | 'iommufd' | 'unknown';
  readonly arg: IoctlArgSpec;
  /** Where the argument was learnt: the `_IO*` macro itself, or the doc comment. */
  readonly source: 'macro' | 'comment' | 'none';
  readonly line: number;
}

/** A capability id of an info struct and the record of that capability. */
export interface CapabilitySpec {
  readonly info: string;
  readonly id: string;
  /** The capability's record, or undefined when it is only a header. */
  readonly record?: string;
}

/** A function-like macro whose body is an expression over its parameters and constants. */
export interface FunctionSpec {
  readonly macro: MacroDecl;
  readonly expr: Expr;
}

const IOC_DIRECTION = new Set([`${ABI_BUILTIN_PREFIX}ioc_none`, `${ABI_BUILTIN_PREFIX}ioc_read`, `${ABI_BUILTIN_PREFIX}ioc_write`]);

/** Names of the integer constants defined by the header on the given layout. */
function integerConstants(layout: AbiLayout): ReadonlyMap<string, bigint> {
  // Asked by several analyses for every ABI: one map per constants() answer (alike ABIs share theirs).
  const list = layout.constants();
  let map = constantMaps.get(list);
  if (!map) constantMaps.set(list, (map = new Map(list.values.map((c) => [c.name, c.value]))));
  return map;
}
const constantMaps = new WeakMap<object, ReadonlyMap<string, bigint>>();

/** Flags written inside a struct, right after the field they belong to. */
export function flagGroups(ir: HeaderIR, layout: AbiLayout): FlagGroup[] {
  const values = integerConstants(layout);
  const groups: FlagGroup[] = [];
  for (const rec of ownRecords(ir)) {
    if (!rec.endLine) continue;
    const fields = (rec.fields ?? []).filter((f) => f.name !== undefined);
    for (const m of ir.macros) {
      if (m.loc.line <= rec.loc.line || m.loc.line >= rec.endLine || !values.has(m.name)) continue;
      const owner = [...fields].reverse().find((f) => f.loc.line < m.loc.line);
      if (!owner) continue;
      const t = layout.resolve(owner.type, owner.loc);
      if (t.kind !== 'builtin' && t.kind !== 'enum') continue;
      let g = groups.find((x) => x.record === rec && x.field === owner.name);
      if (!g) groups.push((g = { record: rec, field: owner.name!, bits: [], masks: [] }));
      const v = values.get(m.name)!;
      (v > 0n && (v & (v - 1n)) === 0n ? g.bits : g.masks).push(m.name);
    }
  }
  return groups.filter((g) => g.bits.length > 0);
}

/** Splits `a, b(c, d), e` at top-level commas. */
function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function argFromType(kind: string, type: string | undefined): IoctlArgSpec {
  const direction = kind === '_IOR' ? 'out' : kind === '_IOW' ? 'in' : 'inout';
  if (type === undefined) return kind === '_IO' ? { kind: 'none' } : { kind: 'unknown', reason: `${kind} without an argument type` };
  const t = type.replace(/\s+/g, ' ').trim();
  const rec = /^(struct|union) (\w+)$/.exec(t);
  if (rec) return { kind: 'struct', record: rec[2]!, direction };
  if (t === 'char') return { kind: 'string' };
  if (/^(__[us](8|16|32|64)|int|unsigned int|unsigned long|long|__kernel_\w+)$/.test(t)) return { kind: 'scalar', cType: t, direction: kind === '_IO' ? 'value' : direction };
  return { kind: 'unknown', reason: `argument type '${t}' is not a struct or an integer` };
}

/** Every ioctl the header defines, with the fd it applies to and its argument. */
export function ioctlSpecs(ir: HeaderIR): IoctlSpec[] {
  const own = new Map(ownRecords(ir).map((r) => [r.name!, r]));
  const comments = ir.comments.map((c) => ({ c, text: commentText(c) }));
  // Section banners: `/* -------- IOCTLs for GROUP file descriptors ... -------- */`.
  const banners = comments
    .filter(({ text }) => /^\s*-{3,}.*-{3,}\s*$/s.test(text.trim()))
    .map(({ c, text }) => {
      const t = text.toLowerCase();
      const fd = /group/.test(t) ? 'group' : /device/.test(t) ? 'device' : /\/dev\/vfio\/vfio|iommu|vfio file/.test(t) ? 'container' : 'unknown';
      return { line: c.loc.line, fd: fd as IoctlSpec['fd'] };
    });
  const specs: IoctlSpec[] = [];
  for (const m of ir.macros) {
    if (m.value?.kind !== 'expression') continue;
    const ids = identifiersOf(m.value.expr);
    if (![...ids].some((i) => IOC_DIRECTION.has(i))) continue;
    let arg: IoctlArgSpec | undefined;
    let source: IoctlSpec['source'] = 'none';
    // The macro's own `_IOR(type, nr, struct x)` is the real encoding: trust it first.
    const body = /^\s*(_IOWR|_IOR|_IOW|_IO)\s*\((.*)\)\s*$/s.exec(m.body);
    if (body && body[1] !== '_IO') {
      const args = splitArgs(body[2]!);
      arg = argFromType(body[1]!, args[2]);
      source = 'macro';
    }
    if (!arg || arg.kind === 'unknown') {
      // `_IORW` is a typo some headers' docs make for `_IOWR`.
      const doc = new RegExp(`(?:^|\\n)\\s*${m.name}\\s+-\\s+(_IOWR|_IORW|_IOR|_IOW|_IO)\\s*\\(([^()]*(?:\\([^()]*\\)[^()]*)*)\\)`);
      const iommufd = new RegExp(`struct\\s+(\\w+)\\s+-\\s+ioctl\\(${m.name}\\)`);
      for (const { c, text } of comments) {
        if (!text.includes(m.name)) continue; // both patterns name the macro: skip the regexes
        const d = doc.exec(text);
        if (d) {
          arg = argFromType(d[1] === '_IORW' ? '_IOWR' : d[1]!, splitArgs(d[2]!.replace(/\s+/g, ' '))[2]);
          source = 'comment';
          // Some doc lines name a struct by an older name (`struct vfio_iommu_info`); the header then
          // defines the real one between that comment and the #define: take the first such struct.
          if (arg.kind === 'struct' && !own.has(arg.record)) {
            const placed = [...own.values()].filter((r) => r.loc.line > c.endLine && r.loc.line < m.loc.line).sort((a, b) => a.loc.line - b.loc.line)[0];
            if (placed) arg = { ...arg, record: placed.name! };
          }
          break;
        }
        const s = iommufd.exec(text);
        if (s) { arg = { kind: 'struct', record: s[1]!, direction: 'inout' }; source = 'comment'; break; }
      }
    }
    // `/* IOCTLs to enable/disable ... No parameters are supported. */` right above the #define.
    const above = comments.find(({ c }) => c.endLine >= m.loc.line - 2 && c.endLine < m.loc.line);
    if (!arg && above && /\bno (parameters|arguments?)\b/i.test(above.text)) { arg = { kind: 'none' }; source = 'comment'; }
    if (!arg) arg = body?.[1] === '_IO' ? { kind: 'unknown', reason: 'neither the _IO macro nor a comment names an argument' } : { kind: 'unknown', reason: 'no _IO* form found' };
    const banner = [...banners].reverse().find((b) => b.line < m.loc.line);
    const typeName = /^\s*_IO\w*\s*\(\s*(\w+)/.exec(m.body)?.[1] ?? '';
    const fd = banner?.fd ?? (/IOMMUFD/.test(typeName) ? 'iommufd' : 'unknown');
    specs.push({ name: m.name, fd, arg, source, line: m.loc.line });
  }
  return specs;
}

/** Capability ids of every info struct that has a `cap_offset`, with their records. */
export function capabilitySpecs(ir: HeaderIR, layout: AbiLayout): CapabilitySpec[] {
  const values = integerConstants(layout);
  const records = new Map(ownRecords(ir).map((r) => [r.name!, r]));
  const startsWithCapHeader = (r: RecordDecl) => {
    const first = r.fields?.[0];
    if (!first) return false;
    const t = layout.resolve(first.type, first.loc);
    return t.kind === 'record' && /_cap_header$/.test(ir.records[t.id]!.name ?? '');
  };
  const specs: CapabilitySpec[] = [];
  for (const info of records.values()) {
    if (!info.fields?.some((f) => f.name === 'cap_offset')) continue;
    const prefix = `${info.name!.toUpperCase()}_`;
    for (const name of values.keys()) {
      if (!name.startsWith(prefix)) continue;
      const rec = records.get(name.toLowerCase());
      const isCapId = name.startsWith(`${prefix}CAP_`) || (rec !== undefined && startsWithCapHeader(rec));
      if (!isCapId || /_(FLAG|FLAGS)_|_MASK$/.test(name)) continue;
      specs.push({ info: info.name!, id: name, record: rec && startsWithCapHeader(rec) ? rec.name : undefined });
    }
  }
  return specs;
}

/** Function-like macros whose body is an integer expression over parameters and the header's constants. */
export function functionSpecs(ir: HeaderIR, layouts: readonly AbiLayout[]): { specs: FunctionSpec[]; skipped: { name: string; reason: string }[] } {
  const specs: FunctionSpec[] = [];
  const skipped: { name: string; reason: string }[] = [];
  // Built on first need: most headers' function-like macros are few, a hostile one's constants many.
  let everywhere: ReadonlyMap<string, bigint>[] | undefined;
  const isConstantEverywhere = (name: string) => (everywhere ??= [...new Set(layouts.map(integerConstants))]).every((c) => c.has(name));
  for (const m of ir.macros) {
    if (!m.params) continue;
    let expr: Expr;
    try {
      expr = parseExpression(m.bodyTokens, { isTypeName: (n) => ir.typedefs.has(n) });
    } catch (e) {
      skipped.push({ name: m.name, reason: `body is not an expression: ${(e as Error).message}` });
      continue;
    }
    const unknown = [...identifiersOf(expr)].filter((i) => !m.params!.includes(i) && !isConstantEverywhere(i));
    if (unknown.length > 0) { skipped.push({ name: m.name, reason: `refers to ${unknown.join(', ')}, not a constant of this header` }); continue; }
    if (hasUnsupported(expr)) { skipped.push({ name: m.name, reason: 'uses casts, sizeof or calls' }); continue; }
    specs.push({ macro: m, expr });
  }
  return { specs, skipped };
}

function hasUnsupported(e: Expr): boolean {
  switch (e.k) {
    case 'cast': case 'sizeof': case 'alignof': case 'call': case 'string': case 'offsetof': return true;
    case 'unary': return hasUnsupported(e.e);
    case 'binary': return hasUnsupported(e.l) || hasUnsupported(e.r);
    case 'cond': return hasUnsupported(e.c) || hasUnsupported(e.t) || hasUnsupported(e.f);
    default: return false;
  }
}

/** Everything the analysis stage learns about a header, for emit. */
export interface HeaderAnalysis {
  /** Records that get codecs. */
  readonly records: readonly RecordDecl[];
  readonly flags: readonly FlagGroup[];
  readonly ioctls: readonly IoctlSpec[];
  readonly capabilities: readonly CapabilitySpec[];
  readonly functions: readonly FunctionSpec[];
}

/** Runs every analysis of the header (`layouts[0]` names constants; functions need all ABIs). */
export function analyzeHeader(ir: HeaderIR, layouts: readonly AbiLayout[]): HeaderAnalysis {
  return {
    records: ownRecords(ir),
    flags: flagGroups(ir, layouts[0]!),
    ioctls: ioctlSpecs(ir),
    capabilities: capabilitySpecs(ir, layouts[0]!),
    functions: functionSpecs(ir, layouts).specs,
  };
}
