/**
 * The Linux ABIs vfio-uapi lays headers out for, as data.
 *
 * Everything ABI-specific that the layout engine, the constant evaluator and the
 * emitter need is in this table: byte order, the size and alignment of each C
 * scalar type, the `_IOC` bit layout, and how to reach the ABI with clang and
 * Debian's multiarch include tree (for the conformance checks). No other code
 * branches on an ABI's name.
 */

/** Size and alignment (in bytes) of one C scalar type, as a struct member. */
export interface ScalarLayout {
  readonly size: number;
  readonly align: number;
}

/** The `_IOC` encoding of `<asm/ioctl.h>` for one ABI. */
export interface IocLayout {
  /** Width of the number, type, size and direction fields, low bits first. */
  readonly nrBits: number;
  readonly typeBits: number;
  readonly sizeBits: number;
  readonly dirBits: number;
  /** Values of `_IOC_NONE`, `_IOC_READ`, `_IOC_WRITE`. */
  readonly none: number;
  readonly read: number;
  readonly write: number;
}

/** The C scalar types whose layout differs between ABIs. */
export type ScalarName =
  | 'char' | 'short' | 'int' | 'long' | 'long long' | 'pointer'
  | 'float' | 'double' | 'long double' | '_Bool' | '__int128';

/** One Linux ABI. */
export interface Abi {
  /** The name used everywhere (CLI, JSON, generated files). */
  readonly name: string;
  readonly endian: 'little' | 'big';
  /** Whether plain `char` is signed. */
  readonly charSigned: boolean;
  readonly scalars: Readonly<Record<ScalarName, ScalarLayout>>;
  /** Alignment given by a bare `__attribute__((aligned))`. */
  readonly maxAlign: number;
  readonly ioc: IocLayout;
  /** clang `--target` triple. */
  readonly clangTarget: string;
  /** Debian multiarch triplet: `linux-libc-dev` puts this ABI's `asm/` under `usr/include/<triplet>/`. */
  readonly debianTriplet: string;
  /**
   * Debian 12's glibc cross headers for this ABI: the `libc6-dev-<arch>-cross` package and the folder under
   * `/usr` it installs (`/usr/<folder>/include`); absent where Debian 12 has none (loongarch64).
   */
  readonly glibcCross?: { readonly package: string; readonly folder: string };
  /** Node.js `process.arch` (and byte order) that runs on this ABI, if Node.js runs there. */
  readonly node?: { readonly arch: string; readonly endian: 'LE' | 'BE' };
  /** Oldest clang major version that targets this ABI (most need 14). */
  readonly minClang: number;
  /** The compiler's architecture macros for this ABI (`__x86_64__`, ...; `NAME=VALUE` where not 1), for `#if`s that test them. */
  readonly archMacros: readonly string[];
  /** An unnamed zero-width bit-field raises the record's alignment to its type's (AAPCS: arm, aarch64). */
  readonly zeroWidthBitFieldAligns?: boolean;
}

const GENERIC_IOC: IocLayout = { nrBits: 8, typeBits: 8, sizeBits: 14, dirBits: 2, none: 0, read: 2, write: 1 };
/** powerpc, mips and sparc: 13 size bits, 3 direction bits, and `_IOC_NONE` is 1. */
const THREE_DIR_BIT_IOC: IocLayout = { nrBits: 8, typeBits: 8, sizeBits: 13, dirBits: 3, none: 1, read: 2, write: 4 };

function scalars(model: 'LP64' | 'ILP32', overrides: Partial<Record<ScalarName, ScalarLayout>> = {}): Record<ScalarName, ScalarLayout> {
  const word = model === 'LP64' ? 8 : 4;
  return {
    char: { size: 1, align: 1 },
    _Bool: { size: 1, align: 1 },
    short: { size: 2, align: 2 },
    int: { size: 4, align: 4 },
    long: { size: word, align: word },
    'long long': { size: 8, align: 8 },
    pointer: { size: word, align: word },
    float: { size: 4, align: 4 },
    double: { size: 8, align: 8 },
    'long double': { size: 16, align: 16 },
    // GCC's __int128 exists on 64-bit ABIs only (size 0: not supported).
    __int128: model === 'LP64' ? { size: 16, align: 16 } : { size: 0, align: 0 },
    ...overrides,
  };
}

