/**
 * Tests of the clang oracle itself, on small synthetic headers. The expected
 * numbers are C ABI facts (psABI alignment rules, the `_IOC` encodings), not
 * output of the oracle.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABIS, abiByName, type Abi } from '../generator/abi/abis.js';
import { compareLayouts, formatDisagreements } from '../conformance/clang/compare.js';
import { compileObject, ElfFile } from '../conformance/clang/elf.js';
import { clangLayout, clangLayoutAll, type LayoutJson } from '../conformance/clang/oracle.js';
import { clangArgs, findClang, installedClangs, MissingPrerequisite } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { layoutJson } from '../generator/layout/json.js';

const haveClang = installedClangs().some((c) => c.major >= 14);
const haveClang19 = installedClangs().some((c) => c.major >= 19);
if (!haveClang) console.warn('clang-oracle tests skipped: no clang-14 or newer on PATH (apt-get install clang-14)');

const x86_64 = abiByName('x86_64');
const i386 = abiByName('i386');
const ppc64 = abiByName('ppc64');
const ppc = abiByName('ppc');
const s390x = abiByName('s390x');
const mips = abiByName('mips');

/** The synthetic corpus: one directory, so `<linux/X.h>` resolves to siblings first. */
const FILES: Record<string, string> = {
  'layout.h': `
#ifndef LAYOUT_H
#define LAYOUT_H
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/stddef.h>
#include <linux/side.h>

#define T_SEMI ';'
#define T_IO _IO(T_SEMI, 100)
#define T_IOW _IOW(T_SEMI, 101, struct plain64)
#define T_SHIFT31 (1 << 31)
#define T_U32MAX 0xffffffff
#define T_ALLONES (~0ULL)
#define T_ULONGMAX (~0UL)
#define T_MINUS_ONE (-1)
#define T_BYTES 0x0102030405060708ULL
#define T_WORD 0x01020304
#define T_SIZEOF sizeof(struct plain64)
#define T_STRING "not a number"
#define T_FLOAT 1.5
#define T_TYPE __u32
#define T_FUNC(x) ((x) + 1)
#define T_EMPTY

enum t_enum { T_E0, T_E5 = 5, T_E6 };

struct plain64 {
	__u32 a;
	__u64 b;
};

struct aligned64 {
	__u32 a;
	__aligned_u64 b;
};

struct with_anon {
	__u32 a;
	union {
		__u32 b;
		__u16 c;
	};
	struct {
		__u8 d;
		__u8 e;
	};
};

struct with_nested {
	__u8 x;
	struct inner {
		__u16 p;
		__u32 q;
	} in;
	struct inner arr[2];
	struct side_rec side;
	__u32 flags : 3;
	__u32 more : 5;
	__u8 tail[];
};

union u_top {
	__u8 bytes[3];
	__u32 word;
};

struct grouped {
	__u32 head;
	__struct_group(grouped_tag, grp, , __u32 g1; __u16 g2;);
};

#endif
`,
  // A sibling that shadows the tree's <linux/side.h> (there is none in the tree; the
  // point is that it is found at all, and that its own names are not the user's).
  'side.h': `
#ifndef SIDE_H
#define SIDE_H
#include <linux/types.h>
#define SIDE_CONST 7
struct side_rec {
	__u16 s0;
	__u64 s1;
};
#endif
`,
  // Shadows the tree's <linux/vfio.h>: a user of <linux/vfio.h> must see this one.
  'vfio.h': `
#ifndef FAKE_VFIO_H
#define FAKE_VFIO_H
#include <linux/types.h>
struct fake_vfio_only { __u8 only_here; __u32 w; };
#endif
`,
  // Bit-fields as UAPI headers write them: unnamed padding, zero widths, enums, packing, across storage units.
  'bits.h': `
#include <linux/types.h>
enum bits_e { BE_A, BE_B = 3 };
struct bits_plain { __u32 a:3, b:7; __u8 c; __u32 d:30; __u32 e:4; };
struct bits_unnamed { __u32 a; __u32 :32; __u32 b:3, :5, c:4; __u64 :0; __u8 d:1; };
struct bits_mixed { __u8 a:1; __u16 b:9; __u64 c:40; enum bits_e e:2; __s8 s:3; };
struct bits_packed { __u8 a; __u32 b:24; __u32 c:16; } __attribute__((packed));
union bits_union { __u32 a:5; __u16 b:12; };
struct bits_nested { __u8 h; struct { __u16 x:4, y:4; }; struct bits_plain p; };
`,
  'user.h': `
#include <linux/vfio.h>
struct vfio_user { struct fake_vfio_only f; };
`,
};

