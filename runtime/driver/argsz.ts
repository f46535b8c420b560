/**
 * The VFIO `argsz` protocol.
 *
 * Info ioctls (`VFIO_DEVICE_GET_INFO`, `VFIO_DEVICE_GET_REGION_INFO`,
 * `VFIO_IOMMU_GET_INFO`, ...) take a struct whose first member is
 * `__u32 argsz`, the size of the caller's buffer. When the reply (fixed part
 * plus capability chain) does not fit, the kernel fills the fixed part, writes
 * the size it needs into `argsz` and sets `cap_offset` to 0; the caller then
 * retries with a buffer that big.
 */

import type { Codec } from '../codec/codec.js';
import { checkFd } from './validate.js';
import { ArgszError, IoctlError } from './errors.js';
import { errno, libc } from './libc.js';

/**
 * The system call, injectable for tests: issues `request` on `fd` with the
 * address of `buf` and returns the ioctl's result, or `-errno` on failure (the
 * kernel's own convention, so recorded replies can be replayed as they are).
 */
export type RawIoctl = (fd: number, request: number, buf: Uint8Array) => number;

/** Limits and hooks of {@link ioctlArgsz}. */
export interface ArgszOptions {
  /** The system call; defaults to libc's `ioctl`. */
  readonly call?: RawIoctl;
  /** Largest buffer to allocate, in bytes (default 1 MiB). */
  readonly maxSize?: number;
  /** Most calls to make (default 4). */
  readonly maxRounds?: number;
}

/** What {@link ioctlArgsz} returns. */
export interface ArgszResult<T> {
  /** The fixed part, decoded from the final reply. */
  readonly value: T;
  /** The whole final buffer: fixed part and, after it, whatever the kernel appended (capabilities). */
  readonly bytes: Uint8Array;
  /** How many calls were made. */
  readonly rounds: number;
}

/** Default {@link ArgszOptions.maxSize}: 1 MiB. */
export const DEFAULT_ARGSZ_MAX_SIZE = 1 << 20;
/** Default {@link ArgszOptions.maxRounds}. */
export const DEFAULT_ARGSZ_MAX_ROUNDS = 4;

/** The libc `ioctl`, as a {@link RawIoctl}. */
export const libcRawIoctl: RawIoctl = (fd, request, buf) => {
  checkFd(fd);
  const result = libc().ioctlPointer(fd, request, buf);
  return result < 0 ? -errno() : result;
};

/**
 * Issues an argsz-protocol ioctl: first with `codec.size` bytes, then, as long
 * as the kernel asks for more (`argsz` larger than the buffer), with a buffer of
 * the size it asked for, the input re-encoded into it. Bounded by
 * `maxRounds` calls and `maxSize` bytes.
 *
 * @param codec the info struct; its first field must be `argsz`, a 4-byte integer at offset 0.
 * @param input the caller's fields (`index` for a region, ...); `argsz` is set here.
 * @throws IoctlError when a call fails.
 * @throws ArgszError when the kernel asks for more than `maxSize` bytes, or still
 *   asks for more after `maxRounds` calls.
 */
export function ioctlArgsz<T>(
  fd: number,
  request: { readonly name: string; readonly request: number },
  codec: Codec<T>,
  input: Partial<T> = {},
  options: ArgszOptions = {},
): ArgszResult<T> {
  const argszField = codec.fields.find((f) => f.path === 'argsz');
  if (argszField === undefined || argszField.offset !== 0 || argszField.size !== 4) {
    throw new TypeError(`${codec.cName} does not start with a 4-byte argsz field`);
  }
  const call = options.call ?? libcRawIoctl;
  const maxSize = options.maxSize ?? DEFAULT_ARGSZ_MAX_SIZE;
  const maxRounds = options.maxRounds ?? DEFAULT_ARGSZ_MAX_ROUNDS;

  let size = codec.size;
  for (let round = 1; round <= maxRounds; round++) {
    const bytes = new Uint8Array(size);
    codec.encodeInto(new DataView(bytes.buffer), 0, { ...input, argsz: size } as Partial<T>);
    const result = call(fd, request.request, bytes);
    if (result < 0) throw new IoctlError(request.name, request.request, fd, -result);

    const value = codec.decode(bytes);
    const wanted = Number((value as { argsz?: unknown }).argsz);
    if (!(wanted > size)) return { value, bytes, rounds: round };
    if (wanted > maxSize) {
      throw new ArgszError(`${request.name}: the kernel asks for argsz ${wanted}, more than the ${maxSize}-byte limit`);
    }
    size = wanted;
  }
  throw new ArgszError(`${request.name}: the kernel still asks for a bigger argsz after ${maxRounds} calls`);
}
