/**
 * The built-in libc model: what Linux UAPI headers take from the C library, as glibc 2.36 (Debian 12)
 * lays it out by default (no `_FILE_OFFSET_BITS`/`_TIME_BITS`, `_DEFAULT_SOURCE`) on each ABI.
 *
 * Only what UAPI headers use is here: fixed-width and `limits.h` integers, `size_t` and friends,
 * `struct timespec`/`timeval`/`timezone`/`itimerspec`/`itimerval`/`tm`, the POSIX `*_t` types of
 * `<sys/types.h>`, the byte-order macros of `<endian.h>`, `struct winsize` and the `_IO*` macros of
 * `<sys/ioctl.h>`, and `struct sockaddr`, `sockaddr_storage`, `sa_family_t`, `socklen_t` of
 * `<sys/socket.h>` with its `PF_*`, `AF_*`, `SOL_*`, `MSG_*` and `SOMAXCONN`. Function prototypes are left out (they do not change a layout). Guard macros
 * (`__timeval_defined`, `_STRUCT_TIMESPEC`, `_SYS_TIME_H`, ...) are glibc's, so the kernel's
 * `linux/libc-compat.h` and `#ifndef` tests see what they would see with glibc. A libc header not
 * here (`<netinet/in.h>`, `<net/if.h>`, ...) is not found: a located error, unless an include dir has it.
 *
 * Everything ABI-dependent is written with the ABI's predefined macros (`__SIZEOF_LONG__`,
 * `__CHAR_UNSIGNED__`, `__sparc__`), so a header that includes any of these is preprocessed per ABI.
 * `test/libc-model.test.ts` checks the model against clang compiling each ABI's real glibc headers
 * (Debian's `libc6-dev-<arch>-cross`).
 */

const FEATURES_H = `
#ifndef _FEATURES_H
#define _FEATURES_H 1
#define _DEFAULT_SOURCE 1
#define _POSIX_SOURCE 1
#define _POSIX_C_SOURCE 200809L
#define _ATFILE_SOURCE 1
#define __USE_ISOC11 1
#define __USE_ISOC99 1
#define __USE_ISOC95 1
#define __USE_POSIX 1
#define __USE_POSIX2 1
#define __USE_POSIX199309 1
#define __USE_POSIX199506 1
#define __USE_XOPEN2K 1
#define __USE_XOPEN2K8 1
#define __USE_ATFILE 1
#define __USE_MISC 1
#define __USE_FORTIFY_LEVEL 0
#define __GNU_LIBRARY__ 6
#define __GLIBC__ 2
#define __GLIBC_MINOR__ 36
#define __GLIBC_PREREQ(maj, min) ((__GLIBC__ << 16) + __GLIBC_MINOR__ >= ((maj) << 16) + (min))
#if __SIZEOF_LONG__ == 8
#define __WORDSIZE 64
#else
#define __WORDSIZE 32
#endif
#define __TIMESIZE __WORDSIZE
#endif
`;

/** glibc's bits/types.h, reduced to the types the headers below use. */
const BITS_TYPES_H = `
#ifndef _BITS_TYPES_H
#define _BITS_TYPES_H 1
#include <features.h>
typedef long __time_t;
typedef long __clock_t;
typedef int __clockid_t;
typedef void *__timer_t;
#if defined(__sparc__) && __SIZEOF_LONG__ == 8
typedef int __suseconds_t;
#else
typedef long __suseconds_t;
#endif
typedef long __syscall_slong_t;
typedef unsigned int __useconds_t;
typedef int __pid_t;
typedef unsigned int __uid_t;
typedef unsigned int __gid_t;
typedef unsigned int __mode_t;
typedef int __key_t;
typedef int __id_t;
typedef int __daddr_t;
typedef char *__caddr_t;
typedef unsigned int __socklen_t;
typedef long __off_t;
typedef long long __off64_t;
typedef long long __loff_t;
typedef unsigned long __ino_t;
typedef unsigned long long __dev_t;
typedef long __blksize_t;
typedef long __blkcnt_t;
typedef unsigned long __fsblkcnt_t;
typedef unsigned long __fsfilcnt_t;
typedef long __ssize_t;
#endif
`;

