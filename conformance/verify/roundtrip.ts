/**
 * The byte round trip of a codec against C: a global object of the record,
 * initialised in C with a distinct value in every field (for a union, its
 * first member; never a flexible array), is read from the object file; the
 * codec must decode it to the values the initialiser wrote, and encode the
 * decoded value back to exactly C's bytes (padding zero: a static object's
 * padding is zero in C).
 *
 * The expected values come from the initialiser written here (and, for the
 * members of a union that are not initialised, from C's bytes at clang's
 * offset), never from the codec under test.
 */
import type { Abi } from '../../generator/abi/abis.js';
import type { Codec, FieldLayout } from 'vfio-uapi/codegen-v1';
import type { CObject, Designator } from './ctu.js';

/** A field of a codec's metadata, with the bit-field members some codecs add. */
export type FieldInfo = FieldLayout & { readonly bitOffset?: number; readonly bitWidth?: number };

/** How a leaf's value is written and compared. */
export type LeafKind = 'int' | 'pointer' | 'float' | 'bool' | 'bitfield';

/** One scalar the initialiser can set: a field, or one element of an array field. */
export interface Leaf {
  /** Designator key and member-access text: `header.id`, `ste[1]`. */
  readonly key: string;
  /** The field this leaf belongs to. */
  readonly field: FieldInfo;
  /** Array element index, if the field is an array. */
  readonly index?: number;
  /** Where the decoded value sits: `['header', 'id']`, `['ste', 1]`. */
  readonly access: readonly (string | number)[];
  readonly kind: LeafKind;
  /** Bytes of the value (the element size for arrays). */
  readonly size: number;
  readonly signed: boolean;
  /** The value the initialiser writes. */
  readonly value: bigint | number;
  /** The designator (C text). */
  readonly designator: Designator;
}

/** A codec's C object and its leaves. */
export interface RecordPlan {
  readonly cName: string;
  readonly codec: Codec<unknown>;
  readonly object: CObject;
  readonly leaves: readonly Leaf[];
  /** Fields the initialiser cannot set (arrays of records, nested arrays, unknown kinds), for the record. */
  readonly skipped: readonly string[];
}

/** Whether `v` looks like a generated struct/union codec. */
export function isCodec(v: unknown): v is Codec<unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Partial<Codec<unknown>>;
  return typeof c.cName === 'string' && /^(struct|union) /.test(c.cName) && typeof c.size === 'number'
    && Array.isArray(c.fields) && typeof c.decode === 'function' && typeof c.encode === 'function';
}

/** The byte of the value pattern at running position `t`: never zero. */
function patternByte(t: number): number {
  return ((t * 0x9d + 0x5b) % 255) + 1;
}

/**
 * The leaves of a codec and the value of each: leaf `k` of `n` bytes gets the
 * most significant byte `0x80 | (k mod 128)` (so no two leaves of a record are
 * equal, and every sign bit is set) and non-zero pattern bytes below it, at the
 * sizes the bindings claim. `symbol` names the C object.
 */
