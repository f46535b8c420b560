/**
 * The layout engine on small headers. Expected offsets are the C ABI rules of
 * each target (System V psABIs, AAPCS); the oracle test checks the same engine
 * against clang on the real headers.
 */
import { describe, expect, it } from 'vitest';
import { layoutOf } from './helpers.js';

describe('record layout', () => {
  const header = `
struct plain { __u32 argsz; __u32 flags; __u64 size; };
struct aligned { __u32 argsz; __aligned_u64 size; };
struct tail { __u64 a; __u8 b; };
`;
  it('__u64 is 4-aligned on i386, __aligned_u64 is 8-aligned everywhere', () => {
    const i386 = layoutOf(`struct s { __u32 a; __u64 b; };\nstruct t { __u32 a; __aligned_u64 b; };`, 'i386');
    expect(i386.records['struct s']).toEqual({ size: 12, align: 4, fields: { a: 0, b: 4 } });
    expect(i386.records['struct t']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    const arm = layoutOf(`struct s { __u32 a; __u64 b; };`, 'arm');
    expect(arm.records['struct s']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
  });
  it('_Static_assert is checked per ABI, as C does (x86 asm/elf.h has one)', () => {
    const h = `struct s { __u32 a; long b; };\n_Static_assert(sizeof(struct s) == 16, "LP64 only");`;
    expect(layoutOf(h).records['struct s']!.size).toBe(16);
    expect(() => layoutOf(h, 'i386')).toThrow(/static assertion failed on i386/);
  });
  it('trailing padding rounds the size up to the alignment', () => {
    expect(layoutOf(header).records['struct tail']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
    expect(layoutOf(header, 'i386').records['struct tail']).toEqual({ size: 12, align: 4, fields: { a: 0, b: 8 } });
  });
  it('long and pointers follow the data model', () => {
    const h = 'struct s { char c; long l; void *p; };';
    expect(layoutOf(h).records['struct s']).toEqual({ size: 24, align: 8, fields: { c: 0, l: 8, p: 16 } });
    expect(layoutOf(h, 'ppc').records['struct s']).toEqual({ size: 12, align: 4, fields: { c: 0, l: 4, p: 8 } });
  });
  it('packed and aligned(n) attributes', () => {
    const j = layoutOf(`
struct p { __u8 a; __u32 b; __u16 c; } __attribute__((packed));
struct q { __u8 a; __u32 b __attribute__((aligned(16))); };
struct __attribute__((aligned(32))) r { __u8 a; };
typedef __u32 u32_a8 __attribute__((aligned(8)));
struct t { __u8 a; u32_a8 b; };`);
    expect(j.records['struct p']).toEqual({ size: 7, align: 1, fields: { a: 0, b: 1, c: 5 } });
    expect(j.records['struct q']).toEqual({ size: 32, align: 16, fields: { a: 0, b: 16 } });
    expect(j.records['struct r']).toEqual({ size: 32, align: 32, fields: { a: 0 } });
    expect(j.records['struct t']).toEqual({ size: 16, align: 8, fields: { a: 0, b: 8 } });
  });
  it('flexible array members, [] and [0], add no size but keep alignment', () => {
    const j = layoutOf(`
struct f { __u32 n; __u64 data[]; };
struct z { __u32 n; __u8 data[0]; };`);
    expect(j.records['struct f']).toEqual({ size: 8, align: 8, fields: { n: 0, data: 8 } });
    expect(j.records['struct z']).toEqual({ size: 4, align: 4, fields: { n: 0, data: 4 } });
  });
  it('anonymous members are flattened, named nested members get dotted paths', () => {
    const j = layoutOf(`
struct dev {
	__u16 segment;
	union { __u32 group_id; __u32 devid; };
	struct { __u8 bus; __u8 devfn; } addr;
	struct inner { __u32 x; struct { __u16 y; } deep; } named[2];
};`);
    expect(j.records['struct dev']?.fields).toEqual({ segment: 0, group_id: 4, devid: 4, addr: 8, 'addr.bus': 8, 'addr.devfn': 9, named: 12 });
    expect(j.records['struct inner']).toEqual({ size: 8, align: 4, fields: { x: 0, deep: 4, 'deep.y': 4 } });
  });
  it('unions take the largest member, typedef struct {...} is usable, multi-dimensional arrays', () => {
    const j = layoutOf(`
typedef struct { __u64 v; } wrap_t;
union u { __u8 b[3]; wrap_t w; };
struct m { __u8 grid[3][5]; __u32 after; };`);
    expect(j.records['union u']).toEqual({ size: 8, align: 8, fields: { b: 0, w: 0, 'w.v': 0 } });
    expect(j.records['struct m']).toEqual({ size: 20, align: 4, fields: { grid: 0, after: 16 } });
  });
  it('__DECLARE_FLEX_ARRAY, __struct_group and __counted_by', () => {
    const j = layoutOf(`
#include <linux/stddef.h>
struct a { __u32 n; __DECLARE_FLEX_ARRAY(__u64, items); };
struct b { __u32 n; struct ent { __u32 x; } list[] __counted_by(n); };
struct c { __struct_group(grp, hdr, , __u32 x; __u32 y; ); __u32 z; };`);
    expect(j.records['struct a']).toEqual({ size: 8, align: 8, fields: { n: 0, __empty_items: 8, items: 8 } });
    expect(j.records['struct b']).toEqual({ size: 4, align: 4, fields: { n: 0, list: 4 } });
    expect(j.records['struct c']).toEqual({ size: 12, align: 4, fields: { x: 0, y: 4, hdr: 0, 'hdr.x': 0, 'hdr.y': 4, z: 8 } });
    expect(j.records['struct grp']).toEqual({ size: 8, align: 4, fields: { x: 0, y: 4 } });
  });
  it('enums are int-sized unless their values need more', () => {
    const j = layoutOf(`
enum small { S_A, S_B };
enum wide { W_A = 0x100000000ULL };
struct e { enum small s; enum wide w; };`);
    expect(j.records['struct e']).toEqual({ size: 16, align: 8, fields: { s: 0, w: 8 } });
  });
  // Expected bit positions: clang-19 on x86_64, an object with only that bit-field set to -1 (as the oracle measures them).
  it('bit-fields share storage units and are given their bit positions', () => {
    const j = layoutOf('struct b { __u32 a:3, b:7; __u8 c; __u32 d:30; __u32 e:4; };');
    const bits = (bit_offset: number, bit_width: number) => ({ bit_offset, bit_width });
    expect(j.records['struct b']).toEqual({ size: 12, align: 4, fields: { a: bits(0, 3), b: bits(3, 7), c: 2, d: bits(32, 30), e: bits(64, 4) } });
  });
  it('unnamed bit-fields (padding, as UAPI headers write them) parse and lay out as C does', () => {
    const j = layoutOf('struct u { __u32 a; __u32 :32; __u32 b:3, :5, c:4; };');
    expect(j.records['struct u']).toEqual({ size: 12, align: 4, fields: { a: 0, b: { bit_offset: 64, bit_width: 3 }, c: { bit_offset: 72, bit_width: 4 } } });
  });
});

describe('#pragma pack', () => {
  it('caps member alignment from the pragma on, and pop restores it', () => {
    const j = layoutOf(`
#pragma pack(push, 2)
struct p2 { __u8 a; __u32 b; __u64 c; };
#pragma pack(pop)
struct natural { __u8 a; __u32 b; };
#pragma pack(1)
struct p1 { __u8 a; __u16 b; __u32 c:24; __u32 d:8; };
#pragma pack()
`);
    expect(j.records['struct p2']).toEqual({ size: 14, align: 2, fields: { a: 0, b: 2, c: 6 } });
    expect(j.records['struct natural']).toEqual({ size: 8, align: 4, fields: { a: 0, b: 4 } });
    expect(j.records['struct p1']).toEqual({ size: 7, align: 1, fields: { a: 0, b: 1, c: { bit_offset: 24, bit_width: 24 }, d: { bit_offset: 48, bit_width: 8 } } });
  });
});