const STDDEF_H = `
#ifndef __vfio_uapi_libc_stddef
#define __vfio_uapi_libc_stddef
typedef unsigned long size_t;
typedef long ptrdiff_t;
typedef int wchar_t;
#define NULL ((void *)0)
#define offsetof(t, m) __builtin_offsetof(t, m)
#endif
`;

const STDINT_H = `
#ifndef _STDINT_H
#define _STDINT_H 1
#include <features.h>
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
#if __SIZEOF_LONG__ == 8
typedef long int64_t;
typedef unsigned long uint64_t;
typedef long int_fast16_t;
typedef long int_fast32_t;
typedef unsigned long uint_fast16_t;
typedef unsigned long uint_fast32_t;
#define __INT64_C(c) c ## L
#define __UINT64_C(c) c ## UL
#define SIZE_MAX (18446744073709551615UL)
#define INTPTR_MIN (-9223372036854775807L-1)
#define INTPTR_MAX (9223372036854775807L)
#define UINTPTR_MAX (18446744073709551615UL)
#define PTRDIFF_MIN (-9223372036854775807L-1)
#define PTRDIFF_MAX (9223372036854775807L)
#else
typedef long long int64_t;
typedef unsigned long long uint64_t;
typedef int int_fast16_t;
typedef int int_fast32_t;
typedef unsigned int uint_fast16_t;
typedef unsigned int uint_fast32_t;
#define __INT64_C(c) c ## LL
#define __UINT64_C(c) c ## ULL
#define SIZE_MAX (4294967295U)
#define INTPTR_MIN (-2147483647-1)
#define INTPTR_MAX (2147483647)
#define UINTPTR_MAX (4294967295U)
#define PTRDIFF_MIN (-2147483647-1)
#define PTRDIFF_MAX (2147483647)
#endif
typedef int8_t int_least8_t;
typedef int16_t int_least16_t;
typedef int32_t int_least32_t;
typedef int64_t int_least64_t;
typedef uint8_t uint_least8_t;
typedef uint16_t uint_least16_t;
typedef uint32_t uint_least32_t;
typedef uint64_t uint_least64_t;
typedef signed char int_fast8_t;
typedef unsigned char uint_fast8_t;
typedef int64_t int_fast64_t;
typedef uint64_t uint_fast64_t;
#ifndef __intptr_t_defined
typedef long intptr_t;
#define __intptr_t_defined
#endif
typedef unsigned long uintptr_t;
typedef int64_t intmax_t;
typedef uint64_t uintmax_t;
#define INT8_MIN (-128)
#define INT16_MIN (-32767-1)
#define INT32_MIN (-2147483647-1)
#define INT64_MIN (-__INT64_C(9223372036854775807)-1)
#define INT8_MAX (127)
#define INT16_MAX (32767)
#define INT32_MAX (2147483647)
#define INT64_MAX (__INT64_C(9223372036854775807))
#define UINT8_MAX (255)
#define UINT16_MAX (65535)
#define UINT32_MAX (4294967295U)
#define UINT64_MAX (__UINT64_C(18446744073709551615))
#define INTMAX_MIN (-__INT64_C(9223372036854775807)-1)
#define INTMAX_MAX (__INT64_C(9223372036854775807))
#define UINTMAX_MAX (__UINT64_C(18446744073709551615))
#define INT8_C(c) c
#define INT16_C(c) c
#define INT32_C(c) c
#define INT64_C(c) __INT64_C(c)
#define UINT8_C(c) c
#define UINT16_C(c) c
#define UINT32_C(c) c ## U
#define UINT64_C(c) __UINT64_C(c)
#endif
`;

