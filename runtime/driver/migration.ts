/**
 * VFIO migration v2: the device states of `enum vfio_device_mig_state` and the
 * data fd a state transition hands out ({@link MigrationData}).
 */

import * as vfio from '../../generated/vfio/index.js';
import { IoctlError, SyscallError, VfioError } from './errors.js';
import type { OwnedFd } from './fd.js';
import { errno, libc } from './libc.js';
import { descriptor, type VfioSyscalls } from './vfio-fd.js';
import { libcRawIoctl, type RawIoctl } from './argsz.js';

/** The states of `enum vfio_device_mig_state`, without their `VFIO_DEVICE_STATE_` prefix. */
export const MIGRATION_STATES = ['ERROR', 'STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P', 'PRE_COPY', 'PRE_COPY_P2P'] as const;

/** A migration state by name (`'STOP_COPY'`). */
export type MigrationStateName = (typeof MIGRATION_STATES)[number];

/** The value of state `name` on the running ABI (`VFIO_DEVICE_STATE_<name>` of the bindings). */
export function migrationStateValue(name: MigrationStateName): number {
  const value = (vfio as unknown as Record<string, unknown>)[`VFIO_DEVICE_STATE_${name}`];
  if (typeof value !== 'number') throw new TypeError(`vfio.h has no VFIO_DEVICE_STATE_${name}`);
  return value;
}

/** The name of state `value`, or `undefined` for a value this header does not know. */
export function migrationStateName(value: number): MigrationStateName | undefined {
  return MIGRATION_STATES.find((name) => migrationStateValue(name) === value);
}

/** The `VFIO_MIGRATION_*` flags of `struct vfio_device_feature_migration`, by name; values from the bindings. */
export const MIGRATION_FLAGS = ['VFIO_MIGRATION_STOP_COPY', 'VFIO_MIGRATION_P2P', 'VFIO_MIGRATION_PRE_COPY'] as const;

/** What `Device.migrationInfo` returns (`VFIO_DEVICE_FEATURE_MIGRATION`). */
export interface MigrationInfo {
  /** `VFIO_MIGRATION_*`. */
  readonly flags: bigint;
  /** `flags` decoded. */
  readonly flagNames: readonly string[];
  /** STOP, STOP_COPY and RESUMING (always set by a driver that migrates). */
  readonly stopCopy: boolean;
  /** RUNNING_P2P (and PRE_COPY_P2P with `preCopy`). */
  readonly p2p: boolean;
  /** PRE_COPY (and `VFIO_MIG_GET_PRECOPY_INFO` on the data fd). */
  readonly preCopy: boolean;
}

/** What {@link MigrationData.precopyInfo} returns (`struct vfio_precopy_info`). */
export interface PrecopyInfo {
  /** Initial data still to be read in PRE_COPY. */
  readonly initialBytes: bigint;
  /** Data the device dirtied since it was last read. */
  readonly dirtyBytes: bigint;
  /** `VFIO_PRECOPY_INFO_*` (only meaningful after opting in to `VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2`). */
  readonly flags: number;
}

const ENOMSG = 42;
const EINTR = 4;
const EAGAIN = 11;
/** Default size of one `read`. */
const CHUNK = 64 * 1024;

/**
 * The data fd of a migration session, owned: returned by
 * `Device.setMigrationState` when the transition starts a session (RUNNING →
 * PRE_COPY, STOP → STOP_COPY: a saving fd to read; STOP → RESUMING: a
 * resuming fd to write). The stream is opaque: write to the target exactly the
 * bytes read from the source, in order.
 *
 * Reads use `read(2)`, not `pread`: drivers open it as a stream (`pread` is `ESPIPE`).
 * Keep a resuming fd open until the device has left RESUMING: the transition
 * to STOP consumes what was written, and a driver may drop it when the fd is
 * closed first (mtty does).
 */
export class MigrationData implements Disposable {
  readonly #owned: OwnedFd;
  readonly #ioctl: RawIoctl;

  /** @internal made by `Device.setMigrationState`; `syscalls.ioctl` issues `VFIO_MIG_GET_PRECOPY_INFO`. */
  constructor(fd: OwnedFd, syscalls: VfioSyscalls = {}) {
    this.#owned = fd;
    this.#ioctl = syscalls.ioctl ?? libcRawIoctl;
  }

  /** The fd number. Throws once closed. */
  get fd(): number {
    return this.#owned.fd;
  }

  /** Whether it was closed. */
  get closed(): boolean {
    return this.#owned.closed;
  }

  /**
   * One `read(2)` of at most `maxBytes`: the bytes read, empty at the end of
   * the stream (permanent in STOP_COPY), or `null` when a PRE_COPY driver
   * reports the temporary end of its data (`ENOMSG`, see
   * `VFIO_MIG_GET_PRECOPY_INFO` in vfio.h).
   * @throws SyscallError (`read`) for other failures.
   */
  read(maxBytes = CHUNK): Uint8Array | null {
    const buffer = new Uint8Array(maxBytes);
    for (;;) {
      const n = libc().read(this.fd, buffer, maxBytes);
      if (n >= 0) return buffer.subarray(0, n);
      const err = errno();
      if (err === EINTR) continue;
      if (err === ENOMSG) return null;
      throw new SyscallError('read', err, `migration data fd ${this.fd}`);
    }
  }

  /** Reads until the end of the stream (or PRE_COPY's temporary end); all the bytes, concatenated. */
  readAll(chunk = CHUNK): Uint8Array {
    const parts: Uint8Array[] = [];
    for (;;) {
      const part = this.read(chunk);
      if (part === null || part.byteLength === 0) break;
      parts.push(part.slice());
    }
    return concat(parts);
  }

  /**
   * Writes all of `bytes` (a resuming fd), looping over short writes.
   * @throws SyscallError (`write`): e.g. `ENOMEM` from a driver when more is written than its state holds.
   */
  write(bytes: Uint8Array): void {
    for (let done = 0; done < bytes.byteLength; ) {
      const n = libc().write(this.fd, bytes.subarray(done), bytes.byteLength - done);
      if (n < 0) {
        const err = errno();
        if (err === EINTR || err === EAGAIN) continue;
        throw new SyscallError('write', err, `migration data fd ${this.fd}`);
      }
      if (n === 0) throw new VfioError(`migration data fd ${this.fd}: write made no progress`);
      done += n;
    }
  }

  /**
   * `VFIO_MIG_GET_PRECOPY_INFO` on the data fd: how much PRE_COPY data is left.
   * @throws IoctlError `EINVAL` outside PRE_COPY / PRE_COPY_P2P (documented in vfio.h); `ENOTTY` from a driver without pre-copy.
   */
  precopyInfo(): PrecopyInfo {
    const codec = vfio.vfio_precopy_info;
    const bytes = codec.encode({ argsz: codec.size });
    const { name, request } = descriptor('VFIO_MIG_GET_PRECOPY_INFO');
    const result = this.#ioctl(this.fd, request, bytes);
    if (result < 0) throw new IoctlError(name, request, this.fd, -result);
    const info = codec.decode(bytes);
    return { initialBytes: info.initial_bytes, dirtyBytes: info.dirty_bytes, flags: info.flags };
  }

  /** Closes the fd (ends the session from this side); later calls do nothing. */
  close(): void {
    this.#owned.close();
  }

  /** {@link MigrationData.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
