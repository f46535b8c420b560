/**
 * The built-in include table: what UAPI headers take from `<linux/types.h>`,
 * `<linux/ioctl.h>`, `<linux/const.h>` and `<linux/stddef.h>`, written as small C
 * headers that the preprocessor reads like any other file.
 *
 * These are our own definitions with the kernel's meaning (checked against clang
 * compiling the real headers, by the oracle test); they keep the generator free of
 * any download. Everything ABI-dependent is a `__vfio_uapi_abi_*` identifier that
 * the per-ABI evaluator resolves from the ABI table:
 * `_IOC_SIZEBITS`, `_IOC_DIRBITS`, `_IOC_NONE`, `_IOC_READ`, `_IOC_WRITE`.
 */

import { LIBC_HEADERS } from './libc.js';

const TYPES_H = `
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H
#include <asm/bitsperlong.h>
typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;
typedef __u16 __le16;
typedef __u16 __be16;
typedef __u32 __le32;
typedef __u32 __be32;
typedef __u64 __le64;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;
typedef unsigned __poll_t;
/* The kernel spells these as macros adding aligned(8); typedefs keep their names for readers. */
typedef __u64 __aligned_u64 __attribute__((aligned(8)));
typedef __be64 __aligned_be64 __attribute__((aligned(8)));
typedef __le64 __aligned_le64 __attribute__((aligned(8)));
typedef signed long long __aligned_s64 __attribute__((aligned(8)));
typedef long __kernel_long_t;
typedef unsigned long __kernel_ulong_t;
typedef int __kernel_pid_t;
typedef unsigned int __kernel_uid32_t;
typedef unsigned int __kernel_gid32_t;
typedef unsigned int __kernel_uid_t;
typedef unsigned int __kernel_gid_t;
typedef int __kernel_ipc_pid_t;
typedef unsigned int __kernel_mode_t;
typedef int __kernel_daddr_t;
typedef unsigned long __kernel_size_t;
typedef long __kernel_ssize_t;
typedef long __kernel_ptrdiff_t;
typedef long __kernel_off_t;
typedef long long __kernel_loff_t;
typedef long long __kernel_time64_t;
typedef long __kernel_time_t;
typedef long __kernel_clock_t;
typedef int __kernel_timer_t;
typedef int __kernel_clockid_t;
typedef char * __kernel_caddr_t;
typedef unsigned short __kernel_uid16_t;
typedef unsigned short __kernel_gid16_t;
typedef long __kernel_old_time_t;
typedef unsigned short __kernel_old_uid_t;
typedef unsigned short __kernel_old_gid_t;
typedef unsigned int __kernel_old_dev_t;
typedef long __kernel_suseconds_t;
typedef int __kernel_key_t;
typedef int __kernel_mqd_t;
typedef unsigned int __kernel_ino_t;
typedef struct { int val[2]; } __kernel_fsid_t;
#define __bitwise
#define __force
#endif
`;

const IOCTL_H = `
#ifndef _LINUX_IOCTL_H
#define _LINUX_IOCTL_H
#define _IOC_NRBITS 8
#define _IOC_TYPEBITS 8
#define _IOC_SIZEBITS __vfio_uapi_abi_ioc_sizebits
#define _IOC_DIRBITS __vfio_uapi_abi_ioc_dirbits
#define _IOC_NRMASK ((1 << _IOC_NRBITS)-1)
#define _IOC_TYPEMASK ((1 << _IOC_TYPEBITS)-1)
#define _IOC_SIZEMASK ((1 << _IOC_SIZEBITS)-1)
#define _IOC_DIRMASK ((1 << _IOC_DIRBITS)-1)
#define _IOC_NRSHIFT 0
#define _IOC_TYPESHIFT (_IOC_NRSHIFT+_IOC_NRBITS)
#define _IOC_SIZESHIFT (_IOC_TYPESHIFT+_IOC_TYPEBITS)
#define _IOC_DIRSHIFT (_IOC_SIZESHIFT+_IOC_SIZEBITS)
#define _IOC_NONE __vfio_uapi_abi_ioc_none
#define _IOC_READ __vfio_uapi_abi_ioc_read
#define _IOC_WRITE __vfio_uapi_abi_ioc_write
#define _IOC(dir,type,nr,size) (((dir) << _IOC_DIRSHIFT) | ((type) << _IOC_TYPESHIFT) | ((nr) << _IOC_NRSHIFT) | ((size) << _IOC_SIZESHIFT))
#define _IOC_TYPECHECK(t) (sizeof(t))
#define _IO(type,nr) _IOC(_IOC_NONE,(type),(nr),0)
#define _IOR(type,nr,size) _IOC(_IOC_READ,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOW(type,nr,size) _IOC(_IOC_WRITE,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOWR(type,nr,size) _IOC(_IOC_READ|_IOC_WRITE,(type),(nr),(_IOC_TYPECHECK(size)))
#define _IOR_BAD(type,nr,size) _IOC(_IOC_READ,(type),(nr),sizeof(size))
#define _IOW_BAD(type,nr,size) _IOC(_IOC_WRITE,(type),(nr),sizeof(size))
#define _IOWR_BAD(type,nr,size) _IOC(_IOC_READ|_IOC_WRITE,(type),(nr),sizeof(size))
#define _IOC_DIR(nr) (((nr) >> _IOC_DIRSHIFT) & _IOC_DIRMASK)
#define _IOC_TYPE(nr) (((nr) >> _IOC_TYPESHIFT) & _IOC_TYPEMASK)
#define _IOC_NR(nr) (((nr) >> _IOC_NRSHIFT) & _IOC_NRMASK)
#define _IOC_SIZE(nr) (((nr) >> _IOC_SIZESHIFT) & _IOC_SIZEMASK)
#define IOC_IN (_IOC_WRITE << _IOC_DIRSHIFT)
#define IOC_OUT (_IOC_READ << _IOC_DIRSHIFT)
#define IOC_INOUT ((_IOC_WRITE|_IOC_READ) << _IOC_DIRSHIFT)
#define IOCSIZE_MASK (_IOC_SIZEMASK << _IOC_SIZESHIFT)
#define IOCSIZE_SHIFT (_IOC_SIZESHIFT)
#endif
`;

