/**
 * Error types of the runtime.
 *
 * Everything the runtime throws on purpose is a {@link VfioError}. Failed
 * system calls are {@link SyscallError}s (failed ioctls the more specific
 * {@link IoctlError}); the `is*` guards classify the common failures whatever
 * the call was.
 */

import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/** Base class of every error the runtime throws on purpose. */
export class VfioError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name); // EAGAIN over EWOULDBLOCK, EDEADLK over EDEADLOCK
}
errnoNames.set(constants.errno.EOPNOTSUPP, 'EOPNOTSUPP'); // Linux's own name; Node lists ENOTSUP first
// EBADFD (Linux >= 6.2 answers it to GROUP_SET_CONTAINER with a non-container fd) is missing from Node's table;
// its number is 77 in asm-generic/errno.h and 81 on mips.
if (process.platform === 'linux' && !errnoNames.has(process.arch.startsWith('mips') ? 81 : 77)) {
  errnoNames.set(process.arch.startsWith('mips') ? 81 : 77, 'EBADFD');
}

/** Descriptions libuv lacks or words for sockets only. */
const descriptionOverrides: Record<string, string> = { EOPNOTSUPP: 'Operation not supported', EBADFD: 'File descriptor in bad state' };

/** The symbolic name of an errno value (`25` → `'ENOTTY'`), or `'E<n>'` if unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** A short description of an errno value (`25` → `'Inappropriate ioctl for device'`). */
export function errnoDescription(errno: number): string {
  const name = errnoName(errno);
  const text = descriptionOverrides[name] ?? getSystemErrorMap().get(-errno)?.[1];
  if (text === undefined) return `Unknown error ${errno}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A system call failed with `errno`. */
export class SyscallError extends VfioError {
  /** The errno value, positive (`25`). */
  readonly errno: number;
  /** The errno name (`'ENOTTY'`). */
  readonly code: string;
  /** The failed call (`'open'`, `'ioctl'`, `'mmap'`). */
  readonly syscall: string;

  /**
   * @param syscall the failed call
   * @param errno the positive errno value
   * @param detail what it was called on (a path, `fd 5`), for the message
   * @param message overrides the whole message
   */
  constructor(syscall: string, errno: number, detail?: string, message?: string) {
    const code = errnoName(errno);
    super(message ?? `${syscall}${detail ? ` ${detail}` : ''}: ${code} (${errnoDescription(errno)})`);
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
  }
}

/** An ioctl returned -1. */
export class IoctlError extends SyscallError {
  /** The ioctl's name (`'VFIO_GET_API_VERSION'`). */
  readonly ioctl: string;
  /** The request number (`0x3b64`). */
  readonly request: number;
  /** The file descriptor it was issued on. */
  readonly fd: number;

  constructor(ioctl: string, request: number, fd: number, errno: number) {
    const code = errnoName(errno);
    super('ioctl', errno, undefined,
      `${ioctl} (0x${request.toString(16)}) on fd ${fd}: ${code} (${errnoDescription(errno)})`);
    this.ioctl = ioctl;
    this.request = request;
    this.fd = fd;
  }
}

/** Why a capability chain was rejected. */
export type CapabilityChainProblem = 'out-of-range' | 'misaligned' | 'cycle' | 'truncated';

/** A VFIO capability chain is malformed or does not fit its buffer. */
export class CapabilityChainError extends VfioError {
  /** What is wrong. */
  readonly problem: CapabilityChainProblem;
  /** The offending offset in the info buffer. */
  readonly offset: number;

  constructor(problem: CapabilityChainProblem, offset: number, message: string) {
    super(`capability chain: ${message}`);
    this.problem = problem;
    this.offset = offset;
  }
}

/** The argsz protocol did not converge (too many rounds, or a size past the limit). */
export class ArgszError extends VfioError {}

function hasErrno(error: unknown, codes: readonly string[]): error is SyscallError {
  return error instanceof SyscallError && codes.includes(error.code);
}

/** The device, group or path does not exist (`ENOENT`, `ENODEV`, `ENXIO`). */
export function isNoDevice(error: unknown): error is SyscallError {
  return hasErrno(error, ['ENOENT', 'ENODEV', 'ENXIO']);
}

/** The caller may not do this (`EACCES`, `EPERM`). */
export function isPermissionDenied(error: unknown): error is SyscallError {
  return hasErrno(error, ['EACCES', 'EPERM']);
}

/** The fd does not implement this ioctl: a wrong kind of fd (a group where a device was meant, `/dev/null`): `ENOTTY`. */
export function isWrongFdKind(error: unknown): error is SyscallError {
  return hasErrno(error, ['ENOTTY']);
}

/** The fd is not open (`EBADF`). */
export function isBadFd(error: unknown): error is SyscallError {
  return hasErrno(error, ['EBADF']);
}
