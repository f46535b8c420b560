/**
 * Issuing one ioctl, with the argument passed the way its descriptor says.
 */

import type { FdKind, IoctlArgument, StructIoctl } from '../codec/codec.js';
import { ioctlByRequest } from '../codec/bindings.js';
import { IoctlError } from './errors.js';
import { errno, ioctlOrErrno, libc } from './libc.js';
import { checkFd } from './validate.js';

/** What {@link ioctl} needs to know about a request: at least its name (for errors) and number. An {@link IoctlDescriptor} is one. */
export interface IoctlRequest {
  readonly name: string;
  readonly request: number;
  /** The kind of fd it applies to (informative). */
  readonly fd?: FdKind;
  /** When present, the argument is checked against it before the call. */
  readonly arg?: IoctlArgument;
}

export type { StructIoctl };

/** What a struct ioctl returns. */
export interface StructIoctlResult<T> {
  /** The ioctl's return value (≥ 0). */
  readonly result: number;
  /** The struct decoded from the buffer after the call (for `in` ioctls, what was sent). */
  readonly value: T;
  /** The buffer the kernel saw, `codec.size` bytes. */
  readonly bytes: Uint8Array;
}

/**
 * Issues `request` on `fd`.
 *
 * - Struct descriptor and a (partial) struct value, or nothing: the value is
 *   encoded into a zeroed buffer of `codec.size` bytes, its address passed, and
 *   the buffer decoded back after the call.
 * - A typed array / DataView: its bytes are passed by address and modified in
 *   place (it must be at least `codec.size` bytes, or 4 for an `int-pointer`).
 * - A number or bigint: passed by value as an `unsigned long`.
 * - Nothing: no argument (0 is passed).
 *
 * @returns the ioctl's return value; for the struct form `{ result, value, bytes }`.
 * @throws IoctlError when the ioctl returns -1.
 * @throws TypeError / RangeError when the argument does not match the descriptor
 *   (caught before the call: a wrong pointer would let the kernel write anywhere).
 */
export function ioctl<T>(fd: number, request: StructIoctl<T>, value?: Partial<T>): StructIoctlResult<T>;
export function ioctl(fd: number, request: IoctlRequest | number, arg?: number | bigint | ArrayBufferView): number;
export function ioctl(
  fd: number,
  given: IoctlRequest | number,
  arg?: number | bigint | ArrayBufferView | object,
): number | StructIoctlResult<unknown> {
  // The hot path, a descriptor and a byte array: the general path's checks in one pass (fd a non-negative int32,
  // request a 32-bit unsigned integer, an argument kind that takes memory, enough bytes). Anything else, valid or
  // not, takes the general path, which also gives each error its precise message. Kept small so that V8 inlines
  // it, and the call, into the caller (about 50 ns a call, measured by `npm run bench:ioctl`).
  if (arg instanceof Uint8Array && typeof given === 'object' && given !== null) {
    const a = given.arg;
    const need = a === undefined ? 0 : a.kind === 'int-pointer' ? 4 : a.kind === 'struct' ? a.codec.size : a.kind === 'none' || a.kind === 'int' ? -1 : 0;
    if (need >= 0 && arg.byteLength >= need && (fd | 0) === fd && fd >= 0 && (given.request >>> 0) === given.request) {
      const result = ioctlOrErrno(fd, given.request, arg);
      if (result < 0) throw new IoctlError(given.name, given.request, fd, -result);
      return result;
    }
  }
  return ioctlGeneral(fd, given, arg);
}

