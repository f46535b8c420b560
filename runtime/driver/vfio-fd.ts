/**
 * What {@link Container}, {@link Group}, {@link Device} and {@link IommuFd} share: an owned fd,
 * ioctls through injectable system calls (so tests can replay recorded kernel
 * replies), the argsz protocol, and capability chains decoded with the
 * generated `CAPABILITIES` registry.
 */

import * as iommufd from '../../generated/iommufd/index.js';
import * as vfio from '../../generated/vfio/index.js';
import { checkFd } from './validate.js';
import { ioctlArgsz, libcRawIoctl, type ArgszResult, type RawIoctl } from './argsz.js';
import { capabilities, decodeCapability } from './capabilities.js';
import type { Codec, FlexCodec, IoctlDescriptor } from '../codec/codec.js';
import { CapabilityChainError, IoctlError, SyscallError } from './errors.js';
import { OwnedFd } from './fd.js';
import { O_RDWR, errno, libc } from './libc.js';

/** An ioctl whose argument is an integer passed by value (0 for none); returns the result or `-errno`. */
export type RawIoctlValue = (fd: number, request: number, value: number) => number;

/** libc's `ioctl(fd, request, unsigned long)`, as a {@link RawIoctlValue}. */
export const libcRawIoctlValue: RawIoctlValue = (fd, request, value) => {
  checkFd(fd);
  const result = libc().ioctlValue(fd, request, value);
  return result < 0 ? -errno() : result;
};

/** The system calls the VFIO objects make, injectable for tests; libc's by default. */
export interface VfioSyscalls {
  /** ioctls with a pointer argument (structs, `int *`, strings). */
  readonly ioctl?: RawIoctl;
  /** ioctls with an integer argument passed by value, or none. */
  readonly ioctlValue?: RawIoctlValue;
}

/** A decoded capability of an info struct's chain. */
export interface DecodedCapability {
  /** Numeric id (`VFIO_REGION_INFO_CAP_SPARSE_MMAP` is 1 for regions, ...). */
  readonly id: number;
  /** The id's name from the generated registry, or `undefined` for an id this header does not know. */
  readonly name: string | undefined;
  /** Version of the capability's layout. */
  readonly version: number;
  /** Offset of its header in the info buffer. */
  readonly offset: number;
  /** The capability struct decoded with its generated codec (header included); `undefined` for a bare header or an unknown id. */
  readonly value: unknown;
  /** The elements of its flexible array member (`areas`, `iova_ranges`), if it has one. */
  readonly elements?: readonly unknown[];
}

/**
 * Decodes the capability chain of an info buffer: every capability, with the
 * codec the generated `CAPABILITIES` registry gives for (`info`, id). A flexible
 * array is decoded with the count from the struct's `nr_*` field.
 *
 * @param info the info struct's name in the registry (`vfio_region_info`)
 * @param bytes the whole info buffer (fixed part + chain)
 * @param capOffset the struct's `cap_offset` (0: no chain)
 * @param fixedSize `sizeof` the info struct: no capability may start inside it
 * @throws CapabilityChainError when the chain or a capability does not fit the buffer.
 */
export function decodeCapabilities(info: string, bytes: Uint8Array, capOffset: number, fixedSize: number): DecodedCapability[] {
  const known = vfio.CAPABILITIES.filter((c) => c.info === info);
  return Array.from(capabilities(bytes, capOffset, { minOffset: fixedSize }), (cap): DecodedCapability => {
    const entry = known.find((c) => c.idValue === cap.id);
    const base = { id: cap.id, name: entry?.id, version: cap.version, offset: cap.offset };
    if (entry?.codec === undefined) return { ...base, value: undefined };
    const value = decodeCapability(cap, entry.codec);
    const flex = entry.codec as Partial<FlexCodec<unknown, unknown[]>>;
    if (flex.flex === undefined || flex.decodeFlex === undefined) return { ...base, value };
    const countField = entry.codec.fields.find((f) => f.path.startsWith('nr_'))?.path;
    const fit = Math.floor((cap.bytes.byteLength - flex.flex.offset) / flex.flex.elementSize);
    const count = countField === undefined ? fit : Number((value as Record<string, unknown>)[countField]);
    if (count > fit) {
      throw new CapabilityChainError('truncated', cap.offset,
        `${entry.id} at ${cap.offset} says ${countField} = ${count}, its ${cap.bytes.byteLength} bytes hold ${fit}`);
    }
    return { ...base, value, elements: flex.decodeFlex(cap.bytes, 0, count) };
  });
}

/** The decoded value of the first capability named `name`, or `undefined`. */
export function capabilityValue<T>(caps: readonly DecodedCapability[], name: string): T | undefined {
  return caps.find((c) => c.name === name)?.value as T | undefined;
}

/** The kind of VFIO fd, for messages. */
export type VfioFdKind = 'container' | 'group' | 'device' | 'iommufd';

/** An ioctl of vfio.h or iommufd.h, by name. */
export type IoctlName = vfio.IoctlName | iommufd.IoctlName;

/** What an `ENOTTY` hint calls each kind of fd. */
const fdKindNoun: Record<VfioFdKind, string> = {
  container: 'a VFIO container fd', group: 'a VFIO group fd', device: 'a VFIO device fd', iommufd: 'an iommufd (/dev/iommu) fd',
};

/**
 * Base of the VFIO objects: owns one fd (closed by {@link VfioFd.close} or
 * `using`) and issues ioctls on it through {@link VfioSyscalls}.
 *
 * Errors: failed ioctls throw {@link IoctlError} naming the ioctl; `ENOTTY`
 * (see `isWrongFdKind`) gets a hint that the fd may be the wrong kind.
 */