describe.skipIf(!haveClang)('clang oracle (needs clang-14 or newer)', () => {
  let dir: string;
  let includeRoot: string;
  const hdr = (name: string) => path.join(dir, name);
  const cache = new Map<string, Promise<LayoutJson>>();
  const layout = (name: string, abi: Abi) => {
    const key = `${name}/${abi.name}`;
    if (!cache.has(key)) cache.set(key, clangLayout(hdr(name), abi, { includeRoot }));
    return cache.get(key)!;
  };

  beforeAll(async () => {
    includeRoot = await ensureUapiTree();
    dir = await mkdtemp(path.join(tmpdir(), 'vfio-uapi-oracle-test-'));
    for (const [name, text] of Object.entries(FILES)) await writeFile(path.join(dir, name), text);
  }, 180_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compiles linux/types.h and linux/ioctl.h for every ABI it has a clang for', async () => {
    for (const abi of ABIS) {
      if (abi.minClang > 14 && !haveClang19) continue;
      const src = '#include <linux/types.h>\n#include <linux/ioctl.h>\nconst unsigned long long v = _IOR(1, 2, __u64);\n';
      const { symbols } = await compileObject(src, abi, { includeRoot });
      expect(symbols.get('v')?.length, abi.name).toBe(8);
    }
  }, 60_000);

  it('clangArgs has the target, -nostdinc, the multiarch tree and extra -I dirs', () => {
    expect(clangArgs(mips, '/r', ['/x'])).toEqual([
      '--target=mips-linux-gnu', '-nostdinc', '-isystem', path.join('/r', 'mips-linux-gnu'), '-isystem', '/r', '-I', '/x',
    ]);
  });

  it('lays __u64 out 4-aligned on i386 but __aligned_u64 8-aligned', async () => {
    const l = await layout('layout.h', i386);
    expect(l.records['struct plain64']).toEqual({ size: 12, align: 4, fields: { a: 0, b: 4 } });
    expect(l.records['struct aligned64']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    const x = await layout('layout.h', x86_64);
    expect(x.records['struct plain64']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    expect(l.constants.T_SIZEOF).toBe(12);
    expect(x.constants.T_SIZEOF).toBe(16);
  });

  it('evaluates _IOC encodings per ABI', async () => {
    expect((await layout('layout.h', x86_64)).constants.T_IO).toBe(0x3b64);
    expect((await layout('layout.h', ppc64)).constants.T_IO).toBe(0x20003b64);
    // _IOW: direction write (1 generic, 4 on powerpc) and the size of struct plain64.
    expect((await layout('layout.h', x86_64)).constants.T_IOW).toBe((1 << 30) + (16 << 16) + 0x3b65);
    expect((await layout('layout.h', i386)).constants.T_IOW).toBe((1 << 30) + (12 << 16) + 0x3b65);
    expect((await layout('layout.h', ppc64)).constants.T_IOW).toBe(4 * 2 ** 29 + (16 << 16) + 0x3b65);
  });

  it('keeps C values and types: signed, unsigned, 64-bit, char literals, enum constants', async () => {
    const x = (await layout('layout.h', x86_64)).constants;
    expect(x.T_SEMI).toBe(59);
    expect(x.T_SHIFT31).toBe(-2147483648);
    expect(x.T_U32MAX).toBe(4294967295);
    expect(x.T_ALLONES).toBe('18446744073709551615');
    expect(x.T_ULONGMAX).toBe('18446744073709551615');
    expect(x.T_MINUS_ONE).toBe(-1);
    expect(x.T_BYTES).toBe((0x0102030405060708n).toString());
    expect([x.T_E0, x.T_E5, x.T_E6]).toEqual([0, 5, 6]);
    expect((await layout('layout.h', i386)).constants.T_ULONGMAX).toBe(4294967295);
  });

  it('reads values right on big-endian ABIs', async () => {
    for (const abi of [ppc, ppc64, s390x, mips]) {
      const l = await layout('layout.h', abi);
      expect(l.constants.T_WORD, abi.name).toBe(0x01020304);
      expect(l.constants.T_BYTES, abi.name).toBe((0x0102030405060708n).toString());
      expect(l.constants.T_SHIFT31, abi.name).toBe(-2147483648);
      expect(l.records['struct aligned64'], abi.name).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    }
  });

  it('lists only integer constant expressions the header itself defines', async () => {
    const names = Object.keys((await layout('layout.h', x86_64)).constants);
    for (const absent of ['T_STRING', 'T_FLOAT', 'T_TYPE', 'T_FUNC', 'T_EMPTY', 'LAYOUT_H', 'SIDE_CONST', '_IOC_NRBITS', '__BITS_PER_LONG']) {
      expect(names, absent).not.toContain(absent);
    }
    expect(names).toContain('T_IO');
    expect(Object.keys((await layout('side.h', x86_64)).constants)).toEqual(['SIDE_CONST']);
  });

  it('flattens anonymous members', async () => {
    const r = (await layout('layout.h', x86_64)).records['struct with_anon'];
    expect(r).toEqual({ size: 12, align: 4, fields: { a: 0, b: 4, c: 4, d: 8, e: 9 } });
  });

  it('gives every level of named nested members, arrays once, bitfields apart', async () => {
    const l = await layout('layout.h', x86_64);
    expect(l.records['struct with_nested']).toEqual({
      size: 56,
      align: 8,
      fields: {
        x: 0, in: 4, 'in.p': 4, 'in.q': 8, arr: 12, side: 32, 'side.s0': 32, 'side.s1': 40,
        flags: { bit_offset: 48 * 8, bit_width: 3 }, more: { bit_offset: 48 * 8 + 3, bit_width: 5 },
        tail: 49, /* 8 bits of bitfields take one byte */
      },
    });
    expect(l.records['struct inner']).toEqual({ size: 8, align: 4, fields: { p: 0, q: 4 } });
    expect(l.records['union u_top']).toEqual({ size: 4, align: 4, fields: { bytes: 0, word: 0 } });
  });

  it('includes tags made by __struct_group and excludes other headers\' records', async () => {
    const l = await layout('layout.h', x86_64);
    expect(l.records['struct grouped'].fields).toEqual({ head: 0, g1: 4, g2: 8, grp: 4, 'grp.g1': 4, 'grp.g2': 8 });
    expect(l.records['struct grouped_tag']).toEqual({ size: 8, align: 4, fields: { g1: 0, g2: 4 } });
    expect(Object.keys(l.records).sort()).toEqual([
      'struct aligned64', 'struct grouped', 'struct grouped_tag', 'struct inner', 'struct plain64',
      'struct with_anon', 'struct with_nested', 'union u_top',
    ]);
  });

  it('resolves <linux/X.h> to a sibling of the header before the tree', async () => {
    const l = await layout('user.h', x86_64);
    expect(Object.keys(l.records)).toEqual(['struct vfio_user']);
    expect(l.records['struct vfio_user'].fields).toEqual({ f: 0, 'f.only_here': 0, 'f.w': 4 });
  });

  it('bit-field positions (bit_offset, bit_width) agree with ours on every ABI, big-endian included', async () => {
    const maxClang = Math.max(0, ...installedClangs().map((c) => c.major));
    const problems: string[] = [];
    let bitfields = 0;
    for (const abi of ABIS.filter((a) => a.minClang <= maxClang)) {
      const expected = await layout('bits.h', abi);
      const ours = layoutJson(parseHeaderForAbis(hdr('bits.h'), [abi]).get(abi.name)!, abi, expected.header);
      problems.push(...compareLayouts(expected, ours).map((d) => d.message));
      bitfields += Object.values(expected.records).reduce((n, r) => n + Object.values(r.fields).filter((f) => typeof f !== 'number').length, 0);
    }
    expect(problems).toEqual([]);
    expect(bitfields).toBeGreaterThan(12 * 20);
  }, 120_000);

  it('clangLayoutAll agrees with clangLayout', async () => {
    const all = await clangLayoutAll([hdr('layout.h'), hdr('side.h')], [x86_64, i386, mips], { includeRoot });
    expect(all.map((l) => `${path.basename(l.header)}/${l.abi}`)).toEqual([
      'layout.h/x86_64', 'layout.h/i386', 'layout.h/mips', 'side.h/x86_64', 'side.h/i386', 'side.h/mips',
    ]);
    for (const l of all) {
      const one = await clangLayout(l.header, abiByName(l.abi), { includeRoot });
      expect(compareLayouts(one, l)).toEqual([]);
    }
  }, 60_000);

  it.skipIf(!haveClang19)('reaches loongarch64 with clang 19', async () => {
    const l = await layout('layout.h', abiByName('loongarch64'));
    expect(l.records['struct plain64']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    expect(l.constants.T_IO).toBe(0x3b64);
  });

  describe('ELF reader', () => {
    const src = `
const unsigned char pattern[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
const unsigned int word = 0x11223344;
unsigned long long zeroed;
short counter = -2;
static const int hidden = 5;
const int *use_hidden = &hidden;
`;
    for (const [abi, is64, little] of [[ppc, false, false], [x86_64, true, true]] as const) {
      it(`reads initialised bytes from a ${is64 ? 64 : 32}-bit ${little ? 'little' : 'big'}-endian object (${abi.name})`, async () => {
        const { symbols } = await compileObject(src, abi, { includeRoot });
        expect([...symbols.get('pattern')!]).toEqual([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        expect([...symbols.get('word')!]).toEqual(little ? [0x44, 0x33, 0x22, 0x11] : [0x11, 0x22, 0x33, 0x44]);
        expect([...symbols.get('zeroed')!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
        expect([...symbols.get('counter')!]).toEqual(little ? [0xfe, 0xff] : [0xff, 0xfe]);
        expect(symbols.has('hidden')).toBe(false); // local symbol
        expect(symbols.get('use_hidden')?.length).toBe(is64 ? 8 : 4);
      });
    }

    it('parses headers and symbol table of an object file', async () => {
      const { execFile } = await import('node:child_process');
      const { promisify } = await import('node:util');
      const { readFile } = await import('node:fs/promises');
      const d = await mkdtemp(path.join(tmpdir(), 'vfio-uapi-elf-test-'));
      try {
        await writeFile(path.join(d, 'a.c'), src);
        const clang = findClang(ppc);
        await promisify(execFile)(clang.path, [...clangArgs(ppc, includeRoot), '-c', '-fno-common', path.join(d, 'a.c'), '-o', path.join(d, 'a.o')]);
        const elf = new ElfFile(await readFile(path.join(d, 'a.o')));
        expect([elf.is64, elf.littleEndian, elf.machine]).toEqual([false, false, 20 /* EM_PPC */]);
        const word = elf.symbol('word')!;
        expect(word.size).toBe(4);
        expect(elf.sections[word.shndx].name).toMatch(/rodata/);
        expect(elf.sections[elf.symbol('zeroed')!.shndx].name).toMatch(/bss/);
        expect(() => new ElfFile(new Uint8Array([1, 2, 3]))).toThrow(/not an ELF/);
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    });
  });
});

describe('toolchain', () => {
  it('names the Debian package when no clang is new enough', () => {
    const future: Abi = { ...abiByName('x86_64'), name: 'future', minClang: 999 };
    expect(() => findClang(future)).toThrow(MissingPrerequisite);
    expect(() => findClang(future)).toThrow(/apt-get install clang-999/);
  });
});

describe('compareLayouts', () => {
  const clang: LayoutJson = {
    header: 'h.h', abi: 'i386',
    constants: { A: 1, B: '18446744073709551615', C: 3 },
    records: {
      'struct s': { size: 24, align: 4, fields: { x: 0, offset: 20 } },
      'struct gone': { size: 4, align: 4, fields: { y: 0 } },
    },
  };
  it('finds nothing when equal', () => {
    expect(compareLayouts(clang, structuredClone(clang))).toEqual([]);
    expect(formatDisagreements([])).toMatch(/no disagreements/);
  });
  it('lists every difference with a sentence', () => {
    const ours: LayoutJson = {
      header: 'other/h.h', abi: 'i386',
      constants: { A: 2, B: '18446744073709551615', D: 4 },
      records: {
        'struct s': { size: 32, align: 8, fields: { offset: 24, extra: 8 } },
        'union new': { size: 1, align: 1, fields: {} },
      },
    };
    const ds = compareLayouts(clang, ours);
    expect(ds.map((d) => d.kind).sort()).toEqual([
      'constant-value', 'extra-constant', 'extra-field', 'extra-record', 'field-offset', 'missing-constant',
      'missing-field', 'missing-record', 'record-align', 'record-size',
    ]);
    expect(ds.map((d) => d.message)).toContain('struct s.offset: ours 24, clang 20 (i386)');
    expect(formatDisagreements(ds)).toMatch(/^10 disagreement\(s\)/);
  });
});
