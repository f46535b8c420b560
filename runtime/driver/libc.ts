/**
 * Bindings to the few glibc functions the runtime needs: through koffi where
 * koffi has a build for the running architecture, else (ppc64le, s390x)
 * through the Node-API addon of `native/syscalls.c` named by
 * `$VFIO_UAPI_SYSCALLS_ADDON` (the VM harness builds it for the guest).
 *
 * Nothing is loaded at import time: {@link libc} loads the backend on
 * first use, so importing the runtime works on any platform and only calling
 * into it fails (with a {@link VfioError}) where there is no Linux glibc.
 *
 * Raw functions return what libc returns (`-1` on failure); read {@link errno}
 * immediately after a failed call, before any other libc call, or use
 * {@link check}, which does exactly that.
 *
 * ABI notes:
 * - `ioctl(int, unsigned long, ...)` and `open(const char *, int, ...)` are
 *   variadic in C. They are bound as fixed prototypes (pointer / integer third
 *   argument), which is call-compatible for integer and pointer arguments on the
 *   Linux ABIs koffi supports (x86_64 SysV: koffi always sets `%al`; aarch64,
 *   riscv64: variadic integers use the same registers as fixed ones).
 * - `pread64`/`pwrite64`/`mmap64` take a 64-bit `off_t` on every glibc target.
 * - The flag constants below are the x86_64 and asm-generic (aarch64, riscv64)
 *   values; alpha, mips, parisc, powerpc and sparc differ for some of them.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';
import { SyscallError, VfioError } from './errors.js';

/** An opaque native pointer as koffi represents it (a V8 External), or `null`. */
export type NativePointer = unknown;

/** Memory libc may read or write: a typed array (its own bytes, honouring `byteOffset`) or a native pointer. */
export type BufferArg = Uint8Array | NativePointer;

/** The libc functions the runtime uses, bound with koffi. Each returns libc's raw result. */
export interface Libc {
  /** `ioctl(fd, request, void *arg)`. */
  ioctlPointer(fd: number, request: number, arg: BufferArg): number;
  /** `ioctl(fd, request, unsigned long arg)`; also used for ioctls without an argument (pass 0). */
  ioctlValue(fd: number, request: number, arg: number | bigint): number;
  /** `open(path, flags, mode)`. */
  open(path: string, flags: number, mode: number): number;
  /** `close(fd)`. */
  close(fd: number): number;
  /** `read(fd, buf, count)`. */
  read(fd: number, buf: BufferArg, count: number): number;
  /** `write(fd, buf, count)`. */
  write(fd: number, buf: BufferArg, count: number): number;
  /** `pread64(fd, buf, count, offset)`. */
  pread(fd: number, buf: BufferArg, count: number, offset: number | bigint): number;
  /** `pwrite64(fd, buf, count, offset)`. */
  pwrite(fd: number, buf: BufferArg, count: number, offset: number | bigint): number;
  /** `mmap64(addr, length, prot, flags, fd, offset)`; failure is {@link MAP_FAILED}, not `null`. */
  mmap(addr: NativePointer, length: number, prot: number, flags: number, fd: number, offset: number | bigint): NativePointer;
  /** `munmap(addr, length)`. */
  munmap(addr: NativePointer, length: number): number;
  /** `eventfd(initval, flags)`. */
  eventfd(initval: number, flags: number): number;
  /** `poll(fds, nfds, timeout)` with `fds` an array of `struct pollfd { int fd; short events; short revents; }`. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /** `poll` run on a koffi worker thread; errno of a failed call is not observable. */
  pollAsync(fds: Uint8Array, nfds: number, timeoutMs: number): Promise<number>;
  /** `sysconf(name)`. */
  sysconf(name: number): number;
  /** `pipe2(fds, flags)`: fills `fds[0]` (read end) and `fds[1]` (write end). */
  pipe2(fds: Int32Array, flags: number): number;
  /** `memfd_create(name, flags)` (glibc ≥ 2.27). */
  memfdCreate(name: string, flags: number): number;
  /** `ftruncate64(fd, length)`. */
  ftruncate(fd: number, length: number | bigint): number;
}

