/**
 * What the bindings of one ABI claim, as C probes, and the comparison of the
 * claims with clang's values: record sizes and alignments, field offsets,
 * sizes, element counts and signedness, flexible array members, bit-fields,
 * constant values and ioctl numbers; and the byte round trip of every codec.
 */
import type { Abi } from '../../generator/abi/abis.js';
import type { Codec } from 'vfio-uapi/codegen-v1';
import path from 'node:path';
import { compileUnit, OVERRIDE, type CObject, type HeaderUnit, type Probe, type UnitResult } from './ctu.js';
import { checkRoundTrip, expectedValues, isCodec, planRecord, type CLayoutLookup, type FieldInfo, type Leaf, type RecordPlan } from './roundtrip.js';

/** What a mismatch is about. */
export type MismatchKind =
  | 'constant' | 'ioctl'
  | 'size' | 'align'
  | 'offset' | 'field-size' | 'count' | 'signedness' | 'flex' | 'bitfield'
  | 'missing'
  | 'decode' | 'encode';

/** One claim of the bindings that clang contradicts. */
export interface Mismatch {
  /** The header the bindings were generated from (`vfio.h`). */
  readonly header: string;
  readonly abi: string;
  readonly kind: MismatchKind;
  /** `VFIO_TYPE1_IOMMU`, `struct vfio_region_info`, `struct vfio_region_info.size`. */
  readonly subject: string;
  /** What the bindings say, and what clang says (absent where there is nothing to say). */
  readonly bindings?: string | number;
  readonly clang?: string | number;
  /** In words: `struct vfio_iommu_type1_dma_unmap.size: bindings say offset 16, clang says 12 (i386)`. */
  readonly message: string;
}

/** The claims of one ABI module of the bindings. */
export interface Claims {
  /** Integer constants (ioctl numbers included), by name. */
  readonly constants: ReadonlyMap<string, number | bigint>;
  /** Names of the constants that are ioctl request numbers. */
  readonly ioctls: ReadonlySet<string>;
  /** Struct/union codecs by C name (one per record: aliases exported under several names are merged). */
  readonly codecs: ReadonlyMap<string, Codec<unknown>>;
  /** Exports that are neither (ignored), for the record. */
  readonly other: readonly string[];
}

/** Sorts the exports of an ABI module into constants and codecs. */
export function readClaims(mod: Record<string, unknown>, ioctlNames: ReadonlySet<string>): Claims {
  const constants = new Map<string, number | bigint>();
  const codecs = new Map<string, Codec<unknown>>();
  const other: string[] = [];
  for (const [name, v] of Object.entries(mod)) {
    if (typeof v === 'number' || typeof v === 'bigint') constants.set(name, v);
    else if (isCodec(v)) {
      if (!codecs.has(v.cName)) codecs.set(v.cName, v);
    } else other.push(name);
  }
  return { constants, ioctls: new Set([...ioctlNames].filter((n) => constants.has(n))), codecs, other };
}

/** Probes and objects for one ABI module, and how to judge clang's answers. */
export interface AbiChecks {
  readonly probes: readonly Probe[];
  readonly objects: readonly CObject[];
  readonly plans: readonly RecordPlan[];
  /** Compares clang's values with the claims: the number of checks made, the mismatches, and C's side of each round trip. */
  evaluate(result: UnitResult): { checks: number; mismatches: Mismatch[]; roundTrips: CRoundTrip[] };
}

/** C's side of one codec's round trip: the object's bytes and the value C holds in each leaf. */
export interface CRoundTrip {
  readonly plan: RecordPlan;
  /** The C object's bytes (sizeof the record). */
  readonly bytes: Uint8Array;
  /** Leaf -> the value the initialiser wrote, or (a later union member) what C's bytes hold at clang's offset. */
  readonly expected: ReadonlyMap<Leaf, { value: bigint | number; source: 'initialiser' | 'bytes' }>;
}

const isPointer = (type: string) => /\*\s*$/.test(type.replace(/\[[^\]]*\]$/, '').trim());