export function planRecord(codec: Codec<unknown>, symbol: string): RecordPlan {
  const fields = codec.fields as readonly FieldInfo[];
  const parents = new Set<string>();
  for (const f of fields) {
    const dot = f.path.lastIndexOf('.');
    if (dot > 0) parents.add(f.path.slice(0, dot));
  }
  const leaves: Leaf[] = [];
  const skipped: string[] = [];
  let t = 0;
  const member = (key: string) => `((${codec.cName} *)0)->${key}`;
  const add = (field: FieldInfo, index: number | undefined, size: number, kind: LeafKind) => {
    const key = index === undefined ? field.path : `${field.path}[${index}]`;
    const k = leaves.length;
    const signed = field.signed === true;
    let value: bigint | number;
    let literal: string;
    if (kind === 'float') {
      value = k + 1.25;
      literal = String(value);
    } else if (kind === 'bool') {
      value = 1;
      literal = '1';
    } else if (kind === 'bitfield') {
      const width = field.bitWidth!;
      let u = 0n;
      for (let j = 0; j < width; j++) u = (u << 1n) | BigInt((patternByte(t + j) ^ k) & 1);
      u |= 1n << BigInt(width - 1);
      t += width;
      const v = signed ? BigInt.asIntN(width, u) : u;
      value = Number(v);
      literal = String(v);
    } else {
      let u = BigInt(0x80 | (k & 0x7f));
      for (let j = 1; j < size; j++) u = (u << 8n) | BigInt(patternByte(t++));
      const v = signed && kind === 'int' ? BigInt.asIntN(size * 8, u) : u;
      value = v;
      literal = kind === 'pointer'
        ? `(__typeof__(${member(key)}))(__UINTPTR_TYPE__)0x${u.toString(16)}ULL`
        : v < 0n ? `(-0x${(-v).toString(16)}LL)` : `0x${v.toString(16)}ULL`;
    }
    const access: (string | number)[] = field.path.split('.');
    if (index !== undefined) access.push(index);
    leaves.push({ key, field, index, access, kind, size, signed, value, designator: { key, text: `.${key} = ${literal}` } });
  };
  for (const f of fields) {
    if (parents.has(f.path)) continue; // a nested record: its members are leaves
    const type = f.type.trim();
    if (f.bitWidth !== undefined) {
      add(f, undefined, f.size, 'bitfield');
      continue;
    }
    const isArray = f.count !== undefined;
    if (isArray && f.count === 0) continue; // flexible array member: never initialised
    const elemType = type.replace(/\[[^\]]*\]$/, '').trim();
    let kind: LeafKind | undefined;
    if (/\*$/.test(elemType)) kind = 'pointer';
    else if (/^(?:float|double)$/.test(elemType)) kind = 'float';
    else if (/^(?:_Bool|bool)$/.test(elemType)) kind = 'bool';
    else if (f.signed !== undefined && !/\[/.test(elemType)) kind = 'int';
    if (!kind || (kind === 'float' && f.size / (f.count ?? 1) !== 4 && f.size / (f.count ?? 1) !== 8)) {
      skipped.push(f.path);
      continue;
    }
    if (isArray) {
      const n = f.count!;
      const size = f.size / n;
      for (let i = 0; i < n; i++) add(f, i, size, kind);
    } else {
      add(f, undefined, f.size, kind);
    }
  }
  return {
    cName: codec.cName,
    codec,
    object: { symbol, type: codec.cName, designators: leaves.map((l) => l.designator) },
    leaves,
    skipped,
  };
}

/** One disagreement of the round trip. */
export interface RoundTripFailure {
  readonly kind: 'decode' | 'encode';
  /** `struct S.path` or `struct S`. */
  readonly subject: string;
  readonly bindings?: string;
  readonly clang?: string;
  /** Without the ABI suffix: `struct S.f: decode gives 0x1, C wrote 0x2`. */
  readonly text: string;
}

/** What C's side says about a leaf that the initialiser did not set (a later union member). */
export interface CLayoutLookup {
  /** clang's offset and size of a field (the element size for arrays), and its signedness; undefined if unknown. */
  field(path: string): { offset: number; size: number; elementSize?: number; signed?: boolean } | undefined;
}

/** The value of each leaf as C holds it: what the initialiser wrote, or (not set) C's bytes at clang's offset. */
export function expectedValues(plan: RecordPlan, cBytes: Uint8Array, abi: Abi, dropped: ReadonlyMap<string, string> | undefined, layout?: CLayoutLookup): Map<Leaf, { value: bigint | number; source: 'initialiser' | 'bytes' }> {
  const out = new Map<Leaf, { value: bigint | number; source: 'initialiser' | 'bytes' }>();
  for (const leaf of plan.leaves) {
    const why = dropped?.get(leaf.key);
    if (why === undefined) {
      // As C stores it: converted to the member's type (clang's signedness, where the bindings claim another).
      const signed = leaf.kind === 'int' ? layout?.field(leaf.field.path)?.signed : undefined;
      const value = signed === undefined || signed === leaf.signed || typeof leaf.value !== 'bigint' ? leaf.value
        : signed ? BigInt.asIntN(leaf.size * 8, leaf.value) : BigInt.asUintN(leaf.size * 8, leaf.value);
      out.set(leaf, { value, source: 'initialiser' });
      continue;
    }
    if (why !== 'override' || !layout || leaf.kind === 'bitfield' || leaf.kind === 'float') continue;
    const c = layout.field(leaf.field.path);
    if (!c) continue;
    const size = leaf.index === undefined ? c.size : c.elementSize;
    if (size === undefined || size < 1 || size > 8) continue;
    const at = c.offset + (leaf.index ?? 0) * size;
    if (at + size > cBytes.length) continue;
    let u = 0n;
    for (let i = 0; i < size; i++) u = (u << 8n) | BigInt(cBytes[at + (abi.endian === 'little' ? size - 1 - i : i)]);
    const value = leaf.kind === 'bool' ? Number(u) : c.signed && leaf.kind === 'int' ? BigInt.asIntN(size * 8, u) : u;
    out.set(leaf, { value, source: 'bytes' });
  }
  return out;
}

