/**
 * Guest side: the state the checks share (the kernel ABI, the verdicts, the
 * devices and their open fds) and the small I/O helpers they use: issuing an
 * ioctl by name, region reads and writes, eventfd waits.
 */
import { EventFd, OwnedFd, ioctl, libc } from 'vfio-uapi/runtime';
import type { KernelAbi } from './kabi.js';
import type { GuestPlatform } from './types.js';
import type { Verdicts } from './verdicts.js';

/** A device the harness bound to vfio-pci (`$VFIO_UAPI_DEVICES`). */
export interface DeviceEntry {
  bdf: string;
  vendor: string;
  device: string;
  iommuGroup: number;
  qemuId?: string | null;
  qemuModel?: string | null;
}

/** What the suite learnt about one region of a device. */
export interface RegionInfo {
  index: number;
  flags: number;
  size: bigint;
  offset: bigint;
  capabilities: { id: number; name: string }[];
}

/** An open device and what the suite learnt about it. */
export interface OpenDevice {
  entry: DeviceEntry;
  /** `edu` for QEMU's edu (1234:11e8), `e1000e` for 8086:10d3, `virtio-rng` for 1af4:1044, else `other`. */
  model: 'edu' | 'e1000e' | 'virtio-rng' | 'other';
  fd: OwnedFd;
  flags: number;
  numRegions: number;
  numIrqs: number;
  regions: RegionInfo[];
  /** IRQ counts by index. */
  irqCounts: number[];
}

/** The shared state of a run. */
export class Context {
  container?: OwnedFd;
  /** Group fds by group number. */
  readonly groups = new Map<number, OwnedFd>();
  /** Open devices by BDF. */
  readonly devices = new Map<string, OpenDevice>();
  /** Whether `VFIO_SET_IOMMU` succeeded. */
  iommuSet = false;

  constructor(
    readonly k: KernelAbi,
    readonly v: Verdicts,
    readonly entries: readonly DeviceEntry[],
    readonly log: (line: string) => void,
  ) {}

  /** The platform the suite runs on (from the manifest). */
  get platform(): GuestPlatform {
    return this.k.manifest.platform;
  }

  /**
   * A 32-bit edu register value as read by pread (or to write by pwrite):
   * edu's registers are native-endian to QEMU's target, so byte-swapped on a
   * big-endian target (ppc64) seen from a little-endian guest. An involution.
   */
  edu32(value: number): number {
    return this.platform.eduOrder === 'LE' ? value >>> 0 : bswap32(value);
  }

  /** Issues ioctl `name` (the kernel header's number) on `fd`; throws IoctlError. */
  call(fd: number | OwnedFd, name: string, arg?: number | bigint | Uint8Array): number {
    return ioctl(typeof fd === 'number' ? fd : fd.fd, this.k.request(name), arg);
  }

  /** The first open device of `model`, if any (by QEMU id order when known). */
  deviceOf(model: OpenDevice['model'], qemuId?: string): OpenDevice | undefined {
    const all = [...this.devices.values()].filter((d) => d.model === model);
    return (qemuId ? all.find((d) => d.entry.qemuId === qemuId) : undefined) ?? all[0];
  }
}

/** Reads `size` (1, 2, 4) bytes at `offset` of a device fd (a region offset plus the offset in it). */
export function readRegion(fd: OwnedFd, offset: bigint | number, size: 1 | 2 | 4 = 4): number {
  const buf = new Uint8Array(size);
  const n = libc().pread(fd.fd, buf, size, BigInt(offset));
  if (n !== size) throw new Error(`pread of ${size} bytes at 0x${BigInt(offset).toString(16)} returned ${n}`);
  const v = new DataView(buf.buffer);
  return size === 1 ? v.getUint8(0) : size === 2 ? v.getUint16(0, true) : v.getUint32(0, true);
}

/** Writes `size` (1, 2, 4) bytes at `offset` of a device fd. */
export function writeRegion(fd: OwnedFd, offset: bigint | number, value: number, size: 1 | 2 | 4 = 4): void {
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  if (size === 1) v.setUint8(0, value);
  else if (size === 2) v.setUint16(0, value, true);
  else v.setUint32(0, value >>> 0, true);
  const n = libc().pwrite(fd.fd, buf, size, BigInt(offset));
  if (n !== size) throw new Error(`pwrite of ${size} bytes at 0x${BigInt(offset).toString(16)} returned ${n}`);
}

/** Polls `cond` every `stepMs` (sleeping the thread) until it holds or `timeoutMs` passes. */
export function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 5): boolean {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, stepMs);
  }
}

/** Whether `fd` fires within `timeoutMs`; reads (clears) its counter when it does. */
export function fired(fd: EventFd, timeoutMs: number): boolean {
  if (!fd.wait(timeoutMs)) return false;
  fd.read();
  return true;
}

/** Bytes of 32-bit integers in the process's byte order (eventfds for SET_IRQS data, group fds for hot reset). */
export function int32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

/** `0000:02:01.0` → segment, bus, devfn. */
export function parseBdf(bdf: string): { segment: number; bus: number; devfn: number } {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(bdf);
  if (!m) throw new Error(`not a PCI address: ${bdf}`);
  return { segment: parseInt(m[1]!, 16), bus: parseInt(m[2]!, 16), devfn: (parseInt(m[3]!, 16) << 3) | Number(m[4]) };
}

/** The 32-bit value with its bytes reversed. */
export function bswap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

/** `0x1234`-style hex. */
export function hex(n: number | bigint, width = 0): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}