/** `open` flags (x86_64 / asm-generic values). */
export const O_RDONLY = 0o0;
/** @see O_RDONLY */
export const O_WRONLY = 0o1;
/** @see O_RDONLY */
export const O_RDWR = 0o2;
/** @see O_RDONLY */
export const O_CREAT = 0o100;
/** @see O_RDONLY */
export const O_EXCL = 0o200;
/** @see O_RDONLY */
export const O_NOCTTY = 0o400;
/** @see O_RDONLY */
export const O_TRUNC = 0o1000;
/** @see O_RDONLY */
export const O_NONBLOCK = 0o4000;
/** @see O_RDONLY */
export const O_CLOEXEC = 0o2000000;

/** `mmap` protection bits. */
export const PROT_NONE = 0x0;
/** @see PROT_NONE */
export const PROT_READ = 0x1;
/** @see PROT_NONE */
export const PROT_WRITE = 0x2;
/** `mmap` flags (x86_64 / asm-generic values). */
export const MAP_SHARED = 0x01;
/** @see MAP_SHARED */
export const MAP_PRIVATE = 0x02;
/** @see MAP_SHARED */
export const MAP_ANONYMOUS = 0x20;
/** @see MAP_SHARED */
/** `MAP_FIXED`: place the mapping exactly at `addr`, replacing what was there. */
export const MAP_FIXED = 0x10;
/** `MAP_NORESERVE`: no swap reserved. */
export const MAP_NORESERVE = 0x4000;
export const MAP_LOCKED = 0x2000;
/** @see MAP_SHARED */
export const MAP_POPULATE = 0x8000;
/** @see MAP_SHARED (the same value on powerpc) */
export const MAP_HUGETLB = 0x40000;
/** The address `mmap` returns on failure, `(void *)-1`. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** `eventfd` flags. */
export const EFD_SEMAPHORE = 0o1;
/** @see EFD_SEMAPHORE */
export const EFD_CLOEXEC = O_CLOEXEC;
/** @see EFD_SEMAPHORE */
export const EFD_NONBLOCK = O_NONBLOCK;

/** `poll` event bits. */
export const POLLIN = 0x1;
/** @see POLLIN */
export const POLLOUT = 0x4;
/** @see POLLIN */
export const POLLERR = 0x8;
/** @see POLLIN */
export const POLLHUP = 0x10;
/** @see POLLIN */
export const POLLNVAL = 0x20;

/** `memfd_create` flags. */
export const MFD_CLOEXEC = 0x1;

/** `sysconf(_SC_PAGESIZE)`. */
export const SC_PAGESIZE = 30;

let koffiModule: typeof KoffiModule | undefined;
let koffiError: Error | undefined;
let bound: Backend | undefined;

/** Environment variable naming the Node-API system-call addon (runtime/native/syscalls.c) for architectures koffi has no build for. */
export const SYSCALLS_ADDON_ENV = 'VFIO_UAPI_SYSCALLS_ADDON';

/** What the runtime's system calls go through: koffi where it has a build for this architecture, else the Node-API addon. */
export type SyscallBackendName = 'koffi' | 'napi';

interface Backend {
  name: SyscallBackendName;
  libc: Libc;
  errno(): number;
  address(pointer: NativePointer): bigint;
  view(pointer: NativePointer, size: number): ArrayBuffer;
}

/** The koffi module, loaded on first use. Throws {@link VfioError} off Linux or where koffi has no build for this architecture. */
export function koffi(): typeof KoffiModule {
  if (koffiModule === undefined) {
    if (process.platform !== 'linux') {
      throw new VfioError(`the VFIO runtime needs Linux (this is ${process.platform})`);
    }
    if (koffiError) throw koffiError;
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
    } catch (cause) {
      koffiError = (cause as { code?: string }).code === 'MODULE_NOT_FOUND'
        ? new VfioError('the runtime\'s system calls need koffi, an optional dependency of vfio-uapi that is not installed (npm install koffi); decoding and encoding do not', { cause })
        : new VfioError(`koffi cannot load on ${process.arch}: ${(cause as Error).message}`, { cause });
      throw koffiError;
    }
  }
  return koffiModule;
}

