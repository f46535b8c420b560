/**
 * The emulated PCI devices the guest gets, and that its init binds to vfio-pci.
 */

import { ARCHES } from './arches.js';

export type { TestDevice } from './arches.js';

/** What the guest reports for each device it bound to vfio-pci (`VFIO_UAPI_DEVICES`). */
export interface GuestDevice {
  /** PCI address, `0000:00:10.0`. */
  bdf: string;
  /** `0x1234` */
  vendor: string;
  /** `0x11e8` */
  device: string;
  iommuGroup: number;
  /** QEMU `id=` ({@link TestDevice.id}), `null` if the device was not one we placed. */
  qemuId: string | null;
  /** QEMU device model (`edu`, `e1000e`, `virtio-rng`), `null` if unknown. */
  qemuModel: string | null;
  /** Always `vfio-pci` (the init fails the run otherwise). */
  driver: string;
}

/** The x86_64 guest's devices (each architecture's are in its row of {@link ARCHES}). */
export const TEST_DEVICES = ARCHES.x86_64.devices;

/** `0x1234` style, as sysfs prints vendor/device. */
export function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
