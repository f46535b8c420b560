/**
 * The encoders' fast paths, on every kind of member: the inline integer checks
 * (one test per C integer type, including those vfio.h and iommufd.h do not
 * use), byte arrays (typed arrays copied byte by byte or in bulk, plain arrays
 * checked element by element), the bounds check of encodeInto (nothing written
 * when the record does not fit), and the record buffers encode() returns.
 *
 * The codecs come from a header written here, generated into the package's
 * .cache/ (so that they import the runtime by a relative path) and imported as
 * TypeScript. Their layout and byte-exact round trips against clang are the
 * verify test's (test/verify.test.ts, the same kinds of members); this file
 * checks behaviour that C cannot show: what is rejected, and what is left
 * untouched.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { abiByName } from '../generator/abi/abis.js';
import { generateBindings, writeFileSet } from '../generator/pipeline/generate.js';
import type { Codec, FieldLayout, FlexCodec } from '../runtime/codec/codec.js';
import { allocate, bufferView } from '../runtime/codec/encoding.js';

const ROOT = join(import.meta.dirname, '..');

const HEADER = `#ifndef _ENC_H
#define _ENC_H
#include <linux/types.h>
struct enc_ints {
	__u8 u8; __s8 s8; __u16 u16; __s16 s16;
	__u32 u32; __s32 s32; __u64 u64; __s64 s64;
	int i; unsigned int ui; long l; unsigned long ul; void *p;
};
struct enc_bytes {
	__u8 small[16];
	__s8 ssmall[4];
	__u8 big[100];
	__s8 sbig[70];
	__u32 tail;
};
struct enc_flex { __u32 argsz; __u16 n; __u8 data[]; };
struct enc_sflex { __u32 argsz; __s16 words[]; };
#endif
`;

type Mod = Record<string, unknown>;
const ABIS = ['x86_64', 'i386', 'ppc64'] as const;
let tmp = '';
const mods: Record<string, Mod> = {};

beforeAll(async () => {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  tmp = mkdtempSync(join(ROOT, '.cache', 'encoders-test-'));
  const header = join(tmp, 'enc.h');
  writeFileSync(header, HEADER);
  const files = generateBindings({ header, out: tmp, version: '0.1', abis: ABIS.map(abiByName) });
  writeFileSet(join(tmp, 'enc'), files);
  for (const abi of ABIS) mods[abi] = (await import(join(tmp, 'enc', 'abi', `${abi}.ts`))) as Mod;
}, 120_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const codec = (abi: string, name: string) => mods[abi]![name] as Codec<Record<string, unknown>>;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The range of C integer member `f` (its size and signedness, as the field table states them). */
function rangeOf(f: FieldLayout): [bigint, bigint] {
  const bits = BigInt(f.size * 8);
  return f.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

describe('integer members: the inline checks accept exactly the C type\'s range', () => {
  for (const abi of ABIS) {
    it(`every integer type of struct enc_ints on ${abi}`, () => {
      const c = codec(abi, 'enc_ints');
      const zero = c.decode(new Uint8Array(c.size));
      const little = abiByName(abi).endian === 'little';
      expect(c.fields.map((f) => f.path)).toEqual(['u8', 's8', 'u16', 's16', 'u32', 's32', 'u64', 's64', 'i', 'ui', 'l', 'ul', 'p']);
      for (const f of c.fields) {
        const big = typeof zero[f.path] === 'bigint';
        const as = (x: bigint) => (big ? x : Number(x));
        const enc = (v: unknown) => () => c.encode({ [f.path]: v });
        const [min, max] = rangeOf(f);
        const where = `${c.cName}.${f.path} (${f.type}) on ${abi}`;
        // The extremes are written as C would store them (two's complement, the ABI's byte order).
        for (const x of [min, max, 0n, max >> 1n]) {
          const bytes = c.encode({ [f.path]: as(x) });
          const want = new Uint8Array(f.size);
          const v = new DataView(want.buffer);
          const u = BigInt.asUintN(f.size * 8, x);
          for (let i = 0; i < f.size; i++) v.setUint8(little ? i : f.size - 1 - i, Number((u >> BigInt(8 * i)) & 0xffn));
          expect(hex(bytes.subarray(f.offset, f.offset + f.size)), `${where} = ${x}`).toBe(hex(want));
          expect(c.decode(bytes)[f.path], `${where} decodes back`).toBe(as(x));
        }
        expect(enc(as(max + 1n)), where).toThrow(RangeError);
        expect(enc(as(min - 1n)), where).toThrow(RangeError);
        expect(enc(as(max + 1n)), where).toThrow(new RegExp(`enc_ints\\.${f.path}`));
        if (!big) {
          expect(enc(0.5), where).toThrow(RangeError);
          expect(enc(NaN), where).toThrow(RangeError);
          expect(enc(-0), where).not.toThrow();
        }
        expect(enc('1'), where).toThrow(TypeError);
        expect(enc(null), where).toThrow(TypeError);
        expect(enc(true), where).toThrow(TypeError);
        expect(enc(big ? 1 : 1n), where).toThrow();
        // A member left out is zero.
        expect(hex(c.encode({}).subarray(f.offset, f.offset + f.size)), where).toBe(hex(new Uint8Array(f.size)));
      }
    });
  }
});

describe('byte arrays: typed arrays copied, plain arrays checked, the rest zero', () => {
  for (const abi of ABIS) {
    it(`struct enc_bytes on ${abi}: short and long, signed and unsigned, every way of giving them`, () => {
      const c = codec(abi, 'enc_bytes');
      const field = (p: string) => c.fields.find((f) => f.path === p)!;
      const pattern = (n: number, signed: boolean) => Array.from({ length: n }, (_, i) => (signed ? ((i * 37) % 256) - 128 : (i * 37 + 11) % 256));
      const members = { small: [16, false], ssmall: [4, true], big: [100, false], sbig: [70, true] } as const;
      const views: Record<string, unknown>[] = [{}, {}, {}];
      for (const [name, [n, signed]] of Object.entries(members)) {
        const xs = pattern(n, signed);
        views[0]![name] = signed ? Int8Array.from(xs) : Uint8Array.from(xs);
        views[1]![name] = xs;
        views[2]![name] = xs.slice(0, n - 3); // shorter: the rest is zero
      }
      const dirty = () => {
        const buf = new Uint8Array(c.size + 8).fill(0xee);
        return { buf, view: new DataView(buf.buffer, 0, buf.length) };
      };
      const results = views.map((value) => {
        const enc = c.encode(value);
        const { buf, view } = dirty();
        c.encodeInto(view, 4, value);
        expect(hex(buf.subarray(4, 4 + c.size))).toBe(hex(enc));
        expect(hex(buf.subarray(0, 4)) + ' ' + hex(buf.subarray(4 + c.size))).toBe(Array(8).fill('ee').join(' '));
        return enc;
      });
      expect(hex(results[0]!)).toBe(hex(results[1]!));
      for (const [name, [n, signed]] of Object.entries(members)) {
        const f = field(name);
        const xs = pattern(n, signed).map((x) => x & 0xff);
        expect(hex(results[0]!.subarray(f.offset, f.offset + n)), name).toBe(hex(Uint8Array.from(xs)));
        expect(hex(results[2]!.subarray(f.offset, f.offset + n)), `${name}, 3 short`).toBe(hex(Uint8Array.from([...xs.slice(0, n - 3), 0, 0, 0])));
        const decoded = c.decode(results[0]!)[name] as Uint8Array | Int8Array;
        expect(decoded).toBeInstanceOf(signed ? Int8Array : Uint8Array);
        expect([...decoded]).toEqual(pattern(n, signed));
      }
      // Element checks on plain arrays; typed arrays of the other signedness and too many elements are refused.
      expect(() => c.encode({ small: [1, 256] }), 'small[1] = 256').toThrow(/enc_bytes\.small\[\]/);
      expect(() => c.encode({ ssmall: [-129] })).toThrow(RangeError);
      expect(() => c.encode({ small: ['1'] })).toThrow(TypeError);
      expect(() => c.encode({ big: new Uint8Array(101) })).toThrow(RangeError);
      expect(() => c.encode({ ssmall: Uint8Array.of(200) })).toThrow(RangeError);
    });
  }
});

describe('flexible array members', () => {
  it('encode sizes the buffer to the elements, encodeInto needs room for them and writes nothing otherwise', () => {
    const c = codec('x86_64', 'enc_flex') as unknown as FlexCodec<Record<string, unknown>, Uint8Array>;
    const data = Uint8Array.from({ length: 90 }, (_, i) => 255 - i);
    for (const n of [0, 3, 64, 65, 90]) {
      const value = { argsz: c.argszFor(n), n, data: data.subarray(0, n) };
      const enc = c.encode(value);
      expect(enc.length).toBe(c.argszFor(n));
      expect(hex(c.decodeFlex(enc, 0, n))).toBe(hex(data.subarray(0, n)));
      expect(hex(c.encode({ ...value, data: [...data.subarray(0, n)] }))).toBe(hex(enc));
      const fits = new Uint8Array(c.argszFor(n)).fill(0xee);
      c.encodeInto(new DataView(fits.buffer), 0, value);
      expect(hex(fits)).toBe(hex(enc));
      const short = new Uint8Array(c.argszFor(n) - 1).fill(0xee);
      expect(() => c.encodeInto(new DataView(short.buffer), 0, value)).toThrow(/struct enc_flex: need \d+ bytes at offset 0/);
      expect(short.every((b) => b === 0xee)).toBe(true);
    }
    const s = codec('ppc64', 'enc_sflex') as unknown as FlexCodec<Record<string, unknown>, number[]>;
    const words = [-32768, -1, 0, 1, 32767];
    const enc = s.encode({ argsz: s.argszFor(words.length), words });
    expect(s.decodeFlex(enc, 0, words.length)).toEqual(words);
    expect(() => s.encode({ words: [32768] })).toThrow(/enc_sflex\.words\[\]/);
  });
});

describe('encodeInto checks the whole record fits before writing anything', () => {
  for (const abi of ABIS) {
    it(`every codec of the header on ${abi}`, () => {
      for (const name of ['enc_ints', 'enc_bytes', 'enc_flex', 'enc_sflex']) {
        const c = codec(abi, name);
        const value = c.decode(new Uint8Array(c.size).fill(1));
        const cases: [number, number][] = [[c.size - 1, 0], [c.size, 1], [c.size + 8, -1], [c.size + 8, 0.5], [c.size + 8, NaN], [c.size, 2 ** 32]];
        for (const [length, offset] of cases) {
          const buf = new Uint8Array(length).fill(0xee);
          const where = `${c.cName} (${length} bytes, offset ${offset}) on ${abi}`;
          expect(() => c.encodeInto(new DataView(buf.buffer), offset, value), where).toThrow(RangeError);
          expect(() => c.encodeInto(new DataView(buf.buffer), offset, value), where).toThrow(c.cName);
          expect(buf.every((b) => b === 0xee), `${where}: untouched`).toBe(true);
        }
        // A view that starts inside its buffer: its own bounds count, not the buffer's.
        const buf = new Uint8Array(c.size + 16).fill(0xee);
        expect(() => c.encodeInto(new DataView(buf.buffer, 8, c.size - 1), 0, value)).toThrow(RangeError);
        expect(buf.every((b) => b === 0xee)).toBe(true);
        c.encodeInto(new DataView(buf.buffer, 8, c.size), 0, value);
        expect(hex(buf.subarray(8, 8 + c.size))).toBe(hex(c.encode(value)));
      }
    });
  }
});

describe('record buffers', () => {
  it('allocate gives zeroed, 8-byte-aligned pieces that never overlap, small ones from shared slabs', () => {
    const pieces = Array.from({ length: 600 }, (_, i) => allocate(1 + (i % 40)));
    for (const p of pieces) {
      expect(p.byteOffset % 8).toBe(0);
      expect(p.every((b) => b === 0)).toBe(true);
    }
    pieces.forEach((p, i) => p.fill((i % 255) + 1));
    pieces.forEach((p, i) => expect(p.every((b) => b === (i % 255) + 1)).toBe(true));
    // 600 pieces of up to 40 bytes span more than one 8 KiB slab; all share few buffers.
    expect(new Set(pieces.map((p) => p.buffer)).size).toBeGreaterThan(1);
    expect(new Set(pieces.map((p) => p.buffer)).size).toBeLessThan(10);
    const large = allocate(4096);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(4096);
  });

  it('bufferView writes through to the piece, at its byteOffset', () => {
    allocate(3);
    const p = allocate(16);
    bufferView(p).setUint32(p.byteOffset + 4, 0x01020304, true);
    expect([...p.subarray(4, 8)]).toEqual([4, 3, 2, 1]);
    const large = allocate(2000);
    bufferView(large).setUint8(large.byteOffset + 1999, 7);
    expect(large[1999]).toBe(7);
  });

  it('encode results are independent of each other and survive later encodes', () => {
    const c = codec('x86_64', 'enc_ints');
    const a = c.encode({ u32: 1, s64: -2n });
    const b = c.encode({ u32: 3, s64: -4n });
    a.fill(0x55);
    expect(c.decode(b)).toMatchObject({ u32: 3, s64: -4n });
    const copies = Array.from({ length: 1000 }, (_, i) => c.encode({ u32: i }));
    copies.forEach((x, i) => expect(c.decode(x).u32).toBe(i));
    expect(c.decode(b)).toMatchObject({ u32: 3, s64: -4n });
  });
});