/** Every supported ABI, in the order reports list them. */
export const ABIS: readonly Abi[] = [
  { name: 'x86_64', endian: 'little', charSigned: true, scalars: scalars('LP64'), maxAlign: 16, ioc: GENERIC_IOC,
    clangTarget: 'x86_64-linux-gnu', debianTriplet: 'x86_64-linux-gnu', glibcCross: { package: 'libc6-dev-amd64-cross', folder: 'x86_64-linux-gnu' }, node: { arch: 'x64', endian: 'LE' }, minClang: 14 , archMacros: ['__x86_64__', '__x86_64', '__amd64__', '__amd64'] },
  { name: 'i386', endian: 'little', charSigned: true,
    scalars: scalars('ILP32', { 'long long': { size: 8, align: 4 }, double: { size: 8, align: 4 }, 'long double': { size: 12, align: 4 } }),
    maxAlign: 16, ioc: GENERIC_IOC, clangTarget: 'i386-linux-gnu', debianTriplet: 'i386-linux-gnu', glibcCross: { package: 'libc6-dev-i386-cross', folder: 'i686-linux-gnu' }, node: { arch: 'ia32', endian: 'LE' }, minClang: 14 , archMacros: ['__i386__', '__i386', 'i386', '__i686__'] },
  { name: 'aarch64', zeroWidthBitFieldAligns: true, endian: 'little', charSigned: false, scalars: scalars('LP64'), maxAlign: 16, ioc: GENERIC_IOC,
    clangTarget: 'aarch64-linux-gnu', debianTriplet: 'aarch64-linux-gnu', glibcCross: { package: 'libc6-dev-arm64-cross', folder: 'aarch64-linux-gnu' }, node: { arch: 'arm64', endian: 'LE' }, minClang: 14 , archMacros: ['__aarch64__'] },
  { name: 'arm', zeroWidthBitFieldAligns: true, endian: 'little', charSigned: false, scalars: scalars('ILP32', { 'long double': { size: 8, align: 8 } }), maxAlign: 8,
    ioc: GENERIC_IOC, clangTarget: 'armv7a-linux-gnueabihf', debianTriplet: 'arm-linux-gnueabihf', glibcCross: { package: 'libc6-dev-armhf-cross', folder: 'arm-linux-gnueabihf' }, node: { arch: 'arm', endian: 'LE' }, minClang: 14 , archMacros: ['__arm__', '__ARM_EABI__', '__ARMEL__'] },
  { name: 'ppc64le', endian: 'little', charSigned: false, scalars: scalars('LP64'), maxAlign: 16, ioc: THREE_DIR_BIT_IOC,
    clangTarget: 'powerpc64le-linux-gnu', debianTriplet: 'powerpc64le-linux-gnu', glibcCross: { package: 'libc6-dev-ppc64el-cross', folder: 'powerpc64le-linux-gnu' }, node: { arch: 'ppc64', endian: 'LE' }, minClang: 14 , archMacros: ['__powerpc__', '__powerpc64__', '__PPC__', '__PPC64__', '__ppc64__'] },
  { name: 'ppc64', endian: 'big', charSigned: false, scalars: scalars('LP64'), maxAlign: 16, ioc: THREE_DIR_BIT_IOC,
    clangTarget: 'powerpc64-linux-gnu', debianTriplet: 'powerpc64-linux-gnu', glibcCross: { package: 'libc6-dev-ppc64-cross', folder: 'powerpc64-linux-gnu' }, node: { arch: 'ppc64', endian: 'BE' }, minClang: 14 , archMacros: ['__powerpc__', '__powerpc64__', '__PPC__', '__PPC64__', '__ppc64__'] },
  { name: 'ppc', endian: 'big', charSigned: false, scalars: scalars('ILP32'), maxAlign: 16, ioc: THREE_DIR_BIT_IOC,
    clangTarget: 'powerpc-linux-gnu', debianTriplet: 'powerpc-linux-gnu', glibcCross: { package: 'libc6-dev-powerpc-cross', folder: 'powerpc-linux-gnu' }, node: { arch: 'ppc', endian: 'BE' }, minClang: 14 , archMacros: ['__powerpc__', '__PPC__', '__ppc__'] },
  { name: 's390x', endian: 'big', charSigned: false, scalars: scalars('LP64', { 'long double': { size: 16, align: 8 }, __int128: { size: 16, align: 8 } }), maxAlign: 8,
    ioc: GENERIC_IOC, clangTarget: 's390x-linux-gnu', debianTriplet: 's390x-linux-gnu', glibcCross: { package: 'libc6-dev-s390x-cross', folder: 's390x-linux-gnu' }, node: { arch: 's390x', endian: 'BE' }, minClang: 14 , archMacros: ['__s390__', '__s390x__'] },
  { name: 'riscv64', endian: 'little', charSigned: false, scalars: scalars('LP64'), maxAlign: 16, ioc: GENERIC_IOC,
    clangTarget: 'riscv64-linux-gnu', debianTriplet: 'riscv64-linux-gnu', glibcCross: { package: 'libc6-dev-riscv64-cross', folder: 'riscv64-linux-gnu' }, node: { arch: 'riscv64', endian: 'LE' }, minClang: 14 , archMacros: ['__riscv'] },
  { name: 'mips64el', endian: 'little', charSigned: true, scalars: scalars('LP64'), maxAlign: 16, ioc: THREE_DIR_BIT_IOC,
    clangTarget: 'mips64el-linux-gnuabi64', debianTriplet: 'mips64el-linux-gnuabi64', glibcCross: { package: 'libc6-dev-mips64el-cross', folder: 'mips64el-linux-gnuabi64' }, node: { arch: 'mips64el', endian: 'LE' }, minClang: 14 , archMacros: ['__mips__', '__mips64', '__MIPSEL__', '_MIPS_SIM_ABI64', '_ABI64=3', '_MIPS_SIM=_ABI64', '_MIPS_SZLONG=64', '_MIPS_SZPTR=64', '_MIPS_SZINT=32'] },
  // clang gives a bare `aligned` 16 bytes on o32, though __BIGGEST_ALIGNMENT__ is 8 there; clang is our authority.
  { name: 'mips', endian: 'big', charSigned: true, scalars: scalars('ILP32', { 'long double': { size: 8, align: 8 } }), maxAlign: 16,
    ioc: THREE_DIR_BIT_IOC, clangTarget: 'mips-linux-gnu', debianTriplet: 'mips-linux-gnu', glibcCross: { package: 'libc6-dev-mips-cross', folder: 'mips-linux-gnu' }, node: { arch: 'mips', endian: 'BE' }, minClang: 14 , archMacros: ['__mips__', '__MIPSEB__', '_ABIO32=1', '_MIPS_SIM=_ABIO32', '_MIPS_SZLONG=32', '_MIPS_SZPTR=32', '_MIPS_SZINT=32'] },
  { name: 'sparc64', endian: 'big', charSigned: true, scalars: scalars('LP64'), maxAlign: 16, ioc: THREE_DIR_BIT_IOC,
    clangTarget: 'sparc64-linux-gnu', debianTriplet: 'sparc64-linux-gnu', glibcCross: { package: 'libc6-dev-sparc64-cross', folder: 'sparc64-linux-gnu' }, minClang: 14 , archMacros: ['__sparc__', '__sparc64__', '__arch64__', '__sparc_v9__'] },
  { name: 'loongarch64', endian: 'little', charSigned: true, scalars: scalars('LP64'), maxAlign: 16, ioc: GENERIC_IOC,
    clangTarget: 'loongarch64-linux-gnu', debianTriplet: 'loongarch64-linux-gnu', node: { arch: 'loong64', endian: 'LE' }, minClang: 19 , archMacros: ['__loongarch__', '__loongarch64'] },
];