const LIMITS_H = `
#ifndef _LIBC_LIMITS_H_
#define _LIBC_LIMITS_H_ 1
#include <features.h>
#define MB_LEN_MAX 16
#define CHAR_BIT 8
#define SCHAR_MAX 127
#define SCHAR_MIN (-SCHAR_MAX - 1)
#define UCHAR_MAX (SCHAR_MAX * 2 + 1)
#ifdef __CHAR_UNSIGNED__
#define CHAR_MIN 0
#define CHAR_MAX UCHAR_MAX
#else
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#endif
#define SHRT_MAX 32767
#define SHRT_MIN (-SHRT_MAX - 1)
#define USHRT_MAX (SHRT_MAX * 2 + 1)
#define INT_MAX 2147483647
#define INT_MIN (-INT_MAX - 1)
#define UINT_MAX (INT_MAX * 2U + 1U)
#if __SIZEOF_LONG__ == 8
#define LONG_MAX 9223372036854775807L
#else
#define LONG_MAX 2147483647L
#endif
#define LONG_MIN (-LONG_MAX - 1L)
#define ULONG_MAX (LONG_MAX * 2UL + 1UL)
#define LLONG_MAX 9223372036854775807LL
#define LLONG_MIN (-LLONG_MAX - 1LL)
#define ULLONG_MAX (LLONG_MAX * 2ULL + 1ULL)
#define SSIZE_MAX LONG_MAX
#endif
`;

const ENDIAN_H = `
#ifndef _ENDIAN_H
#define _ENDIAN_H 1
#include <features.h>
#define __LITTLE_ENDIAN 1234
#define __BIG_ENDIAN 4321
#define __PDP_ENDIAN 3412
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __BYTE_ORDER __BIG_ENDIAN
#else
#define __BYTE_ORDER __LITTLE_ENDIAN
#endif
#define __FLOAT_WORD_ORDER __BYTE_ORDER
#define LITTLE_ENDIAN __LITTLE_ENDIAN
#define BIG_ENDIAN __BIG_ENDIAN
#define PDP_ENDIAN __PDP_ENDIAN
#define BYTE_ORDER __BYTE_ORDER
#endif
`;

const TIME_TYPES = `
#include <bits/types.h>
#ifndef __time_t_defined
#define __time_t_defined 1
typedef __time_t time_t;
#endif
#ifndef _STRUCT_TIMESPEC
#define _STRUCT_TIMESPEC 1
struct timespec { __time_t tv_sec; __syscall_slong_t tv_nsec; };
#endif
#ifndef __timeval_defined
#define __timeval_defined 1
struct timeval { __time_t tv_sec; __suseconds_t tv_usec; };
#endif
#ifndef __suseconds_t_defined
#define __suseconds_t_defined
typedef __suseconds_t suseconds_t;
#endif
`;

const TIME_H = `
#ifndef _TIME_H
#define _TIME_H 1
#include <stddef.h>
${TIME_TYPES}
#ifndef __clock_t_defined
#define __clock_t_defined 1
typedef __clock_t clock_t;
#endif
#ifndef __clockid_t_defined
#define __clockid_t_defined 1
typedef __clockid_t clockid_t;
#endif
#ifndef __timer_t_defined
#define __timer_t_defined 1
typedef __timer_t timer_t;
#endif
#ifndef __pid_t_defined
#define __pid_t_defined
typedef __pid_t pid_t;
#endif
struct tm { int tm_sec; int tm_min; int tm_hour; int tm_mday; int tm_mon; int tm_year; int tm_wday; int tm_yday; int tm_isdst; long tm_gmtoff; const char *tm_zone; };
struct itimerspec { struct timespec it_interval; struct timespec it_value; };
#define CLOCKS_PER_SEC ((__clock_t) 1000000)
#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1
#endif
`;

const SYS_SELECT = `
#ifndef _SYS_SELECT_H
#define _SYS_SELECT_H 1
${TIME_TYPES}
typedef struct { unsigned long __val[1024 / (8 * sizeof (unsigned long))]; } __sigset_t;
typedef __sigset_t sigset_t;
typedef long __fd_mask;
#define __NFDBITS (8 * (int) sizeof (__fd_mask))
#define FD_SETSIZE 1024
typedef struct { __fd_mask __fds_bits[1024 / __NFDBITS]; } fd_set;
typedef __fd_mask fd_mask;
#define NFDBITS __NFDBITS
#endif
`;

const SYS_TIME_H = `
#ifndef _SYS_TIME_H
#define _SYS_TIME_H 1
#include <features.h>
${SYS_SELECT}
struct timezone { int tz_minuteswest; int tz_dsttime; };
struct itimerval { struct timeval it_interval; struct timeval it_value; };
#define ITIMER_REAL 0
#define ITIMER_VIRTUAL 1
#define ITIMER_PROF 2
#endif
`;

