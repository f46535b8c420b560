/**
 * Codec emission for one ABI: straight-line DataView code with the ABI's fixed
 * offsets and byte order, from the per-ABI layout. Also the ABI-independent
 * TypeScript shapes of records (what a value looks like is the same on every ABI;
 * 64-bit-capable integers are bigint everywhere).
 */
import type { Abi } from '../abi/abis.js';
import { HeaderError } from '../errors.js';
import type { CType, HeaderIR, RecordDecl } from '../ir/types.js';
import { AbiLayout, builtinScalar, type MemberLayout, type RecordLayout } from '../layout/layout.js';
import { ownRecords } from '../analysis/conventions.js';
import { propertyKey, typeName } from './names.js';
import { Imports, type Chunk } from './printer.js';

/** Module refs of what codecs import (resolved to paths by the emitter). */
export const RUNTIME_ENCODING = 'runtime/encoding';
export const RUNTIME_CODEC = 'runtime/codec';
export const TYPES = 'types';

/** Byte arrays longer than this are encoded by one typed-array copy, shorter ones byte by byte (measured on Node 20: a view costs ~30 ns). */
const BULK_COPY_MIN = 64;

/** How one scalar member is read and written on one ABI. */
interface Scalar {
  readonly size: number;
  readonly signed: boolean;
  readonly float: boolean;
}

/** Builds a JS expression naming a member (for encoder errors) from a path suffix. */
type PathExpr = (suffix: string) => string;

/** A record's TypeScript property, with its type, for the interface. */
export interface ShapeProperty {
  readonly name: string;
  readonly ts: string;
  readonly optional: boolean;
  /** Origin, for TSDoc: `__u32 argsz`. */
  readonly c: string;
}

/** Scalar kind of a resolved type on an ABI, or undefined for records/arrays. */
function scalarOf(layout: AbiLayout, t: CType, loc: MemberLayout['field']['loc']): Scalar | undefined {
  switch (t.kind) {
    case 'builtin': {
      const s = builtinScalar(t.name.split(' '), layout.abi);
      if (!s) throw new HeaderError(loc, `unknown type '${t.name}'`);
      const float = s.scalar === 'float' || s.scalar === 'double' || s.scalar === 'long double';
      if (s.scalar === 'long double') throw new HeaderError(loc, "'long double' members are not supported by the codecs");
      return { size: layout.abi.scalars[s.scalar].size, signed: s.signed, float };
    }
    case 'enum': {
      const it = layout.enumType(layout.ir.enums[t.id]!, loc);
      return { size: it.bits / 8, signed: it.signed, float: false };
    }
    case 'pointer':
      return { size: layout.abi.scalars.pointer.size, signed: false, float: false };
    default:
      return undefined;
  }
}

/**
 * How an array of 1-byte integers is exposed: `Int8Array` when its element type
 * is explicitly signed (`__s8`, `signed char`), else `Uint8Array` (bytes: plain
 * `char` arrays are strings or raw bytes whatever the ABI's char signedness).
 */
function byteArray(layout: AbiLayout, el: CType, loc: MemberLayout['field']['loc']): 'Uint8Array' | 'Int8Array' | undefined {
  const r = layout.resolve(el, loc);
  if (r.kind !== 'builtin') return undefined;
  const s = scalarOf(layout, r, loc);
  if (!s || s.size !== 1 || s.float) return undefined;
  const words = r.name.split(' ');
  return words.includes('signed') && !words.includes('unsigned') ? 'Int8Array' : 'Uint8Array';
}

const bigMemo = new WeakMap<readonly AbiLayout[], WeakMap<CType, boolean>>();

/**
 * Whether a scalar is a bigint in TypeScript: 64-bit on any ABI (so `long` and
 * pointers are bigint everywhere, and a value has one type on all ABIs).
 */
function isBig(layouts: readonly AbiLayout[], t: CType, loc: MemberLayout['field']['loc']): boolean {
  // Asked for every member on every ABI, about every ABI: memoised per type node (the IR's are shared).
  let memo = bigMemo.get(layouts);
  if (!memo) bigMemo.set(layouts, (memo = new WeakMap()));
  let big = memo.get(t);
  if (big === undefined) memo.set(t, (big = layouts.some((l) => (scalarOf(l, l.resolve(t, loc), loc)?.size ?? 0) > 4)));
  return big;
}