const CONST_H = `
#ifndef _LINUX_CONST_H
#define _LINUX_CONST_H
#define __AC(X,Y) (X##Y)
#define _AC(X,Y) __AC(X,Y)
#define _AT(T,X) ((T)(X))
#define _UL(x) (_AC(x, UL))
#define _ULL(x) (_AC(x, ULL))
#define _BITUL(x) (_UL(1) << (x))
#define _BITULL(x) (_ULL(1) << (x))
#define __ALIGN_KERNEL(x, a) __ALIGN_KERNEL_MASK(x, (__typeof__(x))(a) - 1)
#define __ALIGN_KERNEL_MASK(x, mask) (((x) + (mask)) & ~(mask))
#define __KERNEL_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#endif
`;

const STDDEF_H = `
#ifndef _LINUX_STDDEF_H
#define _LINUX_STDDEF_H
#define __struct_group_tag(TAG) TAG
#define __struct_group(TAG, NAME, ATTRS, MEMBERS...) \\
	union { \\
		struct { MEMBERS } ATTRS; \\
		struct __struct_group_tag(TAG) { MEMBERS } ATTRS NAME; \\
	} ATTRS
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) \\
	struct { \\
		struct { } __empty_ ## NAME; \\
		TYPE NAME[]; \\
	}
#define __counted_by(m)
#define __counted_by_le(m)
#define __counted_by_be(m)
#define __kernel_nonstring
#endif
`;

/* ABI-dependent: a header that uses these is preprocessed once per ABI (see abiPredefines). */
const BITSPERLONG_H = `
#ifndef __ASM_GENERIC_BITS_PER_LONG
#define __ASM_GENERIC_BITS_PER_LONG
#if __SIZEOF_LONG__ == 8
#define __BITS_PER_LONG 64
#else
#define __BITS_PER_LONG 32
#endif
#define __BITS_PER_LONG_LONG 64
#endif
`;

const BYTEORDER_H = `
#ifndef _ASM_BYTEORDER_H
#define _ASM_BYTEORDER_H
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __BIG_ENDIAN 4321
#define __BIG_ENDIAN_BITFIELD
#else
#define __LITTLE_ENDIAN 1234
#define __LITTLE_ENDIAN_BITFIELD
#endif
#endif
`;

/** GCC's alternative keyword spellings, which tree-sitter-c does not know. */
const COMPILER_H = `
#define __volatile__ volatile
#define __volatile volatile
#define __const__ const
#define __const const
#define __inline__ inline
#define __inline inline
#define __restrict__ restrict
#define __restrict restrict
#define __signed__ signed
#define __signed signed
#define __extension__
#define __asm__ asm
`;

/** Built-in headers by include name (the kernel's, then the libc model's). */
export const BUILTIN_HEADERS: ReadonlyMap<string, string> = new Map([
  ...LIBC_HEADERS,
  ['linux/types.h', TYPES_H],
  ['asm/types.h', TYPES_H],
  ['linux/posix_types.h', TYPES_H],
  ['asm/posix_types.h', TYPES_H],
  ['asm-generic/int-ll64.h', TYPES_H],
  ['linux/ioctl.h', IOCTL_H],
  ['asm/ioctl.h', IOCTL_H],
  ['asm-generic/ioctl.h', IOCTL_H],
  ['linux/const.h', CONST_H],
  ['linux/stddef.h', STDDEF_H],
  ['<compiler>', COMPILER_H],
  ['asm/bitsperlong.h', BITSPERLONG_H],
  ['asm-generic/bitsperlong.h', BITSPERLONG_H],
  ['asm/byteorder.h', BYTEORDER_H],
]);

/** Built-ins written per ABI (`#if`s on its predefined macros): a header that includes one is preprocessed per ABI. */
export const ABI_DEPENDENT_BUILTINS: ReadonlySet<string> = new Set(LIBC_HEADERS.keys());

/** Headers read before the main file, so that `_IO*` and `__u32` work even where the header forgot its includes. */
export const IMPLICIT_INCLUDES: readonly string[] = ['<compiler>', 'linux/types.h', 'linux/ioctl.h', 'linux/stddef.h', 'linux/const.h'];