/** {@link ioctl} for every other form of argument, and every error. */
function ioctlGeneral(fd: number, given: IoctlRequest | number, arg?: number | bigint | ArrayBufferView | object): number | StructIoctlResult<unknown> {
  if (typeof given !== 'number' && (typeof given !== 'object' || given === null)) {
    throw new TypeError(`ioctl: request ${String(given)} is neither a descriptor nor a number; pass a descriptor such as vfio.ioctls.VFIO_GET_API_VERSION, or its number`);
  }
  const request = typeof given === 'number' ? requestOf(given) : given;
  checkFd(fd);
  checkRequest(request);
  const kind = request.arg?.kind;

  if (request.arg?.kind === 'struct' && (arg === undefined || !isBufferLike(arg) && typeof arg === 'object')) {
    const { codec } = request.arg;
    const bytes = codec.encode((arg ?? {}) as Partial<unknown>);
    const result = issue(fd, request, bytes);
    return { result, value: codec.decode(bytes), bytes };
  }

  if (arg === undefined || typeof arg === 'number' || typeof arg === 'bigint') {
    if (kind === 'struct' || kind === 'int-pointer') {
      throw new TypeError(`${request.name} takes a pointer (${kind}), not ${arg === undefined ? 'nothing' : 'an integer'}`);
    }
    if (arg !== undefined && kind === 'none') throw new TypeError(`${request.name} takes no argument`);
    const value = arg ?? 0;
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new TypeError(`${request.name}: integer argument ${value} is not a safe integer`);
    }
    if (typeof value === 'bigint' && BigInt.asUintN(64, value) !== value && BigInt.asIntN(64, value) !== value) {
      throw new RangeError(`${request.name}: integer argument ${value} does not fit in 64 bits`);
    }
    return check(libc().ioctlValue(fd, request.request, value), fd, request);
  }

  if (isBufferLike(arg)) {
    if (kind === 'none' || kind === 'int') throw new TypeError(`${request.name} takes ${kind === 'none' ? 'no argument' : 'an integer'}, not a buffer`);
    const bytes = arg instanceof Uint8Array ? arg : new Uint8Array(arg.buffer, arg.byteOffset, arg.byteLength);
    const need = request.arg?.kind === 'struct' ? request.arg.codec.size : kind === 'int-pointer' ? 4 : 0;
    if (bytes.byteLength < need) {
      throw new RangeError(`${request.name}: buffer of ${bytes.byteLength} bytes, needs at least ${need}`);
    }
    return issue(fd, request, bytes);
  }

  throw new TypeError(`${request.name}: a struct value needs a struct descriptor (arg.kind is ${kind ?? 'absent'})`);
}

/**
 * Issues `request` on `fd` with the address of `bytes`, without any checking of
 * the argument. Throws {@link IoctlError} on -1.
 */
export function ioctlBuffer(fd: number, request: { readonly name: string; readonly request: number }, bytes: Uint8Array): number {
  checkFd(fd);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  return issue(fd, request, bytes);
}

/** The call itself, arguments checked: the result, or an {@link IoctlError} with the errno of the path that made it. */
function issue(fd: number, request: { readonly name: string; readonly request: number }, bytes: Uint8Array): number {
  const result = ioctlOrErrno(fd, request.request, bytes);
  if (result < 0) throw new IoctlError(request.name, request.request, fd, -result);
  return result;
}

function check(result: number, fd: number, request: { readonly name: string; readonly request: number }): number {
  if (result < 0) throw new IoctlError(request.name, request.request, fd, errno());
  return result;
}

/**
 * A plain request number, as C passes it: the descriptor of that number among
 * the bindings imported so far (so its argument is checked and errors name
 * it), else a bare request named by its number.
 */
function requestOf(request: number): IoctlRequest {
  if (!Number.isInteger(request) || request < 0 || request > 0xffff_ffff) {
    throw new RangeError(`ioctl: request ${request} is not a 32-bit unsigned integer; pass a descriptor such as vfio.ioctls.VFIO_GET_API_VERSION, or its number`);
  }
  return ioctlByRequest(request) ?? { name: `ioctl 0x${request.toString(16)}`, request };
}

function checkRequest(request: IoctlRequest): void {
  if (!Number.isInteger(request.request) || request.request < 0 || request.request > 0xffff_ffff) {
    throw new RangeError(`${request.name}: request ${request.request} is not a 32-bit unsigned integer; pass a descriptor such as vfio.ioctls.VFIO_GET_API_VERSION, or its number`);
  }
}

function isBufferLike(arg: unknown): arg is ArrayBufferView {
  return ArrayBuffer.isView(arg);
}