/** The libc bindings, loaded on first use. Throws {@link VfioError} off Linux or without glibc. */
export function libc(): Libc {
  return backend().libc;
}

/** Which backend the system calls go through (loading it). */
export function syscallBackend(): SyscallBackendName {
  return backend().name;
}

function backend(): Backend {
  if (bound !== undefined) return bound;
  let k: typeof KoffiModule;
  try {
    k = koffi();
  } catch (cause) {
    const addon = process.env[SYSCALLS_ADDON_ENV];
    if (!addon || process.platform !== 'linux') throw cause;
    bound = napiBackend(addon);
    return bound;
  }
  bound = koffiBackend(k);
  return bound;
}

function koffiBackend(k: typeof KoffiModule): Backend {
  let lib: KoffiModule.IKoffiLib;
  try {
    lib = k.load('libc.so.6');
  } catch (cause) {
    throw new VfioError(`cannot load libc.so.6: ${(cause as Error).message}`, { cause });
  }
  const poll = lib.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const libcFns: Libc = {
    ioctlPointer: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctlValue: lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    open: lib.func('int open(const char *path, int flags, uint32_t mode)'),
    close: lib.func('int close(int fd)'),
    read: lib.func('intptr_t read(int fd, void *buf, size_t count)'),
    write: lib.func('intptr_t write(int fd, const void *buf, size_t count)'),
    pread: lib.func('intptr_t pread64(int fd, void *buf, size_t count, int64_t offset)'),
    pwrite: lib.func('intptr_t pwrite64(int fd, const void *buf, size_t count, int64_t offset)'),
    mmap: lib.func('void *mmap64(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: lib.func('int munmap(void *addr, size_t length)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    poll,
    pollAsync: (fds, nfds, timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        poll.async(fds, nfds, timeoutMs, (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
      }),
    sysconf: lib.func('long sysconf(int name)'),
    pipe2: lib.func('int pipe2(void *fds, int flags)'),
    memfdCreate: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    ftruncate: lib.func('int ftruncate64(int fd, int64_t length)'),
  };
  return {
    name: 'koffi',
    libc: libcFns,
    errno: () => k.errno(),
    address: (pointer) => k.address(pointer),
    view: (pointer, size) => k.view(pointer, size),
  };
}

/** The addon's exports: the {@link Libc} functions with BigInt addresses as pointers, plus errno and view. */
interface SyscallsAddon extends Omit<Libc, 'pollAsync'> {
  pollAsync(fds: Uint8Array, nfds: number, timeoutMs: number, callback: (err: unknown, result: number) => void): void;
  errno(): number;
  view(address: bigint, size: number): ArrayBuffer;
}

function napiBackend(file: string): Backend {
  let addon: SyscallsAddon;
  try {
    addon = createRequire(import.meta.url)(file) as SyscallsAddon;
  } catch (cause) {
    throw new VfioError(`koffi has no build for ${process.arch} and the system-call addon ${file} (${SYSCALLS_ADDON_ENV}) does not load: ${(cause as Error).message}`, { cause });
  }
  return {
    name: 'napi',
    libc: {
      ...addon,
      pollAsync: (fds, nfds, timeoutMs) =>
        new Promise<number>((resolve, reject) => addon.pollAsync(fds, nfds, timeoutMs, (err, res) => (err ? reject(err) : resolve(res)))),
    },
    errno: () => addon.errno(),
    address: (pointer) => (typeof pointer === 'bigint' ? pointer : BigInt(pointer as number)),
    view: (pointer, size) => addon.view(pointer as bigint, size),
  };
}

/** Arguments up to this size go through {@link ioctlBytes}'s native scratch buffer. */
const SCRATCH_SIZE = 4096;
let scratch: { pointer: NativePointer; address: number; bytes: Uint8Array } | undefined;

/**
 * `ioctl(fd, request, bytes)`, the kernel reading and writing `bytes` in place; libc's raw result.
 *
 * koffi passes an integer argument for about half the cost of a typed array (measured by
 * `npm run bench:ioctl`: it pins and translates the array on every call), so an argument of up to
 * 4 KiB is copied into a native scratch buffer allocated once, passed by its address as an
 * `unsigned long`, and copied back: the same bytes, the same length, in and out.
 */
export function ioctlBytes(fd: number, request: number, bytes: Uint8Array): number {
  const n = bytes.byteLength;
  // The scratch path is koffi's (its integer binding); the Node-API addon passes the array directly.
  if (n > SCRATCH_SIZE || backend().name !== 'koffi') return libc().ioctlPointer(fd, request, bytes);
  if (scratch === undefined) {
    const k = koffi();
    const pointer = k.alloc('uint8_t', SCRATCH_SIZE);
    scratch = { pointer, address: Number(k.address(pointer)), bytes: new Uint8Array(k.view(pointer, SCRATCH_SIZE)) };
  }
  const s = scratch.bytes;
  // A byte loop beats set()/subarray() (which allocate) for the small structs ioctls take.
  if (n <= 64) for (let i = 0; i < n; i++) s[i] = bytes[i]!;
  else s.set(bytes);
  const result = libc().ioctlValue(fd, request, scratch.address);
  if (n <= 64) for (let i = 0; i < n; i++) bytes[i] = s[i]!;
  else bytes.set(s.subarray(0, n));
  return result;
}

/**
 * The ioctl path {@link ioctlOrErrno} takes, fastest first: `v8` (runtime/native/ioctl-v8.cc, on V8's own API,
 * built for this Node's module version), `napi` (runtime/native/syscalls.c's `ioctlBytes`, Node-API), `koffi`
 * (scratch buffer, integer binding).
 */
export type IoctlPathName = 'v8' | 'napi' | 'koffi';

/** An addon's fixed-prototype ioctl and its errno. */
interface AddonIoctl {
  ioctlBytes(fd: number, request: number, bytes: Uint8Array): number;
  errno(): number;
}

/** Environment variable naming the first ioctl path to try (`v8`, `napi` or `koffi`); the slower ones follow. */
export const IOCTL_PATH_ENV = 'VFIO_UAPI_IOCTL_PATH';
const IOCTL_PATHS: readonly IoctlPathName[] = ['v8', 'napi', 'koffi'];
const BUILD_DIR = 'runtime/native/build';
/** The Node-API addon as built for this machine by `npm run build` (scripts/build-addon.ts), relative to the repository. */
export const LOCAL_ADDON = `${BUILD_DIR}/syscalls-${process.platform}-${process.arch}.node`;
/** The V8-API ioctl addon as built for this machine and this Node's module version (ABI), likewise. */
export const LOCAL_V8_ADDON = `${BUILD_DIR}/ioctl-v8-${process.platform}-${process.arch}-abi${process.versions.modules}.node`;

let addonIoctl: { name: IoctlPathName; addon: AddonIoctl | null } | undefined;

/**
 * A locally built addon file (`relative`, default the Node-API one) found from this module up to the package
 * root (wherever the runtime's files sit); for the Node-API one `$VFIO_UAPI_SYSCALLS_ADDON` first if set.
 * Undefined where it was not built.
 */
export function localAddonFile(relative: string = LOCAL_ADDON): string | undefined {
  const candidates = relative === LOCAL_ADDON && process.env[SYSCALLS_ADDON_ENV] ? [process.env[SYSCALLS_ADDON_ENV]!] : [];
  // From runtime/driver (sources) or packages/vfio-uapi/dist/runtime/driver (built) up to the repository
  // (URLs: the bindings package imports no node:path).
  for (let i = 0, dir = new URL('.', import.meta.url); i < 8; i++, dir = new URL('..', dir)) {
    candidates.push(decodeURIComponent(new URL(relative, dir).pathname));
  }
  return candidates.find((f) => existsSync(f));
}

function loadAddonIoctl(file: string | undefined): AddonIoctl | null {
  if (!file) return null;
  try {
    const addon = createRequire(import.meta.url)(file) as Partial<AddonIoctl>;
    return typeof addon.ioctlBytes === 'function' && typeof addon.errno === 'function' ? (addon as AddonIoctl) : null;
  } catch {
    return null; // built for another Node or machine: the next path serves
  }
}

/** The addon of `name`, or null where it is not available (not built, or built for another Node). */
function addonOf(name: IoctlPathName): AddonIoctl | null {
  if (name === 'koffi') return null;
  if (name === 'v8') return loadAddonIoctl(localAddonFile(LOCAL_V8_ADDON));
  if (backend().name === 'napi') {
    const own = bound!.libc as unknown as Partial<AddonIoctl>;
    return typeof own.ioctlBytes === 'function' && typeof own.errno === 'function' ? (own as AddonIoctl) : null;
  }
  return loadAddonIoctl(localAddonFile());
}

/**
 * The fastest available path, from `$VFIO_UAPI_IOCTL_PATH` on if set (`koffi`: libc through the system-call
 * backend, which is the Node-API addon where koffi has no build).
 */
function findAddonIoctl(): { name: IoctlPathName; addon: AddonIoctl | null } {
  const first = IOCTL_PATHS.indexOf(process.env[IOCTL_PATH_ENV] as IoctlPathName);
  for (const name of IOCTL_PATHS.slice(Math.max(first, 0), -1)) {
    const addon = addonOf(name);
    if (addon) return { name, addon };
  }
  return { name: 'koffi', addon: null };
}

/** Which path {@link ioctlOrErrno} takes here (finding the addons on first use). */
export function ioctlPath(): IoctlPathName {
  addonIoctl ??= findAddonIoctl();
  return addonIoctl.name;
}

/**
 * Forces the path of {@link ioctlOrErrno} (benchmarks and tests compare them); throws where that one is not
 * available.
 * @internal
 */
export function useIoctlPath(name: IoctlPathName): void {
  const addon = addonOf(name);
  if (name !== 'koffi' && !addon) throw new VfioError(`the ${name} ioctl addon is not available here (npm run build, with a C${name === 'v8' ? '++' : ''} compiler)`);
  addonIoctl = { name, addon };
}

/**
 * `ioctl(fd, request, bytes)` for {@link ioctl}: the result (≥ 0), or `-errno` on failure (read at once, from the
 * path that made the call). Through the fastest addon built here (fixed-prototype calls: the V8-API one about
 * 1.25x a C loop, the Node-API one 1.4x, against koffi's 1.6x; `npm run bench:ioctl`), else koffi's {@link ioctlBytes}.
 */
export function ioctlOrErrno(fd: number, request: number, bytes: Uint8Array): number {
  addonIoctl ??= findAddonIoctl();
  const a = addonIoctl.addon;
  if (a !== null) {
    const r = a.ioctlBytes(fd, request, bytes);
    return r < 0 ? -a.errno() : r;
  }
  const r = ioctlBytes(fd, request, bytes);
  return r < 0 ? -errno() : r;
}

/** The calling thread's `errno` as left by the last libc call. */
export function errno(): number {
  return backend().errno();
}

/** An ArrayBuffer over `size` bytes of native memory at `pointer` (no copy; it dies with the mapping). */
export function nativeView(pointer: NativePointer, size: number): ArrayBuffer {
  return backend().view(pointer, size);
}

/**
 * Returns `result` unless it is negative, in which case it throws a
 * {@link SyscallError} built from the current `errno`. Call it directly on the
 * result of the libc call, with nothing in between.
 */
export function check(result: number, syscall: string, detail?: string): number {
  if (result < 0) throw new SyscallError(syscall, errno(), detail);
  return result;
}

/** The numeric address of a native pointer (`0n` for `null`). */
export function addressOf(pointer: NativePointer): bigint {
  return pointer === null || pointer === undefined ? 0n : backend().address(pointer);
}

let cachedPageSize: number | undefined;

/** The system page size, `sysconf(_SC_PAGESIZE)`. */
export function pageSize(): number {
  cachedPageSize ??= check(libc().sysconf(SC_PAGESIZE), 'sysconf', '_SC_PAGESIZE');
  return cachedPageSize;
}