/** Builds the C probes and objects of one ABI's claims. */
export function abiChecks(header: string, abi: Abi, claims: Claims): AbiChecks {
  const probes: Probe[] = [];
  const objects: CObject[] = [];
  const plans: RecordPlan[] = [];
  const lone = (e: string) => `(${e})`;

  for (const name of claims.constants.keys()) {
    probes.push({ key: `const:${name}`, exprs: [lone(name), `(${name}) < 0`] });
  }
  let r = 0;
  for (const [cName, codec] of claims.codecs) {
    const T = cName;
    const m = (p: string) => `((${T} *)0)->${p}`;
    probes.push({ key: `rec:${cName}`, exprs: [`sizeof(${T})`, `_Alignof(${T})`] });
    for (const f of codec.fields as readonly FieldInfo[]) {
      if (f.bitWidth !== undefined) continue; // measured through an object below
      const exprs = [`__builtin_offsetof(${T}, ${f.path})`];
      if (f.count === 0) exprs.push(`sizeof(${m(f.path)}[0])`);
      else exprs.push(`sizeof(${m(f.path)})`);
      if (f.count !== undefined && f.count > 0) exprs.push(`sizeof(${m(f.path)}[0])`);
      if (f.signed !== undefined && !isPointer(f.type) && !/^(?:float|double)/.test(f.type)) {
        const e = f.count !== undefined ? `${m(f.path)}[0]` : m(f.path);
        exprs.push(`((__typeof__(${e}))-1) < 0`);
      }
      probes.push({ key: `field:${cName}.${f.path}`, exprs });
    }
    if (codec.flex) probes.push({ key: `flex:${cName}`, exprs: [`__builtin_offsetof(${T}, ${codec.flex.path})`, `sizeof(${m(codec.flex.path)}[0])`] });
    (codec.fields as readonly FieldInfo[]).forEach((f, j) => {
      if (f.bitWidth === undefined) return;
      objects.push({ symbol: `__vu_bits${r}_${j}`, type: T, designators: [{ key: f.path, text: `.${f.path} = -1` }] });
    });
    const plan = planRecord(codec, `__vu_obj${r}`);
    plans.push(plan);
    objects.push(plan.object);
    r++;
  }

  const evaluate = (res: UnitResult) => {
    const out: Mismatch[] = [];
    let checks = 0;
    const add = (kind: MismatchKind, subject: string, bindings: string | number | undefined, clang: string | number | undefined, text: string) =>
      out.push({ header, abi: abi.name, kind, subject, bindings, clang, message: `${text} (${abi.name})` });
    const say = (subject: string, what: string, b: unknown, c: unknown) => `${subject}: bindings say ${what}${what ? ' ' : ''}${b}, clang says ${c}`;
    const unknown = (subject: string, claim: string, why: string | undefined) => {
      checks++;
      add('missing', subject, claim, undefined, `${subject}: bindings say ${claim}, clang does not know it: ${why ?? 'not found'}`);
    };
    const vals = (key: string) => res.values.get(key)?.map((v) => v);

    // Constants and ioctl numbers.
    for (const [name, claim] of claims.constants) {
      const key = `const:${name}`;
      const isIoctl = claims.ioctls.has(name);
      const v = vals(key);
      if (!v) {
        unknown(isIoctl ? `ioctl ${name}` : name, String(showNumber(claim, isIoctl)), res.failed.get(key));
        continue;
      }
      checks++;
      const c = v[1] !== 0n ? v[0] - (1n << 64n) : v[0];
      const b = typeof claim === 'bigint' ? claim : Number.isSafeInteger(claim) ? BigInt(claim) : undefined;
      if (b !== c) {
        const subject = isIoctl ? `ioctl ${name}` : name;
        add(isIoctl ? 'ioctl' : 'constant', subject, showNumber(claim, isIoctl), showNumber(c, isIoctl), say(subject, '', showNumber(claim, isIoctl), showNumber(c, isIoctl)));
      }
    }

    // Records.
    const layoutOf = new Map<string, CLayoutLookup>();
    for (const [cName, codec] of claims.codecs) {
      const rec = vals(`rec:${cName}`);
      if (!rec) {
        unknown(cName, `size ${codec.size}`, res.failed.get(`rec:${cName}`));
        continue;
      }
      checks += 2;
      if (Number(rec[0]) !== codec.size) add('size', cName, codec.size, Number(rec[0]), say(cName, 'size', codec.size, Number(rec[0])));
      if (Number(rec[1]) !== codec.align) add('align', cName, codec.align, Number(rec[1]), say(cName, 'alignment', codec.align, Number(rec[1])));
      const clangFields = new Map<string, { offset: number; size: number; elementSize?: number; signed?: boolean }>();
      for (const f of codec.fields as readonly FieldInfo[]) {
        if (f.bitWidth !== undefined) continue;
        const subject = `${cName}.${f.path}`;
        const v = vals(`field:${cName}.${f.path}`);
        if (!v) {
          unknown(subject, `offset ${f.offset}`, res.failed.get(`field:${cName}.${f.path}`));
          continue;
        }
        let i = 0;
        const offset = Number(v[i++]);
        const size = Number(v[i++]);
        checks++;
        if (offset !== f.offset) add('offset', subject, f.offset, offset, say(subject, 'offset', f.offset, offset));
        const entry: { offset: number; size: number; elementSize?: number; signed?: boolean } = { offset, size };
        if (f.count === 0) {
          entry.elementSize = size;
          entry.size = 0;
        } else {
          checks++;
          if (size !== f.size) add('field-size', subject, f.size, size, say(subject, 'size', f.size, size));
        }
        if (f.count !== undefined && f.count > 0) {
          const el = Number(v[i++]);
          entry.elementSize = el;
          checks++;
          const count = el > 0 ? size / el : 0;
          if (count !== f.count) add('count', subject, f.count, count, say(subject, 'element count', f.count, count));
        }
        if (i < v.length) {
          const signed = v[i++] !== 0n;
          entry.signed = signed;
          checks++;
          if (signed !== f.signed) {
            const w = (s: boolean | undefined) => (s ? 'signed' : 'unsigned');
            add('signedness', subject, w(f.signed), w(signed), `${subject}: bindings say ${w(f.signed)}, clang says ${w(signed)}`);
          }
        }
        clangFields.set(f.path, entry);
      }
      if (codec.flex) {
        const subject = `${cName}.${codec.flex.path}`;
        const v = vals(`flex:${cName}`);
        if (!v) unknown(subject, `a flexible array at ${codec.flex.offset}`, res.failed.get(`flex:${cName}`));
        else {
          checks += 2;
          if (Number(v[0]) !== codec.flex.offset) add('flex', subject, codec.flex.offset, Number(v[0]), say(subject, 'flexible array offset', codec.flex.offset, Number(v[0])));
          if (Number(v[1]) !== codec.flex.elementSize) add('flex', subject, codec.flex.elementSize, Number(v[1]), say(subject, 'element size', codec.flex.elementSize, Number(v[1])));
        }
      }
      layoutOf.set(cName, { field: (p) => clangFields.get(p) });
    }

    // Bit-fields: the bits an all-ones member sets.
    let r2 = 0;
    for (const [cName, codec] of claims.codecs) {
      (codec.fields as readonly FieldInfo[]).forEach((f, j) => {
        if (f.bitWidth === undefined) return;
        const subject = `${cName}.${f.path}`;
        const sym = `__vu_bits${r2}_${j}`;
        const bytes = res.objects.get(sym);
        const why = res.failedObjects.get(sym) ?? res.dropped.get(sym)?.get(f.path);
        if (!bytes || why !== undefined) {
          if (res.values.has(`rec:${cName}`)) unknown(subject, `bit ${f.bitOffset}, width ${f.bitWidth}`, why);
          return;
        }
        checks++;
        const bits: number[] = [];
        bytes.forEach((b, i) => {
          for (let k = 0; k < 8; k++) if (b & (1 << k)) bits.push(i * 8 + (abi.endian === 'little' ? k : 7 - k));
        });
        bits.sort((a, b) => a - b);
        const from = bits[0] ?? -1;
        const width = bits.length;
        const contiguous = width > 0 && bits[width - 1] - from + 1 === width;
        if (!contiguous || from !== f.bitOffset || width !== f.bitWidth) {
          const c = contiguous ? `bit ${from}, width ${width}` : `bits ${bits.join(',')}`;
          add('bitfield', subject, `bit ${f.bitOffset}, width ${f.bitWidth}`, c, say(subject, '', `bit ${f.bitOffset}, width ${f.bitWidth}`, c));
        }
      });
      r2++;
    }

    // Round trips.
    const roundTrips: CRoundTrip[] = [];
    for (const plan of plans) {
      if (!res.values.has(`rec:${plan.cName}`)) continue; // reported as missing
      const bytes = res.objects.get(plan.object.symbol);
      if (!bytes) {
        checks++;
        add('missing', plan.cName, 'a C object can be initialised', undefined, `${plan.cName}: clang rejects the round-trip object: ${res.failedObjects.get(plan.object.symbol) ?? 'not found'}`);
        continue;
      }
      const dropped = res.dropped.get(plan.object.symbol);
      const expected = expectedValues(plan, bytes, abi, dropped, layoutOf.get(plan.cName));
      roundTrips.push({ plan, bytes, expected });
      const rt = checkRoundTrip(plan, bytes, expected);
      checks += rt.checks;
      for (const f of rt.failures) add(f.kind, f.subject, f.bindings, f.clang, f.text);
    }
    return { checks, mismatches: out, roundTrips };
  };

  return { probes, objects, plans, evaluate };
}