const SYS_TYPES_H = `
#ifndef _SYS_TYPES_H
#define _SYS_TYPES_H 1
#include <features.h>
#include <stddef.h>
#include <bits/types.h>
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef long long quad_t;
typedef unsigned long long u_quad_t;
typedef struct { int __val[2]; } fsid_t;
typedef __loff_t loff_t;
typedef __ino_t ino_t;
typedef __dev_t dev_t;
#ifndef __gid_t_defined
#define __gid_t_defined
typedef __gid_t gid_t;
#endif
typedef __mode_t mode_t;
#ifndef __uid_t_defined
#define __uid_t_defined
typedef __uid_t uid_t;
#endif
typedef __off_t off_t;
#ifndef __pid_t_defined
#define __pid_t_defined
typedef __pid_t pid_t;
#endif
typedef __id_t id_t;
#ifndef __ssize_t_defined
#define __ssize_t_defined
typedef __ssize_t ssize_t;
#endif
typedef __daddr_t daddr_t;
typedef __caddr_t caddr_t;
typedef __key_t key_t;
#ifndef __clock_t_defined
#define __clock_t_defined 1
typedef __clock_t clock_t;
#endif
#ifndef __clockid_t_defined
#define __clockid_t_defined 1
typedef __clockid_t clockid_t;
#endif
#ifndef __timer_t_defined
#define __timer_t_defined 1
typedef __timer_t timer_t;
#endif
typedef __useconds_t useconds_t;
typedef unsigned long ulong;
typedef unsigned short ushort;
typedef unsigned int uint;
#ifndef _STDINT_H
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
#if __SIZEOF_LONG__ == 8
typedef long int64_t;
#else
typedef long long int64_t;
#endif
#endif
typedef unsigned char u_int8_t;
typedef unsigned short u_int16_t;
typedef unsigned int u_int32_t;
typedef unsigned long long u_int64_t;
typedef long register_t;
typedef __blksize_t blksize_t;
typedef __blkcnt_t blkcnt_t;
typedef __fsblkcnt_t fsblkcnt_t;
typedef __fsfilcnt_t fsfilcnt_t;
#include <endian.h>
${SYS_SELECT}
#endif
`;

const SYS_IOCTL_H = `
#ifndef _SYS_IOCTL_H
#define _SYS_IOCTL_H 1
#include <features.h>
#include <linux/ioctl.h>
struct winsize { unsigned short ws_row; unsigned short ws_col; unsigned short ws_xpixel; unsigned short ws_ypixel; };
#endif
`;

