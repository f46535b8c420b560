/**
 * The committed codecs against bytes produced by C (issue 3's acceptance
 * test). For every struct/union of vfio.h and iommufd.h, clang compiles the
 * real header with a global object that has a distinct value in every field
 * (for a union, its first member); the codec must decode the object's bytes to
 * exactly those values, field by field, and encode them back to C's bytes,
 * padding zero. On x86_64, on big-endian ppc64 and s390x, and on 32-bit i386
 * and arm; clang only compiles (nothing foreign runs), so every ABI works here.
 * Also: encoders reject out-of-range and wrongly typed values, decoders reject
 * short buffers.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abiByName } from '../generator/abi/abis.js';
import type { Codec, FlexCodec } from '../runtime/codec/codec.js';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { cRoundTrips, findHeader, isCodec, parseProvenance, siblingIncludeDir, valueAt, type CRoundTrip, type HeaderUnit } from '../conformance/verify/index.js';
import { HAVE_CORPUS, CORPUS } from './helpers.js';
import * as vfio_x86_64 from '../generated/vfio/abi/x86_64.js';
import * as vfio_i386 from '../generated/vfio/abi/i386.js';
import * as vfio_arm from '../generated/vfio/abi/arm.js';
import * as vfio_ppc64 from '../generated/vfio/abi/ppc64.js';
import * as vfio_s390x from '../generated/vfio/abi/s390x.js';
import * as iommufd_x86_64 from '../generated/iommufd/abi/x86_64.js';
import * as iommufd_i386 from '../generated/iommufd/abi/i386.js';
import * as iommufd_arm from '../generated/iommufd/abi/arm.js';
import * as iommufd_ppc64 from '../generated/iommufd/abi/ppc64.js';
import * as iommufd_s390x from '../generated/iommufd/abi/s390x.js';

const MODULES: Record<string, Record<string, Record<string, unknown>>> = {
  vfio: { x86_64: vfio_x86_64, i386: vfio_i386, arm: vfio_arm, ppc64: vfio_ppc64, s390x: vfio_s390x },
  iommufd: { x86_64: iommufd_x86_64, i386: iommufd_i386, arm: iommufd_arm, ppc64: iommufd_ppc64, s390x: iommufd_s390x },
};
const ROOT = join(import.meta.dirname, '..');

const haveClang = installedClangs().length > 0;
if (!HAVE_CORPUS) console.warn(`codecs-c test skipped: no header corpus at ${CORPUS}`);
if (!haveClang) console.warn('codecs-c test skipped: no clang (apt-get install clang-14 clang-19)');

/** The codecs a module exports, one per C record. */
function codecsOf(mod: Record<string, unknown>): Codec<unknown>[] {
  const byName = new Map<string, Codec<unknown>>();
  for (const v of Object.values(mod)) if (isCodec(v) && !byName.has(v.cName)) byName.set(v.cName, v);
  return [...byName.values()];
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** Builds a value with `leaf` set to `v` (nested objects and arrays along its access path). */
function valueWith(access: readonly (string | number)[], v: unknown, arrayLength: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cur: Record<string | number, unknown> = root;
  access.forEach((step, i) => {
    if (i === access.length - 1) {
      cur[step] = v;
    } else if (typeof access[i + 1] === 'number') {
      cur[step] = new Array(arrayLength).fill(undefined);
      cur = cur[step] as Record<number, unknown>;
    } else {
      cur[step] = {};
      cur = cur[step] as Record<string, unknown>;
    }
  });
  return root;
}

describe.skipIf(!HAVE_CORPUS || !haveClang)('codecs against bytes produced by C from the real headers', () => {
  const units = new Map<string, HeaderUnit>();
  const cSide = new Map<string, CRoundTrip[]>();
  const dirs: string[] = [];

  beforeAll(async () => {
    const includeRoot = await ensureUapiTree();
    for (const name of Object.keys(MODULES)) {
      const prov = parseProvenance(readFileSync(join(ROOT, 'generated', name, 'index.ts'), 'utf8').split('\n', 1)[0]);
      if (!prov) throw new Error(`generated/${name}/index.ts has no provenance line`);
      const header = findHeader(prov, join(ROOT, 'generated', name));
      const siblingDir = await siblingIncludeDir(header);
      dirs.push(siblingDir);
      units.set(name, { header, includeRoot, siblingDir });
    }
  });
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const name of Object.keys(MODULES)) {
    for (const abiName of Object.keys(MODULES[name])) {
      const mod = MODULES[name][abiName];
      const abi = abiByName(abiName);

      it(`${name}.h on ${abiName} (${abi.endian}-endian, ${abi.scalars.pointer.size * 8}-bit): decode C's bytes field by field, encode back to C's bytes`, async () => {
        const codecs = codecsOf(mod);
        expect(codecs.length).toBeGreaterThan(30);
        const { roundTrips, mismatches } = await cRoundTrips(units.get(name)!, abi, codecs);
        expect(mismatches.map((m) => m.message)).toEqual([]);
        expect(roundTrips.map((r) => r.plan.cName).sort()).toEqual(codecs.map((c) => c.cName).sort());
        cSide.set(`${name}/${abiName}`, roundTrips);

        let leaves = 0;
        let unionMembers = 0;
        for (const { plan, bytes, expected } of roundTrips) {
          const codec = plan.codec;
          expect(bytes.length, `sizeof(${plan.cName})`).toBe(codec.size);
          expect(plan.skipped, `${plan.cName}: fields the test cannot set`).toEqual([]);
          // Every leaf has a value C holds: the initialiser's, or (later union members) C's bytes at clang's offset.
          expect(expected.size, plan.cName).toBe(plan.leaves.length);
          const written = [...expected.values()].filter((e) => e.source === 'initialiser').map((e) => String(e.value));
          expect(new Set(written).size, `${plan.cName}: distinct values`).toBe(written.length);

          const decoded = codec.decode(bytes);
          for (const [leaf, want] of expected) {
            const got = valueAt(decoded, leaf.access);
            const where = `${plan.cName}.${leaf.key} on ${abiName}`;
            if (leaf.size === 8) expect(typeof got, `${where}: 64-bit values are bigints`).toBe('bigint');
            expect(typeof got === 'number' || typeof got === 'bigint', where).toBe(true);
            expect(BigInt(got as number | bigint), where).toBe(BigInt(want.value));
            leaves++;
            if (want.source === 'bytes') unionMembers++;
          }

          const encoded = codec.encode(decoded as Partial<unknown>);
          expect(hex(encoded), `encode(decode(C bytes)) of ${plan.cName} on ${abiName}`).toBe(hex(bytes));
          // Padding: the bytes no field covers are zero in C's object, and so in the encoding.
          const covered = new Uint8Array(codec.size);
          for (const f of codec.fields) for (let i = f.offset; i < Math.min(codec.size, f.offset + f.size); i++) covered[i] = 1;
          covered.forEach((c, i) => {
            if (!c) expect(encoded[i], `${plan.cName} padding byte ${i}`).toBe(0);
          });
          // encodeInto zeroes the record's bytes (padding included) and touches nothing else.
          const buf = new Uint8Array(codec.size + 6).fill(0xee);
          codec.encodeInto(new DataView(buf.buffer), 3, decoded as Partial<unknown>);
          expect(hex(buf.subarray(3, 3 + codec.size))).toBe(hex(bytes));
          expect(hex(buf.subarray(0, 3)) + hex(buf.subarray(3 + codec.size))).toBe('ee ee ee' + 'ee ee ee');
        }
        console.log(`codecs-c ${name}.h ${abiName}: ${roundTrips.length} records, ${leaves} field values compared (${unionMembers} later union members), byte-exact re-encoding`);
        expect(leaves).toBeGreaterThan(150);
      }, 120_000);
    }
  }

  it('the byte order and word size show in C\'s bytes: vfio_iommu_type1_dma_map.iova on x86_64 and ppc64', () => {
    const find = (key: string) => cSide.get(key)?.find((r) => r.plan.cName === 'struct vfio_iommu_type1_dma_map');
    const le = find('vfio/x86_64');
    const be = find('vfio/ppc64');
    if (!le || !be) return; // the round-trip tests above failed already
    const leaf = le.plan.leaves.find((l) => l.key === 'iova')!;
    const v = leaf.value as bigint;
    const bytesOf = (little: boolean) => {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, v, little);
      return hex(out);
    };
    const off = le.plan.codec.fields.find((f) => f.path === 'iova')!.offset;
    expect(hex(le.bytes.subarray(off, off + 8))).toBe(bytesOf(true));
    expect(hex(be.bytes.subarray(off, off + 8))).toBe(bytesOf(false));
  });

  for (const abiName of ['x86_64', 'i386', 'ppc64']) {
    it(`encoders on ${abiName} reject out-of-range and wrongly typed values in every field`, () => {
      let n = 0;
      for (const name of Object.keys(MODULES)) {
        const trips = cSide.get(`${name}/${abiName}`);
        if (!trips) continue;
        for (const { plan, bytes } of trips) {
          const decoded = plan.codec.decode(bytes);
          for (const leaf of plan.leaves) {
            if (leaf.kind !== 'int' && leaf.kind !== 'pointer') continue;
            const len = leaf.field.count ?? 0;
            const enc = (v: unknown) => () => plan.codec.encode(valueWith(leaf.access, v, len) as Partial<unknown>);
            const bits = BigInt(leaf.size * 8);
            const [min, max] = leaf.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
            const asBig = typeof valueAt(decoded, leaf.access) === 'bigint';
            const as = (x: bigint) => (asBig ? x : Number(x));
            const where = `${plan.cName}.${leaf.key} on ${abiName}`;
            expect(enc(as(min)), where).not.toThrow();
            expect(enc(as(max)), where).not.toThrow();
            expect(enc(as(max + 1n)), where).toThrow(RangeError);
            expect(enc(as(min - 1n)), where).toThrow(RangeError);
            if (!asBig) expect(enc(0.5), where).toThrow(RangeError);
            expect(enc('1'), where).toThrow(TypeError);
            expect(enc(null), where).toThrow(TypeError);
            expect(enc({}), where).toThrow(TypeError);
            // A number for a bigint field (and vice versa) is rejected too (as a RangeError, see runtime/encoding.ts).
            expect(enc(asBig ? 1 : 1n), where).toThrow();
            n++;
          }
        }
      }
      expect(n).toBeGreaterThan(300);
    });
  }

  for (const [name, abiName] of [['vfio', 'x86_64'], ['vfio', 'i386'], ['vfio', 's390x'], ['iommufd', 'arm'], ['iommufd', 'ppc64']] as const) {
    it(`decoders of ${name}.h on ${abiName} reject short buffers with RangeError`, () => {
      const codecs = codecsOf(MODULES[name][abiName]);
      for (const c of codecs) {
        expect(() => c.decode(new Uint8Array(c.size - 1)), c.cName).toThrow(RangeError);
        expect(() => c.decode(new Uint8Array(c.size), 1), c.cName).toThrow(RangeError);
        expect(() => c.decode(new Uint8Array(c.size), -1), c.cName).toThrow(RangeError);
        expect(() => c.decode(new Uint8Array(c.size + 1), 1), c.cName).not.toThrow();
        expect(() => c.encodeInto(new DataView(new ArrayBuffer(c.size - 1)), 0, {}), c.cName).toThrow(RangeError);
        const flex = c as Partial<FlexCodec<unknown, unknown>>;
        if (flex.flex && flex.decodeFlex) {
          const { offset, elementSize } = flex.flex;
          const buf = new Uint8Array(Math.max(c.size, offset + elementSize));
          const fits = Math.floor((buf.length - offset) / elementSize);
          expect(() => flex.decodeFlex!(buf, 0, fits + 1), c.cName).toThrow(RangeError);
          expect(flex.decodeFlex!(buf, 0, fits) as unknown[], c.cName).toHaveLength(fits);
        }
      }
    });
  }
});