/** Builds the TS interfaces of records, shared by all ABIs. */
export class Shapes {
  /** Interface declarations, by record id, for named records referenced from own records. */
  readonly interfaces = new Map<number, { name: string; props: ShapeProperty[]; decl: RecordDecl }>();

  constructor(private readonly layouts: readonly AbiLayout[]) {
    const ir = layouts[0]!.ir;
    for (const r of ownRecords(ir)) this.interfaceOf(r.id);
  }

  private get ir(): HeaderIR { return this.layouts[0]!.ir; }

  /** The TS type name of a named record's interface, defining it on first use. */
  interfaceOf(id: number): string {
    const decl = this.ir.records[id]!;
    const existing = this.interfaces.get(id);
    if (existing) return existing.name;
    const name = typeName(decl.name!);
    const entry = { name, props: [] as ShapeProperty[], decl };
    this.interfaces.set(id, entry);
    entry.props = this.properties(decl);
    return name;
  }

  private properties(decl: RecordDecl, use?: (iface: string) => string): ShapeProperty[] {
    const props: ShapeProperty[] = [];
    const fields = decl.fields ?? [];
    fields.forEach((f, i) => {
      const t = this.layouts[0]!.resolve(f.type, f.loc);
      if (f.name === undefined) {
        if (t.kind === 'record') props.push(...this.properties(this.ir.records[t.id]!, use));
        return;
      }
      const flex = t.kind === 'array' && t.length === null && i === fields.length - 1;
      // A union's members are alternative views: an encoder is given one of them.
      props.push({ name: f.name, ts: this.tsType(f.type, f.loc, use), optional: flex || decl.tag === 'union', c: `${f.spelling} ${f.name}` });
    });
    return props;
  }

  /** The TS type of a C type; `use` is told each interface name it mentions. */
  tsType(t: CType, loc: MemberLayout['field']['loc'], use?: (iface: string) => string): string {
    const r = this.layouts[0]!.resolve(t, loc);
    switch (r.kind) {
      case 'array': {
        const bytes = byteArray(this.layouts[0]!, r.of, loc);
        if (bytes) return bytes;
        const inner = this.tsType(r.of, loc, use);
        return `${inner.includes(' ') ? `(${inner})` : inner}[]`;
      }
      case 'record': {
        const d = this.ir.records[r.id]!;
        if (d.name) return use ? use(this.interfaceOf(r.id)) : this.interfaceOf(r.id);
        return `{ ${this.properties(d, use).map((p) => `${propertyKey(p.name)}${p.optional ? '?' : ''}: ${p.ts}`).join('; ')} }`;
      }
      case 'function':
        throw new HeaderError(loc, 'function-typed members are not supported');
      default:
        return isBig(this.layouts, r, loc) ? 'bigint' : 'number';
    }
  }
}

/** One record's codec on one ABI: its field table, codec object and writer, and what they need. */
export interface CodecUnit extends Chunk {
  /** The record's C name (the exported binding). */
  readonly record: string;
  /** Ids of the array-element helpers it calls, directly or through other helpers. */
  readonly helpers: ReadonlySet<number>;
}

/**
 * Emits the codec code of one ABI. The byte order is not written into the
 * code: it is the `le` parameter of the factory the code is emitted into, so
 * records laid out alike on a little- and a big-endian ABI print alike.
 * Temporaries are numbered per function.
 */
export class CodecWriter {
  private readonly le = 'le';
  /** Offset-based reader/writer functions for records in arrays: record id -> code, and the helpers each calls. */
  private readonly helperChunks = new Map<number, Chunk>();
  private readonly helperCalls = new Map<number, Set<number>>();
  private tmp = 0;
  /** Imports and helper calls of the chunk being written. */
  private imports = new Imports();
  private calls = new Set<number>();

  constructor(private readonly layout: AbiLayout, private readonly layouts: readonly AbiLayout[], private readonly shapes: Shapes) {}

  get abi(): Abi { return this.layout.abi; }

  /** The code of helper `id` (after a codec that calls it was written). */
  helperChunk(id: number): Chunk {
    return this.helperChunks.get(id)!;
  }

  /** A runtime support function, imported. */
  private rt(name: string): string {
    return this.imports.value(RUNTIME_ENCODING, name);
  }