export abstract class VfioFd implements Disposable {
  /** What this object is. */
  abstract readonly kind: VfioFdKind;
  readonly #owned: OwnedFd;
  /** The system calls in use. */
  protected readonly syscalls: Required<VfioSyscalls>;

  protected constructor(fd: OwnedFd, syscalls: VfioSyscalls = {}) {
    this.#owned = fd;
    this.syscalls = { ioctl: syscalls.ioctl ?? libcRawIoctl, ioctlValue: syscalls.ioctlValue ?? libcRawIoctlValue };
  }

  /** The fd number. Throws once closed. */
  get fd(): number {
    return this.#owned.fd;
  }

  /** What the fd is (its path, `device 0000:00:10.0`), for messages. */
  get label(): string {
    return this.#owned.label;
  }

  /** Whether {@link VfioFd.close} was called. */
  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Closes the fd; later calls do nothing. */
  close(): void {
    this.#owned.close();
  }

  /** {@link VfioFd.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Issues `name` with the address of `bytes` (modified in place); returns the ioctl's result. */
  protected ioctlPointer(name: IoctlName, bytes: Uint8Array): number {
    const { request } = descriptor(name);
    return this.checked(name, request, this.syscalls.ioctl(this.fd, request, bytes));
  }

  /** Issues `name` with `value` passed by value (0 for ioctls without argument). */
  protected ioctlValue(name: IoctlName, value = 0): number {
    const { request } = descriptor(name);
    return this.checked(name, request, this.syscalls.ioctlValue(this.fd, request, value));
  }

  /** Encodes `value` with `codec`, issues `name` on it, decodes the reply. */
  protected ioctlStruct<T>(name: IoctlName, codec: Codec<T>, value: Partial<T>): T {
    const bytes = codec.encode(value);
    this.ioctlPointer(name, bytes);
    return codec.decode(bytes);
  }

  /** A `*_GET_INFO` ioctl through the argsz protocol (see `ioctlArgsz`). */
  protected ioctlInfo<T>(name: IoctlName, codec: Codec<T>, input: Partial<T> = {}): ArgszResult<T> {
    const { request } = descriptor(name);
    try {
      return ioctlArgsz(this.fd, { name, request }, codec, input, { call: this.syscalls.ioctl });
    } catch (error) {
      if (error instanceof IoctlError) throw this.hint(error);
      throw error;
    }
  }

  /** Throws an {@link IoctlError} for a negative `result` (`-errno`). */
  protected checked(name: string, request: number, result: number): number {
    if (result < 0) throw this.hint(new IoctlError(name, request, this.fd, -result));
    return result;
  }

  private hint(error: IoctlError): IoctlError {
    if (error.code === 'ENOTTY') {
      error.message += `: ${this.label} does not implement it (not ${fdKindNoun[this.kind]}, or not supported there)`;
    }
    return error;
  }
}

/** The generated descriptor of ioctl `name` of vfio.h or iommufd.h (its number on the running ABI). */
export function descriptor(name: IoctlName): { readonly name: string; readonly request: number } {
  const d = ((vfio.ioctls as Record<string, IoctlDescriptor>)[name] ?? (iommufd.ioctls as Record<string, IoctlDescriptor>)[name]) as IoctlDescriptor | undefined;
  if (d === undefined) throw new TypeError(`neither vfio.h nor iommufd.h has an ioctl ${name}`);
  return d;
}

/**
 * Opens `path` read-write for a VFIO object, with a message that says what is
 * missing when it fails.
 * @throws SyscallError (`open`): `ENOENT` (see `isNoDevice`), `EACCES`/`EPERM` (see `isPermissionDenied`), `EBUSY`.
 */
export function openVfioPath(path: string, what: string): OwnedFd {
  try {
    return OwnedFd.open(path, O_RDWR);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    const why: Record<string, string> = {
      ENOENT: `no ${what} (is the vfio module loaded and the device bound to vfio-pci?)`,
      ENODEV: `no ${what}`,
      EACCES: `permission denied for the ${what} (run as root or get access to ${path})`,
      EPERM: `permission denied for the ${what}`,
      EBUSY: `the ${what} is in use by another process or fd`,
    };
    const hint = why[error.code];
    throw hint ? new SyscallError('open', error.errno, path, `${error.message}: ${hint}`) : error;
  }
}

/**
 * Runs `init(object)` on a freshly made object and returns it; if `init`
 * throws, the object is closed first (so a failed constructor leaks no fd).
 */
export function initOrClose<T extends Disposable>(object: T, init: (object: T) => void): T {
  try {
    init(object);
    return object;
  } catch (error) {
    object[Symbol.dispose]();
    throw error;
  }
}

/**
 * Runs `open(own)`, where `own(x)` registers a resource (an fd object, an
 * IOAS, ...) and returns it; returns `open`'s result with a `Symbol.dispose`
 * that disposes every registered resource, last first (devices before the
 * IOAS they are attached to, before the iommufd). If `open` throws, what was
 * registered so far is disposed before the error is rethrown. `own` stays
 * usable after `open` returns (a resource owned later is disposed first). Node 20 has no
 * `DisposableStack`; this is the part of it the examples need.
 */
export function disposingAll<T extends object>(open: (own: <D extends Disposable>(resource: D) => D) => T): T & Disposable {
  const owned: Disposable[] = [];
  const dispose = () => {
    for (const resource of owned.splice(0).reverse()) resource[Symbol.dispose]();
  };
  try {
    return Object.assign(open((resource) => (owned.push(resource), resource)), { [Symbol.dispose]: dispose });
  } catch (error) {
    dispose();
    throw error;
  }
}
