/**
 * Issue 13's findings, one by one: what C rejects is a located error (never a
 * silent acceptance, a dropped declaration or a stack trace), and hostile
 * shapes end quickly with an answer or a located error.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { HeaderError } from '../generator/errors.js';
import { MAX_FILE_BYTES } from '../generator/limits.js';
import { constantsOf, layoutOf, writeHeaders } from './helpers.js';
import { hostileShapes } from '../scripts/fuzz.js';
import { abiByName } from '../generator/abi/abis.js';
import { AbiLayout } from '../generator/layout/layout.js';
import { parseHeaderForAbis } from '../generator/parse/parse.js';
import { generateBindings } from '../generator/pipeline/generate.js';
import { ABIS } from '../generator/abi/abis.js';
import { tmpdir } from 'node:os';

function error(text: string): string {
  try {
    layoutOf(text);
  } catch (e) {
    expect(e).toBeInstanceOf(HeaderError);
    return (e as HeaderError).message;
  }
  throw new Error(`accepted:\n${text}`);
}

describe('invalid C is a located error', () => {
  const cases: [string, string, RegExp][] = [
    ['a keyword typo', 'struct ok { int a; };\nstbuct foo { int a; };\n', /test\.h:2:1: error: unknown type name 'stbuct'/],
    ['duplicate members', 'struct s { int a; int a; };', /:1:23: error: duplicate member 'a'/],
    ['a duplicate inside an anonymous member', 'struct s { int a; union { int a; int b; }; };', /duplicate member 'a'/],
    ['a recursive macro as an enum value', '#define R R\nenum e { X = R };\nstruct s { int a; };', /:2:14: error: 'R' is not an integer constant/],
    ['float bit-field', 'struct s { float f:3; };', /bit-field 'f' has non-integral type 'float'/],
    ['struct bit-field', 'struct t { int a; };\nstruct s { struct t x:3; };', /non-integral type 'struct t'/],
    ['array bit-field', 'struct s { int x[2]:3; };', /bit-field 'x' has non-integral type/],
    ['pointer bit-field', 'struct s { int *p:3; };', /non-integral type/],
    ['named zero-width bit-field', 'struct s { int a; int z:0; };', /named bit-field 'z' has zero width/],
    ['negative bit width', 'struct s { int z:-1; };', /negative width/],
    ['bit width beyond the type', 'struct s { __u8 z:9; };', /exceeds its type/],
    ['aligned(3)', 'struct s { int a; } __attribute__((aligned(3)));', /requested alignment is not a power of 2 \(3\)/],
    ['_Alignas(3)', 'struct s { _Alignas(3) int a; };', /not a power of 2/],
    ['_Alignas below the type', 'struct s { _Alignas(1) int a; };', /less than minimum alignment of 4/],
    ['aligned(1ULL<<40)', 'struct s { int a; } __attribute__((aligned(1ULL<<40)));', /4294967296 bytes or smaller/],
    ['a struct with only a flexible array', 'struct s { int d[]; };', /flexible array member 'd' not allowed in otherwise empty struct/],
    ['a literal of 2^64', 'enum { B = 18446744073709551616 };', /integer literal is too large/],
    ['an array of 2^80 bytes', 'struct s { char a[1ULL<<40][1ULL<<40]; };', /array is too large/],
    ['a redefined enumerator', 'enum { A = 1, A = 2 };', /redefinition of enumerator 'A'/],
    ['INT64_MIN % -1', 'enum { A = (-9223372036854775807LL - 1) % -1 };', /overflow in expression.*not an integer constant expression/],
    ['INT_MAX + 1', 'enum { A = 2147483647 + 1 };', /overflow in expression/],
    ['division by zero', 'enum { A = 1 / 0 };', /division by zero/],
    ['a conflicting typedef', 'typedef int t;\ntypedef long t;', /typedef redefinition with different types/],
    ['a statement at file scope', 'foo;', /expected a declaration/],
  ];
  for (const [what, text, message] of cases) it(what, () => expect(error(text)).toMatch(message));

  it('an enum C cannot evaluate is an error, not a vanished ioctl constant', () => {
    expect(error('#define MY_IO _IO(1, 2)\nenum { A = 1 / 0 };\n')).toMatch(/:2:\d+: error: division by zero/);
  });

  it('what C accepts still works: (1 << 31), unsigned wrap, unnamed and zero-width bit-fields, _Alignas(8), int;', () => {
    const c = constantsOf('#define K (1 << 31)\n#define U (0u - 1)\nenum { E = -2147483647 - 1 };\n');
    expect(c.get('K')!.value).toBe(-2147483648n);
    expect(c.get('U')!.value).toBe(4294967295n);
    expect(c.get('E')!.value).toBe(-2147483648n);
    const j = layoutOf('int;\nstruct s { __u8 a; _Alignas(8) __u32 b; __u32 :0; __u8 c; };');
    expect(j.records['struct s']).toMatchObject({ size: 16, align: 8, fields: { a: 0, b: 8, c: 12 } });
  });

  it('a failed layout does not leave its record "in progress"', () => {
    const abi = abiByName('x86_64');
    const layout = new AbiLayout(parseHeaderForAbis(writeHeaders({ 'p.h': 'struct bad { char a[1ULL<<62]; };\nstruct user { struct bad b; };' }), [abi]).get('x86_64')!, abi);
    const user = layout.ir.records.find((r) => r.name === 'user')!;
    for (let i = 0; i < 2; i++) {
      expect(() => layout.recordLayout(user.id)).toThrow(/is too large/);
      expect(() => layout.recordLayout(user.id)).not.toThrow(/contains itself/);
    }
  });
});

describe('files: only regular ones, of bounded size', () => {
  it('/dev/zero, a FIFO, a directory and an oversized file are refused with a location', () => {
    const dir = join(writeHeaders({ 'x.h': '' }), '..');
    mkdirSync(join(dir, 'sub'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    writeFileSync(join(dir, 'big.h'), Buffer.alloc(MAX_FILE_BYTES + 1, 0x20));
    expect(error('#include "/dev/zero"\n')).toMatch(/test\.h:1:2: error: cannot read \/dev\/zero: not a regular file/);
    for (const f of ['pipe', 'sub']) expect(error(`#include "${join(dir, f)}"\n`)).toMatch(/not a regular file/);
    expect(error(`#include "${join(dir, 'big.h')}"\n`)).toMatch(/exceeds a limit of vfio-uapi/);
  });
});

describe('hostile shapes end quickly with an answer or a located error', () => {
  for (const h of hostileShapes()) {
    it(h.what, () => {
      try {
        layoutOf(h.text);
      } catch (e) {
        expect(e, String((e as Error).stack)).toBeInstanceOf(HeaderError);
        expect((e as Error).message).toMatch(/^.+:\d+:\d+: error: /);
      }
    }, 60_000);
  }
});

describe('generate on hostile shapes', () => {
  it('a chain of records each holding the previous (codecs growing as n^3) is a located error of ours, not gigabytes of code', () => {
    const h = hostileShapes().find((x) => x.what.startsWith('a chain of 1000 structs'))!;
    let err: unknown;
    try {
      generateBindings({ header: writeHeaders({ 'chain.h': h.text }), out: join(tmpdir(), 'vfio-uapi-unused') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HeaderError);
    expect((err as Error).message).toMatch(/chain\.h:\d+:1: error: the code of the codecs of chain\.h \(at struct s\d+\) exceeds a limit of vfio-uapi/);
  }, 60_000);
});

describe('layouts shared by alike ABIs', () => {
  // Layouts of one IR share their results between ABIs with the same layout rules: the rules must include
  // everything a layout reads. AAPCS (aarch64) aligns a record to an unnamed zero-width bit-field's type,
  // riscv64 does not (clang: sizeof 8 and 5); otherwise the two ABIs' rules are the same.
  it('an ABI that differs only in zero-width bit-fields gets its own layout', () => {
    const file = writeHeaders({ 'zw.h': 'struct zw { char a; int :0; char c; };\n' });
    const irs = parseHeaderForAbis(file, ABIS);
    const size = (abi: string) => {
      const ir = irs.get(abi)!;
      return new AbiLayout(ir, abiByName(abi)).recordLayout(ir.records.find((r) => r.name === 'zw')!.id).size;
    };
    expect([size('aarch64'), size('riscv64'), size('aarch64'), size('x86_64')]).toEqual([8, 5, 8, 5]);
  });

  it('emit writes the codecs of such ABIs apart (they were merged by byte order, char and scalars only)', () => {
    const files = generateBindings({ header: writeHeaders({ 'zw.h': 'struct zw { char a; int :0; char c; };\n' }), out: join(tmpdir(), 'vfio-uapi-unused') });
    const sizeIn = (abi: string) => {
      const group = /from '\.\.\/codecs\/(\w+)\.js'/.exec(files.get(`abi/${abi}.ts`)!)![1]!;
      return Number(/^\s+size: (\d+),$/m.exec(files.get(`codecs/${group}.ts`)!)![1]);
    };
    expect([sizeIn('aarch64'), sizeIn('riscv64'), sizeIn('ppc64le'), sizeIn('x86_64')]).toEqual([8, 5, 5, 5]);
  });
});