  private ts(t: CType, loc: MemberLayout['field']['loc']): string {
    return this.shapes.tsType(t, loc, (n) => this.imports.type(TYPES, n));
  }

  private iface(id: number): string {
    return this.imports.type(TYPES, this.shapes.interfaceOf(id));
  }

  /** Runs `write` with fresh imports and helper calls; returns what it recorded. */
  private collect(write: () => string): { text: string; imports: Imports; calls: Set<number> } {
    const saved = { imports: this.imports, calls: this.calls, tmp: this.tmp };
    this.imports = new Imports();
    this.calls = new Set();
    try {
      const text = write();
      return { text, imports: this.imports, calls: this.calls };
    } finally {
      Object.assign(this, saved);
    }
  }

  // ---- decode -----------------------------------------------------------------

  private scalarRead(s: Scalar, big: boolean, at: string): string {
    if (s.float) return `v.getFloat${s.size * 8}(${at}, ${this.le})`;
    const bits = s.size * 8;
    const fn = `get${bits === 64 ? 'Big' : ''}${s.signed ? 'Int' : 'Uint'}${bits}`;
    const read = s.size === 1 ? `v.${fn}(${at})` : `v.${fn}(${at}, ${this.le})`;
    return big && bits < 64 ? `BigInt(${read})` : read;
  }

  /** An expression decoding a value of type `t` at `at` (an offset expression relative to `v`). */
  private readExpr(t: CType, at: (k: number) => string, loc: MemberLayout['field']['loc'], indent: string): string {
    const r = this.layout.resolve(t, loc);
    const s = scalarOf(this.layout, r, loc);
    if (s) return this.scalarRead(s, isBig(this.layouts, r, loc), at(0));
    if (r.kind === 'array') {
      if (r.length === null) return '[]';
      const el = this.layout.resolve(r.of, loc);
      const elLayout = this.layout.typeLayout(el, loc);
      const n = elLayout.size === 0 ? 0 : this.layout.typeLayout(r, loc).size / elLayout.size;
      const bytes = byteArray(this.layout, el, loc);
      if (bytes) return `new ${bytes}(v.buffer, v.byteOffset + ${at(0)}, ${n}).slice()`;
      if (n <= 4) return `[${Array.from({ length: n }, (_, i) => this.readExpr(el, (k) => at(i * elLayout.size + k), loc, indent)).join(', ')}]`;
      const i = `i${this.tmp++}`;
      const elemAt = (k: number) => `${at(0)} + ${i}${elLayout.size === 1 ? '' : ` * ${elLayout.size}`}${k ? ` + ${k}` : ''}`;
      if (el.kind === 'record' && this.layout.ir.records[el.id]!.name) return `Array.from({ length: ${n} }, (_, ${i}) => read$${this.helper(el.id)}(v, ${elemAt(0)}))`;
      return `Array.from({ length: ${n} }, (_, ${i}) => ${this.readExpr(el, elemAt, loc, indent)})`;
    }
    if (r.kind === 'record') return this.readRecord(this.layout.recordLayout(r.id, loc), at, indent);
    throw new HeaderError(loc, 'cannot decode a member of this type');
  }