const SYS_SOCKET_H = `
#ifndef _SYS_SOCKET_H
#define _SYS_SOCKET_H 1
#include <features.h>
#include <stddef.h>
#include <bits/types.h>
#ifndef __socklen_t_defined
typedef __socklen_t socklen_t;
#define __socklen_t_defined
#endif
typedef unsigned short sa_family_t;
#define __SOCKADDR_COMMON(sa_prefix) sa_family_t sa_prefix##family
#define __SOCKADDR_COMMON_SIZE (sizeof (unsigned short int))
#define _SS_SIZE 128
struct sockaddr { __SOCKADDR_COMMON (sa_); char sa_data[14]; };
struct sockaddr_storage { __SOCKADDR_COMMON (ss_); char __ss_padding[_SS_SIZE - __SOCKADDR_COMMON_SIZE - sizeof (unsigned long)]; unsigned long __ss_align; };
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov; size_t msg_iovlen; void *msg_control; size_t msg_controllen; int msg_flags; };
struct linger { int l_onoff; int l_linger; };
/* bits/socket.h includes bits/types/time_t.h (linux/vm_sockets.h uses sizeof(time_t)). */
#ifndef __time_t_defined
#define __time_t_defined 1
typedef __time_t time_t;
#endif
/* bits/socket.h's message flags (without _GNU_SOURCE's MSG_TRYHARD): linux/sctp.h's SCTP_EOF = MSG_FIN. */
enum { MSG_OOB = 0x01, MSG_PEEK = 0x02, MSG_DONTROUTE = 0x04, MSG_CTRUNC = 0x08, MSG_PROXY = 0x10, MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_EOR = 0x80, MSG_WAITALL = 0x100, MSG_FIN = 0x200, MSG_SYN = 0x400, MSG_CONFIRM = 0x800, MSG_RST = 0x1000, MSG_ERRQUEUE = 0x2000, MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000, MSG_WAITFORONE = 0x10000, MSG_BATCH = 0x40000, MSG_ZEROCOPY = 0x4000000, MSG_FASTOPEN = 0x20000000, MSG_CMSG_CLOEXEC = 0x40000000 };
#define MSG_OOB MSG_OOB
#define MSG_PEEK MSG_PEEK
#define MSG_DONTROUTE MSG_DONTROUTE
#define MSG_CTRUNC MSG_CTRUNC
#define MSG_PROXY MSG_PROXY
#define MSG_TRUNC MSG_TRUNC
#define MSG_DONTWAIT MSG_DONTWAIT
#define MSG_EOR MSG_EOR
#define MSG_WAITALL MSG_WAITALL
#define MSG_FIN MSG_FIN
#define MSG_SYN MSG_SYN
#define MSG_CONFIRM MSG_CONFIRM
#define MSG_RST MSG_RST
#define MSG_ERRQUEUE MSG_ERRQUEUE
#define MSG_NOSIGNAL MSG_NOSIGNAL
#define MSG_MORE MSG_MORE
#define MSG_WAITFORONE MSG_WAITFORONE
#define MSG_BATCH MSG_BATCH
#define MSG_ZEROCOPY MSG_ZEROCOPY
#define MSG_FASTOPEN MSG_FASTOPEN
#define MSG_CMSG_CLOEXEC MSG_CMSG_CLOEXEC
/* bits/socket.h's protocol and address families, socket levels (the same on every ABI); UAPI headers
   define some of them under #ifndef (linux/if_pppox.h's AF_PPPOX). */
#define PF_UNSPEC 0
#define PF_LOCAL 1
#define PF_UNIX PF_LOCAL
#define PF_FILE PF_LOCAL
#define PF_INET 2
#define PF_AX25 3
#define PF_IPX 4
#define PF_APPLETALK 5
#define PF_NETROM 6
#define PF_BRIDGE 7
#define PF_ATMPVC 8
#define PF_X25 9
#define PF_INET6 10
#define PF_ROSE 11
#define PF_DECnet 12
#define PF_NETBEUI 13
#define PF_SECURITY 14
#define PF_KEY 15
#define PF_NETLINK 16
#define PF_ROUTE PF_NETLINK
#define PF_PACKET 17
#define PF_ASH 18
#define PF_ECONET 19
#define PF_ATMSVC 20
#define PF_RDS 21
#define PF_SNA 22
#define PF_IRDA 23
#define PF_PPPOX 24
#define PF_WANPIPE 25
#define PF_LLC 26
#define PF_IB 27
#define PF_MPLS 28
#define PF_CAN 29
#define PF_TIPC 30
#define PF_BLUETOOTH 31
#define PF_IUCV 32
#define PF_RXRPC 33
#define PF_ISDN 34
#define PF_PHONET 35
#define PF_IEEE802154 36
#define PF_CAIF 37
#define PF_ALG 38
#define PF_NFC 39
#define PF_VSOCK 40
#define PF_KCM 41
#define PF_QIPCRTR 42
#define PF_SMC 43
#define PF_XDP 44
#define PF_MCTP 45
#define PF_MAX 46
#define AF_UNSPEC PF_UNSPEC
#define AF_LOCAL PF_LOCAL
#define AF_UNIX PF_UNIX
#define AF_FILE PF_FILE
#define AF_INET PF_INET
#define AF_AX25 PF_AX25
#define AF_IPX PF_IPX
#define AF_APPLETALK PF_APPLETALK
#define AF_NETROM PF_NETROM
#define AF_BRIDGE PF_BRIDGE
#define AF_ATMPVC PF_ATMPVC
#define AF_X25 PF_X25
#define AF_INET6 PF_INET6
#define AF_ROSE PF_ROSE
#define AF_DECnet PF_DECnet
#define AF_NETBEUI PF_NETBEUI
#define AF_SECURITY PF_SECURITY
#define AF_KEY PF_KEY
#define AF_NETLINK PF_NETLINK
#define AF_ROUTE PF_ROUTE
#define AF_PACKET PF_PACKET
#define AF_ASH PF_ASH
#define AF_ECONET PF_ECONET
#define AF_ATMSVC PF_ATMSVC
#define AF_RDS PF_RDS
#define AF_SNA PF_SNA
#define AF_IRDA PF_IRDA
#define AF_PPPOX PF_PPPOX
#define AF_WANPIPE PF_WANPIPE
#define AF_LLC PF_LLC
#define AF_IB PF_IB
#define AF_MPLS PF_MPLS
#define AF_CAN PF_CAN
#define AF_TIPC PF_TIPC
#define AF_BLUETOOTH PF_BLUETOOTH
#define AF_IUCV PF_IUCV
#define AF_RXRPC PF_RXRPC
#define AF_ISDN PF_ISDN
#define AF_PHONET PF_PHONET
#define AF_IEEE802154 PF_IEEE802154
#define AF_CAIF PF_CAIF
#define AF_ALG PF_ALG
#define AF_NFC PF_NFC
#define AF_VSOCK PF_VSOCK
#define AF_KCM PF_KCM
#define AF_QIPCRTR PF_QIPCRTR
#define AF_SMC PF_SMC
#define AF_XDP PF_XDP
#define AF_MCTP PF_MCTP
#define AF_MAX PF_MAX
#define SOL_RAW 255
#define SOL_DECNET 261
#define SOL_X25 262
#define SOL_PACKET 263
#define SOL_ATM 264
#define SOL_AAL 265
#define SOL_IRDA 266
#define SOL_NETBEUI 267
#define SOL_LLC 268
#define SOL_DCCP 269
#define SOL_NETLINK 270
#define SOL_TIPC 271
#define SOL_RXRPC 272
#define SOL_PPPOL2TP 273
#define SOL_BLUETOOTH 274
#define SOL_PNPIPE 275
#define SOL_RDS 276
#define SOL_IUCV 277
#define SOL_CAIF 278
#define SOL_ALG 279
#define SOL_NFC 280
#define SOL_KCM 281
#define SOL_TLS 282
#define SOL_XDP 283
#define SOL_MPTCP 284
#define SOL_MCTP 285
#define SOL_SMC 286
#define SOMAXCONN 4096
#endif
`;

