/**
 * The macro layer and the constant evaluator. Expected values are C's, by the
 * standard's rules (and double-checked against clang by the oracle test).
 */
import { describe, expect, it } from 'vitest';
import { constantsOf, layoutOf, parseText, writeHeaders } from './helpers.js';
import { parseHeader } from '../generator/parse/parse.js';
import { layoutJson } from '../generator/layout/json.js';
import { abiByName } from '../generator/abi/abis.js';

describe('integer constants as C evaluates them', () => {
  const c = constantsOf(`
#define CHAR ';'
#define ESC '\\n'
#define HIGH_CHAR '\\xff'
#define SHIFT31 (1 << 31)
#define SHIFT31U (1U << 31)
#define MINUS_ONE -1
#define MINUS_ONE_U ((__u32)-1)
#define BIG 0xffffffff
#define BIGGER 0x100000000
#define ULL_MAX (~0ULL)
#define OCTAL 0755
#define REF (CHAR + 1)
#define TERN (REF > 10 ? 3 : 4)
#define DIV (-7 / 2)
#define MOD (-7 % 2)
#define CMP (-1 < 0U)
#define LONG_SHIFT (1UL << 40)
struct s { int a; char b; };
#define SZ sizeof(struct s)
#define CONT (1 + \\
  2)
enum { E0, E1, E5 = 5, E6, ECH = 'A' };
`);
  const v = (n: string) => c.get(n)?.value;
  it('char literals are ints with the character code', () => {
    expect(v('CHAR')).toBe(59n);
    expect(v('ESC')).toBe(10n);
    expect(c.get('CHAR')?.type).toBe('int');
  });
  it("'\\xff' depends on the signedness of plain char", () => {
    expect(v('HIGH_CHAR')).toBe(-1n); // x86_64: char is signed
    expect(constantsOf("#define H '\\xff'", 'aarch64').get('H')?.value).toBe(255n);
  });
  it('(1 << 31) is a negative int; (1U << 31) is unsigned', () => {
    expect(v('SHIFT31')).toBe(-2147483648n);
    expect(c.get('SHIFT31')?.type).toBe('int');
    expect(v('SHIFT31U')).toBe(2147483648n);
  });
  it('negative values and casts', () => {
    expect(v('MINUS_ONE')).toBe(-1n);
    expect(v('MINUS_ONE_U')).toBe(4294967295n);
  });
  it('literal types follow radix and suffix', () => {
    expect(c.get('BIG')?.type).toBe('unsigned int');
    expect(c.get('BIGGER')?.type).toBe('long');
    expect(v('ULL_MAX')).toBe(18446744073709551615n);
    expect(v('OCTAL')).toBe(493n);
    expect(v('LONG_SHIFT')).toBe(1n << 40n);
  });
  it('macro references, ternaries, C division and the usual arithmetic conversions', () => {
    expect(v('REF')).toBe(60n);
    expect(v('TERN')).toBe(3n);
    expect(v('DIV')).toBe(-3n);
    expect(v('MOD')).toBe(-1n);
    expect(v('CMP')).toBe(0n); // -1 converts to UINT_MAX
  });
  it('sizeof(struct ...) and backslash-continued definitions', () => {
    expect(v('SZ')).toBe(8n);
    expect(c.get('SZ')?.type).toBe('unsigned long');
    expect(v('CONT')).toBe(3n);
  });
  it('enumerators, implicit values included', () => {
    expect([v('E0'), v('E1'), v('E5'), v('E6'), v('ECH')]).toEqual([0n, 1n, 5n, 6n, 65n]);
  });
  it('(1UL << 40) does not fit a 32-bit long', () => {
    expect(constantsOf('#define L (1UL << 40)', 'i386').get('L')).toBeUndefined();
  });
});

describe('_IO* ioctl numbers per ABI', () => {
  const header = `
#include <linux/ioctl.h>
struct arg { __u32 a; __u64 b; };
#define T_IO _IO(';', 100)
#define T_IOR _IOR('V', 1, struct arg)
#define T_IOW _IOW('V', 2, __u32)
#define T_IOWR _IOWR('V', 3, struct arg)
`;
  it('generic encoding (x86_64), from the kernel formula dir<<30 | size<<16 | type<<8 | nr', () => {
    const c = constantsOf(header, 'x86_64');
    expect(c.get('T_IO')?.value).toBe(0x3b64n);
    expect(c.get('T_IOR')?.value).toBe((2n << 30n) | (16n << 16n) | (0x56n << 8n) | 1n);
    expect(c.get('T_IOW')?.value).toBe((1n << 30n) | (4n << 16n) | (0x56n << 8n) | 2n);
    expect(c.get('T_IOWR')?.value).toBe((3n << 30n) | (16n << 16n) | (0x56n << 8n) | 3n);
  });
  it('powerpc, mips and sparc: 3 direction bits, _IOC_NONE = 1, READ = 2, WRITE = 4', () => {
    for (const abi of ['ppc64', 'ppc', 'mips', 'mips64el', 'sparc64']) {
      const c = constantsOf(header, abi);
      expect(c.get('T_IO')?.value, abi).toBe(0x20003b64n);
      expect(c.get('T_IOW')?.value, abi).toBe((4n << 29n) | (4n << 16n) | (0x56n << 8n) | 2n);
    }
  });
  it('sizeof in _IOR follows the ABI (12 bytes on i386, 16 on x86_64)', () => {
    expect(constantsOf(header, 'i386').get('T_IOR')?.value).toBe((2n << 30n) | (12n << 16n) | (0x56n << 8n) | 1n);
  });
  it('works without #include <linux/ioctl.h>', () => {
    expect(constantsOf("#define X _IO('x', 1)").get('X')?.value).toBe(0x7801n);
  });
});