/**
 * What clang (C, GNU mode: `-std=gnu17`, its default) predefines the same way for every Linux ABI that
 * UAPI headers test (`#if defined(__linux__)` in drm.h, `#ifdef __GNUC__`...). An ABI-independent pass
 * sees these too; they do not make a header ABI-dependent.
 */
export const COMMON_PREDEFINES: Readonly<Record<string, string>> = {
  __linux__: '1', __linux: '1', linux: '1', __unix__: '1', __unix: '1', unix: '1', __gnu_linux__: '1', __ELF__: '1',
  __CHAR_BIT__: '8', __GNUC__: '4', __GNUC_MINOR__: '2', __GNUC_PATCHLEVEL__: '1',
  __STDC__: '1', __STDC_HOSTED__: '1', __STDC_VERSION__: '201710L',
  __ORDER_LITTLE_ENDIAN__: '1234', __ORDER_BIG_ENDIAN__: '4321', __ORDER_PDP_ENDIAN__: '3412',
  __SIZEOF_INT__: '4', __SIZEOF_SHORT__: '2', __SIZEOF_LONG_LONG__: '8',
};

/**
 * The macros a compiler predefines for `abi` that UAPI headers test in `#if`s: the
 * architecture, byte order and data model. Derived from the table, so they cannot
 * disagree with the layout.
 */