/**
 * Compiles the C side of the round trips of `codecs` for `abi` (objects, and
 * the layout probes that say where union members lie) and returns it, with
 * any layout mismatches found on the way.
 */
export async function cRoundTrips(unit: HeaderUnit, abi: Abi, codecs: readonly Codec<unknown>[]): Promise<{ roundTrips: CRoundTrip[]; mismatches: Mismatch[] }> {
  const claims: Claims = { constants: new Map(), ioctls: new Set(), codecs: new Map(codecs.map((c) => [c.cName, c])), other: [] };
  const checks = abiChecks(path.basename(unit.header), abi, claims);
  const res = await compileUnit(unit, abi, checks.probes, checks.objects);
  const { roundTrips, mismatches } = checks.evaluate(res);
  return { roundTrips, mismatches: mismatches.filter((m) => m.kind !== 'decode' && m.kind !== 'encode') };
}

/** Designators dropped as later union members, keyed by object symbol: what a discovery compile found. */
export function overridesOf(res: UnitResult): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [sym, m] of res.dropped) {
    const o = new Map([...m].filter(([, why]) => why === OVERRIDE));
    if (o.size) out.set(sym, o);
  }
  return out;
}

function showNumber(v: number | bigint, hex: boolean): string | number {
  if (!hex) return typeof v === 'bigint' ? v.toString() : v;
  const b = BigInt(v);
  return `${b < 0n ? '-' : ''}0x${(b < 0n ? -b : b).toString(16)}`;
}