describe('the macro layer', () => {
  it('keeps function-like macros with parameters and body, and strings as strings', () => {
    const ir = parseText(`
#define STATE_VALID(state) ((state) == 1 || \\
   (state) == 2)
#define NAME "vfio-pci"
#define GLUE(a, b) a ## b
#define STR(x) #x
#define VA(fmt, ...) fmt(__VA_ARGS__)
#define PASTED GLUE(0x, 10)
`);
    const fn = ir.macros.find((m) => m.name === 'STATE_VALID');
    expect(fn?.params).toEqual(['state']);
    expect(fn?.body).toBe('((state) == 1 || (state) == 2)');
    expect(ir.macros.find((m) => m.name === 'NAME')?.value).toEqual({ kind: 'string', value: 'vfio-pci' });
    expect(ir.macros.find((m) => m.name === 'VA')?.variadic).toBe(true);
    const pasted = ir.macros.find((m) => m.name === 'PASTED')?.value;
    expect(pasted?.kind).toBe('expression');
  });
  it('evaluates ## pasting, conditionals and #undef', () => {
    const c = constantsOf(`
#define GLUE(a, b) a ## b
#define PASTED GLUE(0x, 10)
#if 0
#define HIDDEN 1
#elif defined(PASTED) && PASTED > 15
#define TAKEN 2
#else
#define NOT_TAKEN 3
#endif
#ifndef PASTED
#define NOPE 4
#endif
#define GONE 5
#undef GONE
`);
    expect(c.get('PASTED')?.value).toBe(16n);
    expect(c.get('TAKEN')?.value).toBe(2n);
    expect([c.has('HIDDEN'), c.has('NOT_TAKEN'), c.has('NOPE'), c.has('GONE')]).toEqual([false, false, false, false]);
  });
  it('finds #defines written inside struct bodies', () => {
    const c = constantsOf(`
struct s {
	__u32 flags;
#define S_FLAG_A (1 << 0)
#define S_FLAG_B (1 << 1)
	__u32 pad;
};`);
    expect(c.get('S_FLAG_B')?.value).toBe(2n);
  });
  it('resolves <linux/X.h> to a sibling header first, and its records are not the including header\'s', () => {
    const path = writeHeaders({
      'zdev.h': '#include <linux/base.h>\nstruct outer { struct base_hdr hdr; __u32 x; };\n',
      'base.h': 'struct base_hdr { __u16 id; __u16 version; __u32 next; };\n#define BASE_C 1\n',
    });
    const json = layoutJson(parseHeader(path), abiByName('x86_64'));
    expect(Object.keys(json.records)).toEqual(['struct outer']);
    expect(json.records['struct outer']?.fields).toEqual({ hdr: 0, 'hdr.id': 0, 'hdr.version': 2, 'hdr.next': 4, x: 8 });
    expect(json.constants).toEqual({});
  });
});

describe('ABI-dependent conditionals', () => {
  const header = `
#include <linux/types.h>
#if __BITS_PER_LONG == 64
#define TIMEOUT_IOCTL 0x060f
#else
#define TIMEOUT_IOCTL _IOW(0x6, 0xf, __s64[2])
#endif
#if defined(__x86_64__) || defined(__aarch64__)
struct regs { __u64 r[2]; };
#else
struct regs { __u32 r[2]; };
#endif
`;
  it('a header that tests __BITS_PER_LONG or arch macros is preprocessed per ABI', () => {
    expect(parseText(header).abiSensitive).toBe(true);
    expect(parseText('#define PLAIN 1').abiSensitive).toBe(false);
    expect(constantsOf(header, 'x86_64').get('TIMEOUT_IOCTL')?.value).toBe(0x060fn);
    // i386: _IOW(0x6, 0xf, __s64[2]) = write<<30 | 16<<16 | 0x06<<8 | 0x0f
    expect(constantsOf(header, 'i386').get('TIMEOUT_IOCTL')?.value).toBe((1n << 30n) | (16n << 16n) | 0x060fn);
    expect(layoutOf(header, 'aarch64').records['struct regs']?.size).toBe(16);
    expect(layoutOf(header, 'arm').records['struct regs']?.size).toBe(8);
  });
  it('refuses to lay an ABI-dependent IR out for another ABI', () => {
    expect(() => layoutJson(parseText(header), abiByName('x86_64'))).toThrow(/depends on the ABI/);
  });
});