/** `0x..` for integers (with a sign), the number for floats. */
export function show(v: unknown): string {
  if (typeof v === 'bigint') return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  if (typeof v === 'number' && Number.isInteger(v)) return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
  if (v instanceof Uint8Array) return `Uint8Array[${v.length}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The decoded value at `access` (undefined where a step is missing). */
export function valueAt(decoded: unknown, access: readonly (string | number)[]): unknown {
  let v: unknown = decoded;
  for (const step of access) {
    if (v === null || v === undefined || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  return v;
}

/** Whether a decoded value equals the expected one (integers as bigints; 8-byte integers must be bigints). */
export function sameValue(leaf: Leaf, got: unknown, want: bigint | number): boolean {
  if (leaf.kind === 'float') return typeof got === 'number' && got === want;
  if (leaf.kind === 'bitfield' || leaf.kind === 'bool') {
    return (typeof got === 'number' || typeof got === 'bigint') && BigInt(got) === BigInt(want);
  }
  if (typeof got === 'bigint') return got === BigInt(want);
  if (typeof got === 'number') return leaf.size < 8 && Number.isSafeInteger(got) && BigInt(got) === BigInt(want);
  return false;
}

/**
 * Decodes C's bytes with the codec and compares every leaf with `expected`,
 * then encodes the decoded value (`encode`, and `encodeInto` over a dirty
 * buffer) and compares with C's bytes. Returns the number of checks and the
 * failures.
 */
export function checkRoundTrip(plan: RecordPlan, cBytes: Uint8Array, expected: ReadonlyMap<Leaf, { value: bigint | number; source: 'initialiser' | 'bytes' }>): { checks: number; failures: RoundTripFailure[] } {
  const failures: RoundTripFailure[] = [];
  const codec = plan.codec;
  let checks = 1;
  let decoded: unknown;
  try {
    decoded = codec.decode(cBytes);
  } catch (err) {
    failures.push({ kind: 'decode', subject: plan.cName, text: `${plan.cName}: decode of C's ${cBytes.length} bytes throws ${(err as Error).name}: ${(err as Error).message}` });
    return { checks, failures };
  }
  for (const [leaf, want] of expected) {
    checks++;
    const got = valueAt(decoded, leaf.access);
    if (!sameValue(leaf, got, want.value)) {
      const subject = `${plan.cName}.${leaf.key}`;
      const what = typeof got === 'number' && leaf.size >= 8 && leaf.kind !== 'float' ? ' (a number, not a bigint)' : '';
      const from = want.source === 'initialiser' ? 'C wrote' : "C's bytes hold";
      failures.push({ kind: 'decode', subject, bindings: show(got), clang: show(want.value), text: `${subject}: decode gives ${show(got)}${what}, ${from} ${show(want.value)}` });
    }
  }
  checks++;
  try {
    const bytes = codec.encode(decoded as Partial<unknown>);
    const diff = byteDiff(bytes, cBytes);
    if (diff) failures.push({ kind: 'encode', subject: plan.cName, bindings: hex(bytes), clang: hex(cBytes), text: `${plan.cName}: encode(decode(C bytes)) differs from C's bytes: ${diff}` });
  } catch (err) {
    failures.push({ kind: 'encode', subject: plan.cName, text: `${plan.cName}: encode(decode(C bytes)) throws ${(err as Error).name}: ${(err as Error).message}` });
  }
  checks++;
  try {
    const pad = 3;
    const buf = new Uint8Array(cBytes.length + 2 * pad).fill(0xa5);
    codec.encodeInto(new DataView(buf.buffer), pad, decoded as Partial<unknown>);
    const want = new Uint8Array(buf.length).fill(0xa5);
    want.set(cBytes, pad);
    const diff = byteDiff(buf, want, -pad);
    if (diff) failures.push({ kind: 'encode', subject: plan.cName, text: `${plan.cName}: encodeInto(decode(C bytes)) at offset ${pad} of a 0xa5-filled buffer differs from C's bytes: ${diff}` });
  } catch (err) {
    failures.push({ kind: 'encode', subject: plan.cName, text: `${plan.cName}: encodeInto(decode(C bytes)) throws ${(err as Error).name}: ${(err as Error).message}` });
  }
  return { checks, failures };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** A short description of where `got` and `want` differ, or undefined if they are equal. */
export function byteDiff(got: Uint8Array, want: Uint8Array, base = 0): string | undefined {
  const parts: string[] = [];
  if (got.length !== want.length) parts.push(`${got.length} bytes, C has ${want.length}`);
  const n = Math.min(got.length, want.length);
  const ranges: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (got[i] === want[i]) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else ranges.push([i, i]);
  }
  for (const [a, b] of ranges.slice(0, 4)) {
    parts.push(`bytes ${a + base}..${b + base}: ${hex(got.subarray(a, b + 1))} instead of ${hex(want.subarray(a, b + 1))}`);
  }
  if (ranges.length > 4) parts.push(`and ${ranges.length - 4} more range(s)`);
  return parts.length ? parts.join('; ') : undefined;
}