export function abiPredefines(abi: Abi): Record<string, string> {
  const m: Record<string, string> = {
    __SIZEOF_LONG__: String(abi.scalars.long.size),
    __SIZEOF_POINTER__: String(abi.scalars.pointer.size),
    __BYTE_ORDER__: abi.endian === 'little' ? '1234' : '4321',
    [abi.endian === 'little' ? '__LITTLE_ENDIAN__' : '__BIG_ENDIAN__']: '1',
    ...COMMON_PREDEFINES,
  };
  if (abi.scalars.long.size === 8) { m.__LP64__ = '1'; m._LP64 = '1'; } else m.__ILP32__ = '1';
  if (!abi.charSigned) m.__CHAR_UNSIGNED__ = '1';
  for (const a of abi.archMacros) {
    const eq = a.indexOf('=');
    if (eq < 0) m[a] = '1'; else m[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return m;
}

/** Every name any ABI predefines: a header whose `#if`s test one of these is ABI-dependent. */
export function abiSensitiveNames(): ReadonlySet<string> {
  // Asked for by every preprocessing pass (a sweep makes tens of thousands): computed once.
  return (sensitiveNames ??= new Set([...ABIS.flatMap((a) => Object.keys(abiPredefines(a)).filter((n) => !(n in COMMON_PREDEFINES))), '__BITS_PER_LONG', '__LITTLE_ENDIAN_BITFIELD', '__BIG_ENDIAN_BITFIELD', '__LITTLE_ENDIAN', '__BIG_ENDIAN']));
}
let sensitiveNames: ReadonlySet<string> | undefined;

/** Names of every ABI, in table order. */
export const ABI_NAMES: readonly string[] = ABIS.map((a) => a.name);

/** Looks an ABI up by name; throws with the list of valid names when there is none. */
export function abiByName(name: string): Abi {
  const abi = ABIS.find((a) => a.name === name);
  if (!abi) throw new Error(`unknown ABI '${name}'; expected one of: ${ABI_NAMES.join(', ')}`);
  return abi;
}

/** Parses `all` or a comma-separated list of ABI names. */
export function parseAbiList(spec: string): Abi[] {
  if (spec === 'all') return [...ABIS];
  return spec.split(',').map((s) => abiByName(s.trim()));
}

/**
 * The prefix of identifiers that stand for ABI-table values (`__vfio_uapi_abi_ioc_read`, ...): the
 * preprocessor's built-in headers write them, layout and analysis read them back from the table.
 */
export const ABI_BUILTIN_PREFIX = '__vfio_uapi_abi_';