  /** An object literal decoding `rec` at `at`. Anonymous members are flattened. */
  private readRecord(rec: RecordLayout, at: (k: number) => string, indent: string): string {
    const lines: string[] = [];
    this.readMembers(rec, 0, at, indent + '  ', lines);
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  private readMembers(rec: RecordLayout, base: number, at: (k: number) => string, indent: string, lines: string[]): void {
    const last = rec.decl.fields!.length - 1;
    rec.members.forEach((m, idx) => {
      const off = base + m.offset;
      if (m.field.name === undefined) {
        if (m.resolved.kind === 'record') this.readMembers(this.layout.recordLayout(m.resolved.id), off, at, indent, lines);
        return;
      }
      if (m.resolved.kind === 'array' && m.resolved.length === null && idx === last) return; // flexible: decodeFlex
      let expr: string;
      if (m.bitWidth !== undefined) {
        const s = scalarOf(this.layout, m.resolved, m.field.loc)!;
        const bit = base * 8 + m.bitOffset!;
        const start = Math.floor(bit / 8);
        const bytes = Math.ceil((bit + m.bitWidth) / 8) - start;
        expr = `${this.rt('getBits')}(v, ${at(start)}, ${bytes}, ${bit - start * 8}, ${m.bitWidth}, ${this.le}, ${s.signed})`;
      } else expr = this.readExpr(m.field.type, (k) => at(off + k), m.field.loc, indent);
      lines.push(`${indent}${propertyKey(m.field.name)}: ${expr},`);
    });
  }

  // ---- encode -----------------------------------------------------------------

  /**
   * Statements writing one scalar. Integers are checked inline by a test V8
   * compiles to a few instructions (`(m >>> 0) === m` for a __u32,
   * `BigInt.asUintN(64, m) === m` for a __u64); anything else (undefined, which
   * encodes as 0, or a bad value, which throws) goes to the runtime's checker.
   * `path` is a JS expression naming the member, for error messages.
   */
  private scalarWrite(s: Scalar, big: boolean, at: string, value: string, path: string): string[] {
    const bits = s.size * 8;
    const le = s.size === 1 ? '' : `, ${this.le}`;
    if (s.float) return [`v.setFloat${bits}(${at}, ${this.rt('num')}(${value}, ${path})${le});`];
    const fn = `set${bits === 64 ? 'Big' : ''}${s.signed ? 'Int' : 'Uint'}${bits}`;
    if (big && bits < 64) {
      const min = s.signed ? -(2 ** (bits - 1)) : 0;
      const max = s.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
      return [`v.${fn}(${at}, Number(${this.rt('big')}(${value}, ${min}n, ${max}n, ${path}))${le});`];
    }
    const m = `m${this.tmp++}`;
    let checked: string;
    if (bits === 64) checked = `typeof ${m} === "bigint" && BigInt.as${s.signed ? 'Int' : 'Uint'}N(64, ${m}) === ${m} ? ${m} : ${this.rt(s.signed ? 's64' : 'u64')}(${m}, ${path})`;
    else {
      const max = 2 ** bits - 1;
      const fits = s.signed
        ? bits === 32 ? `(${m} | 0) === ${m}` : `((${m} << ${32 - bits}) >> ${32 - bits}) === ${m}`
        : bits === 32 ? `(${m} >>> 0) === ${m}` : `(${m} & 0x${max.toString(16)}) === ${m}`;
      checked = `typeof ${m} === "number" && ${fits} ? ${m} : ${this.rt(`${s.signed ? 's' : 'u'}${bits}`)}(${m}, ${path})`;
    }
    return [`const ${m} = ${value};`, `v.${fn}(${at}, ${checked}${le});`];
  }

  /** Statements writing `value` (an expression) of type `t` at `at`. */
  private writeStmts(t: CType, at: (k: number) => string, value: string, path: PathExpr, loc: MemberLayout['field']['loc'], indent: string, out: string[]): void {
    const r = this.layout.resolve(t, loc);
    const s = scalarOf(this.layout, r, loc);
    if (s) { out.push(...this.scalarWrite(s, isBig(this.layouts, r, loc), at(0), value, path('')).map((l) => indent + l)); return; }
    if (r.kind === 'array') {
      const el = this.layout.resolve(r.of, loc);
      const elSize = this.layout.typeLayout(el, loc).size;
      const n = r.length === null ? Number.MAX_SAFE_INTEGER : elSize === 0 ? 0 : this.layout.typeLayout(r, loc).size / elSize;
      const a = `a${this.tmp++}`;
      const i = `i${this.tmp++}`;
      const elemAt = (k: number) => `${at(0)} + ${i}${elSize === 1 ? '' : ` * ${elSize}`}${k ? ` + ${k}` : ''}`;
      const kind = byteArray(this.layout, el, loc);
      out.push(`${indent}const ${a} = ${this.rt('list')}(${value}, ${r.length === null ? 'Infinity' : n}, ${path('')});`);
      if (el.kind === 'record' && this.layout.ir.records[el.id]!.name) {
        out.push(`${indent}for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
        out.push(`${indent}  write$${this.helper(el.id)}(v, ${elemAt(0)}, ${a}[${i}], ${path('[]')});`);
      } else if (kind) {
        // A typed array of the right kind needs no per-byte check. A long one is copied in one go; a short one
        // byte by byte, which is cheaper than creating the typed-array view over v that a bulk copy needs.
        const setter = kind === 'Int8Array' ? 'setInt8' : 'setUint8';
        out.push(
          `${indent}if (${a} instanceof ${kind}) {`,
          `${indent}  if (${a}.length > ${BULK_COPY_MIN}) new ${kind}(v.buffer, v.byteOffset + ${at(0)}, ${a}.length).set(${a});`,
          `${indent}  else for (let ${i} = 0; ${i} < ${a}.length; ${i}++) v.${setter}(${elemAt(0)}, ${a}[${i}]!);`,
          `${indent}} else for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
        out.push(...this.scalarWrite({ size: 1, signed: kind === 'Int8Array', float: false }, false, elemAt(0), `${a}[${i}]`, path('[]')).map((l) => `${indent}  ${l}`));
      } else {
        out.push(`${indent}for (let ${i} = 0; ${i} < ${a}.length; ${i}++) {`);
        this.writeStmts(el, elemAt, `${a}[${i}]`, (x) => path(`[]${x}`), loc, indent + '  ', out);
      }
      out.push(`${indent}}`);
      return;
    }
    if (r.kind === 'record') {
      const o = `o${this.tmp++}`;
      out.push(`${indent}const ${o} = ${this.rt('obj')}(${value}, ${path('')});`);
      this.writeMembers(this.layout.recordLayout(r.id, loc), 0, at, o, path, indent, out);
      return;
    }
    throw new HeaderError(loc, 'cannot encode a member of this type');
  }

  private writeMembers(rec: RecordLayout, base: number, at: (k: number) => string, obj: string, path: PathExpr, indent: string, out: string[]): void {
    for (const m of rec.members) {
      const off = base + m.offset;
      if (m.field.name === undefined) {
        if (m.resolved.kind === 'record') this.writeMembers(this.layout.recordLayout(m.resolved.id), off, at, obj, path, indent, out);
        continue;
      }
      const value = `${obj}.${m.field.name}`;
      const name = m.field.name;
      const fieldPath: PathExpr = (x) => path(`.${name}${x}`);
      const body: string[] = [];
      if (m.bitWidth !== undefined) {
        const bit = base * 8 + m.bitOffset!;
        const start = Math.floor(bit / 8);
        const bytes = Math.ceil((bit + m.bitWidth) / 8) - start;
        body.push(`${indent}  ${this.rt('setBits')}(v, ${at(start)}, ${bytes}, ${bit - start * 8}, ${m.bitWidth}, ${this.le}, ${value}, ${fieldPath('')});`);
      } else this.writeStmts(m.field.type, (k) => at(off + k), value, fieldPath, m.field.loc, indent + '  ', body);
      // A member left out encodes as zero (the checks map undefined to 0); a union writes only the views given.
      if (rec.decl.tag === 'union') out.push(`${indent}if (${value} !== undefined) {`, ...body, `${indent}}`);
      else out.push(...body.map((l) => l.slice(2)));
    }
  }

  /** Calls helper `id` (offset-based reader/writer of a record in arrays), writing it on first use; returns `id`. */
  private helper(id: number): number {
    this.calls.add(id);
    if (this.helperCalls.has(id)) return id;
    this.helperCalls.set(id, new Set()); // reserve: records may nest
    const rec = this.layout.recordLayout(id);
    const c = this.collect(() => {
      const name = this.iface(id);
      const at = (k: number) => (k ? `o + ${k}` : 'o');
      this.tmp = 0;
      const read = `function read$${id}(v: DataView, o: number): ${name} {\n  return ${this.readRecord(rec, at, '  ')};\n}`;
      const body: string[] = [];
      this.tmp = 0;
      this.writeMembers(rec, 0, at, 'x', (x) => (x ? `path + ${JSON.stringify(x)}` : 'path'), '  ', body);
      const write = `function write$${id}(v: DataView, o: number, value: ${name}, path: string): void {\n  const x = ${this.rt('obj')}(value, path) as ${name};\n${body.join('\n')}\n}`;
      return `/** Reads a ${rec.decl.tag} ${rec.decl.name} at offset o (an array element). */\n${read}\n\n/** Writes a ${rec.decl.tag} ${rec.decl.name} at offset o (an array element). */\n${write}`;
    });
    c.calls.delete(id);
    this.helperCalls.set(id, c.calls);
    this.helperChunks.set(id, { text: c.text, imports: c.imports });
    return id;
  }

  /** Helper `ids` and every helper they call. */
  private helperClosure(ids: Iterable<number>): Set<number> {
    const out = new Set<number>();
    const visit = (id: number) => {
      if (out.has(id)) return;
      out.add(id);
      for (const d of this.helperCalls.get(id) ?? []) visit(d);
    };
    for (const id of ids) visit(id);
    return out;
  }

  private readonly fingerprints = new Map<number, number>();

  /**
   * Everything the codec of record `id` reads of this ABI's layout, as a number from `interned` (shared by
   * the writers of one header): the size, alignment, offsets and bit positions of its members, nested
   * records and array elements, and each scalar's size, signedness and kind. The IR being the same, a
   * record prints alike on ABIs where this is the same, so emit writes it once. Undefined where the
   * layout cannot be read (the codec reports why).
   */
  fingerprint(id: number, interned: Map<string, number>): number | undefined {
    const known = this.fingerprints.get(id);
    if (known !== undefined) return known;
    try {
      const rec = this.layout.recordLayout(id);
      const members = rec.members.map((m) => `${m.offset},${m.size},${m.align},${m.bitOffset ?? ''},${m.bitWidth ?? ''}:${this.typeFingerprint(m.resolved, m.field.loc, interned)}`);
      const text = `${rec.size},${rec.align};${members.join(';')}`;
      let n = interned.get(text);
      if (n === undefined) interned.set(text, (n = interned.size));
      this.fingerprints.set(id, n);
      return n;
    } catch (e) {
      if (e instanceof HeaderError) return undefined;
      throw e;
    }
  }

  private typeFingerprint(t: CType, loc: MemberLayout['field']['loc'], interned: Map<string, number>): string {
    const r = this.layout.resolve(t, loc);
    const s = scalarOf(this.layout, r, loc);
    if (s) return `${s.size}${s.signed ? 's' : 'u'}${s.float ? 'f' : ''}`;
    switch (r.kind) {
      case 'array': {
        const el = this.layout.resolve(r.of, loc);
        const elSize = this.layout.typeLayout(el, loc).size;
        const n = r.length === null ? 'flex' : elSize === 0 ? 0 : this.layout.typeLayout(r, loc).size / elSize;
        return `[${n}x${elSize} ${this.typeFingerprint(el, loc, interned)}]`;
      }
      case 'record': {
        const fp = this.fingerprint(r.id, interned);
        if (fp === undefined) throw new HeaderError(loc, 'no layout');
        return `r${r.id}#${fp}`;
      }
      default:
        return r.kind;
    }
  }

  /** The codec of record `decl`: field table, codec object and writer. */
  codec(decl: RecordDecl): CodecUnit {
    const c = this.collect(() => `${this.fieldTable(decl)}\n\n${this.codecText(decl)}`);
    return { record: decl.name!, text: c.text, imports: c.imports, helpers: this.helperClosure(c.calls) };
  }

  private codecText(decl: RecordDecl): string {
    const rec = this.layout.recordLayout(decl.id);
    const name = decl.name!;
    const T = this.iface(decl.id);
    const cName = `${decl.tag} ${name}`;
    const abs = (k: number) => String(k);
    const lastField = decl.fields![decl.fields!.length - 1];
    const lastMember = rec.members[rec.members.length - 1];
    const flexType = lastField && lastMember?.field === lastField && lastMember.resolved.kind === 'array' && lastMember.resolved.length === null ? lastMember.resolved : undefined;
    const writes: string[] = [];
    const rel = (k: number) => (k ? `o + ${k}` : 'o');
    this.tmp = 0;
    this.writeMembers(rec, 0, rel, 'value', (x) => JSON.stringify(name + x), '    ', writes);
    // encodeInto zeroes the record first only where writing every member would leave bytes untouched.
    const needsZero = this.hasGaps(rec, flexType !== undefined);
    const out: string[] = [];
    out.push(`/** ${cName}: ${rec.size} bytes, aligned to ${rec.align}. Declared at ${basename(decl.loc.file)}:${decl.loc.line}. */`);
    const flexTs = flexType && lastField ? this.ts({ kind: 'array', of: flexType.of, length: null }, lastField.loc) : undefined;
    const codecType = flexTs ? `${this.imports.type(RUNTIME_CODEC, 'FlexCodec')}<${T}, ${flexTs}>` : `${this.imports.type(RUNTIME_CODEC, 'Codec')}<${T}>`;
    out.push(`const ${name}: ${codecType} = {`);
    out.push(`  cName: ${JSON.stringify(cName)},`, `  size: ${rec.size},`, `  align: ${rec.align},`);
    out.push(`  fields: ${name}$fields,`);
    const flexElSize = flexType && lastField ? this.layout.typeLayout(flexType.of, lastField.loc).size : 0;
    if (flexType && lastField?.name) {
      out.push(`  flex: { path: ${JSON.stringify(lastField.name)}, offset: ${lastMember!.offset}, elementSize: ${flexElSize} },`);
      out.push(`  /** argsz for \`n\` trailing elements: the fixed part and the elements, at least sizeof. */`);
      out.push(`  argszFor(n: number): number {`, `    return ${this.flexSize(rec.size, lastMember!.offset, flexElSize, `${this.rt('int')}(n, 0, 0x7fffffff, 'n')`)};`, '  },');
      this.tmp = 0;
      const flexRead = flexElSize === 0 ? '[]' : this.readExpr({ kind: 'array', of: flexType.of, length: { k: 'int', value: 1n, decimal: true, unsigned: false, longs: 0, loc: lastField.loc } }, (k) => `o${k ? ` + ${k}` : ''}`, lastField.loc, '    ');
      out.push(`  /** The trailing elements: \`count\` of them, or as many as the buffer holds. */`);
      out.push(`  decodeFlex(bytes: Uint8Array, offset = 0, count?: number): ${flexTs} {`);
      out.push(`    const n = count === undefined ? Math.max(0, Math.floor((bytes.byteLength - offset - ${lastMember!.offset}) / ${Math.max(flexElSize, 1)})) : ${this.rt('int')}(count, 0, 0x7fffffff, 'count');`);
      const flexBytes = flexElSize === 0 ? undefined : byteArray(this.layout, this.layout.resolve(flexType.of, lastField.loc), lastField.loc);
      if (flexBytes === 'Uint8Array') {
        out.push(`    ${this.rt('checkRange')}(bytes.byteLength, offset + ${lastMember!.offset}, n, ${JSON.stringify(cName)});`);
        out.push(`    return bytes.slice(offset + ${lastMember!.offset}, offset + ${lastMember!.offset} + n);`);
      } else {
        out.push(`    const v = ${this.rt('viewOf')}(bytes, offset + ${lastMember!.offset}, n * ${flexElSize}, ${JSON.stringify(cName)});`);
        if (flexBytes === 'Int8Array') out.push(`    return new Int8Array(v.buffer, v.byteOffset, n).slice();`);
        else out.push(`    return Array.from({ length: n }, (_, k) => { const o = k * ${flexElSize}; return ${flexRead.slice(1, -1)}; });`);
      }
      out.push('  },');
    }
    this.tmp = 0;
    out.push(`  decode(bytes: Uint8Array, offset = 0): ${T} {`);
    out.push(`    const v = ${this.rt('viewOf')}(bytes, offset, ${rec.size}, ${JSON.stringify(cName)});`);
    out.push(`    return ${this.readRecord(rec, abs, '    ')};`);
    out.push('  },');
    const flexName = flexType && lastField?.name;
    const cn = JSON.stringify(cName);
    const flexSize = (n: string) => this.flexSize(rec.size, lastMember!.offset, flexElSize, n);
    out.push(`  encode(value: Partial<${T}>): Uint8Array {`);
    // The elements of a flexible array are read once: the size allocated is the size written (a length getter cannot grow in between).
    const flexValue = flexName ? `f === value.${flexName} ? value : { ...value, ${flexName}: f } as Partial<${T}>` : 'value';
    if (flexName) {
      out.push(`    const f = ${this.rt('list')}(value.${flexName}, Infinity, ${JSON.stringify(`${name}.${flexName}`)});`);
      out.push(`    const bytes = ${this.rt('allocate')}(${flexSize('f.length')});`);
    } else out.push(`    const bytes = ${this.rt('allocate')}(${rec.size});`);
    // allocate() gives zeroed memory: padding stays zero without a fill.
    out.push(`    write$${name}(${this.rt('bufferView')}(bytes), bytes.byteOffset, ${flexValue});`, '    return bytes;', '  },');
    out.push(`  encodeInto(view: DataView, offset: number, value: Partial<${T}>): void {`);
    if (flexName) {
      out.push(`    const f = ${this.rt('list')}(value.${flexName}, Infinity, ${JSON.stringify(`${name}.${flexName}`)});`);
      out.push(`    const size = ${flexSize('f.length')};`);
      out.push(`    ${this.rt('checkView')}(view, offset, size, ${cn});`);
    } else out.push(`    ${this.rt('checkView')}(view, offset, ${rec.size}, ${cn});`);
    if (needsZero) out.push(`    new Uint8Array(view.buffer, view.byteOffset + offset, ${flexName ? 'size' : rec.size}).fill(0);`);
    out.push(`    write$${name}(view, offset, ${flexValue});`, '  },');
    out.push('};');
    out.push('');
    out.push(`function write$${name}(v: DataView, o: number, value: Partial<${T}>): void {`);
    // The common case (an object) without a call; obj() reports anything else.
    out.push(`  if (typeof value !== "object" || value === null) ${this.rt('obj')}(value, ${JSON.stringify(name)});`);
    out.push(...writes.map((l) => l.slice(2)));
    out.push('}');
    return out.join('\n');
  }

  /** The size of a record with `n` (an expression) trailing elements: max(sizeof, offset of the array + n elements). */
  private flexSize(size: number, offset: number, elSize: number, n: string): string {
    const end = `${offset} + ${n}${elSize === 1 ? '' : ` * ${elSize}`}`;
    return offset >= size ? end : `Math.max(${size}, ${end})`;
  }

  /**
   * Whether writing every member of `rec` can leave bytes unwritten: padding,
   * unions, bit-fields, fixed arrays (a shorter list is allowed), records of
   * such. A flexible array member (`flex`) is written whole, so it leaves a gap
   * only through its elements' own.
   */
  private hasGaps(rec: RecordLayout, flex = false): boolean {
    if (rec.decl.tag === 'union') return true;
    let end = 0;
    for (const [i, m] of rec.members.entries()) {
      const isFlex = flex && i === rec.members.length - 1 && m.resolved.kind === 'array' && m.resolved.length === null;
      if (m.bitWidth !== undefined || (m.resolved.kind === 'array' && !isFlex) || m.offset !== end) return true;
      const el = m.resolved.kind === 'array' ? this.layout.resolve(m.resolved.of, m.field.loc) : m.resolved;
      if (el.kind === 'record' && this.hasGaps(this.layout.recordLayout(el.id))) return true;
      end = m.offset + m.size;
    }
    // A flexible array member starting inside the tail padding: the bytes between are a gap too.
    return end !== rec.size;
  }

  /** The field table (layout metadata) of a record. */
  private fieldTable(decl: RecordDecl): string {
    const rec = this.layout.recordLayout(decl.id);
    const rows: string[] = [];
    const walk = (r: RecordLayout, base: number, prefix: string) => {
      for (const m of r.members) {
        const off = base + m.offset;
        if (m.field.name === undefined) {
          if (m.resolved.kind === 'record') walk(this.layout.recordLayout(m.resolved.id), off, prefix);
          continue;
        }
        const path = prefix + m.field.name;
        const s = scalarOf(this.layout, m.resolved, m.field.loc);
        const arr = m.resolved.kind === 'array' ? m.resolved : undefined;
        let count = '';
        if (arr) {
          const el = this.layout.typeLayout(arr.of, m.field.loc);
          count = `, count: ${arr.length === null || el.size === 0 ? 0 : m.size / el.size}`;
        }
        const elemScalar = arr ? scalarOf(this.layout, this.layout.resolve(arr.of, m.field.loc), m.field.loc) : s;
        const signed = elemScalar && !elemScalar.float ? `, signed: ${elemScalar.signed}` : '';
        const bits = m.bitWidth !== undefined ? `, bitOffset: ${base * 8 + m.bitOffset!}, bitWidth: ${m.bitWidth}` : '';
        rows.push(`  { path: ${JSON.stringify(path)}, offset: ${off}, size: ${m.size}, type: ${JSON.stringify(m.field.spelling)}${signed}${count}${bits} },`);
        if (m.resolved.kind === 'record' && m.bitWidth === undefined) walk(this.layout.recordLayout(m.resolved.id), off, `${path}.`);
      }
    };
    walk(rec, 0, '');
    return `const ${decl.name}$fields: readonly ${this.imports.type(RUNTIME_CODEC, 'FieldLayout')}[] = [\n${rows.join('\n')}\n];`;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