const UNISTD_H = `
#ifndef _UNISTD_H
#define _UNISTD_H 1
#include <features.h>
#include <sys/types.h>
#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2
#define R_OK 4
#define W_OK 2
#define X_OK 1
#define F_OK 0
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#endif
`;

const STRING_H = `
#ifndef _STRING_H
#define _STRING_H 1
#include <features.h>
#include <stddef.h>
#endif
`;

const STDLIB_H = `
#ifndef _STDLIB_H
#define _STDLIB_H 1
#include <features.h>
#include <stddef.h>
#define EXIT_FAILURE 1
#define EXIT_SUCCESS 0
#define RAND_MAX 2147483647
#endif
`;

/** The libc model's headers by include name. */
export const LIBC_HEADERS: ReadonlyMap<string, string> = new Map([
  ['features.h', FEATURES_H],
  ['bits/types.h', BITS_TYPES_H],
  ['stddef.h', STDDEF_H],
  ['stdint.h', STDINT_H],
  ['limits.h', LIMITS_H],
  ['endian.h', ENDIAN_H],
  ['time.h', TIME_H],
  ['sys/time.h', SYS_TIME_H],
  ['sys/select.h', SYS_SELECT],
  ['sys/types.h', SYS_TYPES_H],
  ['sys/ioctl.h', SYS_IOCTL_H],
  ['sys/socket.h', SYS_SOCKET_H],
  ['unistd.h', UNISTD_H],
  ['string.h', STRING_H],
  ['stdlib.h', STDLIB_H],
]);
