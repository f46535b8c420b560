/**
 * The emulated PCI devices the guest gets, and that its init binds to vfio-pci.
 */

/** One emulated PCI device given to the guest. */
export interface TestDevice {
  /** QEMU `id=` of the device. */
  readonly id: string;
  /** QEMU device model. */
  readonly model: 'edu' | 'e1000e';
  readonly vendor: number;
  readonly device: number;
  /** Slot on the root bus (pcie.0) of the device, or of the root port it sits behind. */
  readonly rootSlot: number;
  /** Where it sits, for humans. */
  readonly topology: string;
  /** QEMU arguments that create it (and its bridges). */
  readonly qemuArgs: readonly string[];
}

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
  /** QEMU device model, `null` if unknown. */
  qemuModel: string | null;
  /** Always `vfio-pci` (the init fails the run otherwise). */
  driver: string;
}

/**
 * - `edu0`: QEMU's educational device (MSI, DMA engine) on the root bus.
 * - `edu1`: a second edu behind pcie-root-port -> pcie-pci-bridge, so a bus
 *   reset exists for it (hot-reset info).
 * - `nic0`: an e1000e on the root bus (MSI-X, 5 vectors).
 */
export const TEST_DEVICES: readonly TestDevice[] = [
  {
    id: 'edu0',
    model: 'edu',
    vendor: 0x1234,
    device: 0x11e8,
    rootSlot: 0x10,
    topology: 'root bus',
    qemuArgs: ['-device', 'edu,id=edu0,bus=pcie.0,addr=0x10'],
  },
  {
    id: 'edu1',
    model: 'edu',
    vendor: 0x1234,
    device: 0x11e8,
    rootSlot: 0x11,
    topology: 'pcie-root-port > pcie-pci-bridge',
    qemuArgs: [
      '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x11',
      '-device', 'pcie-pci-bridge,id=br0,bus=rp0',
      '-device', 'edu,id=edu1,bus=br0,addr=0x1',
    ],
  },
  {
    id: 'nic0',
    model: 'e1000e',
    vendor: 0x8086,
    device: 0x10d3,
    rootSlot: 0x12,
    topology: 'root bus',
    qemuArgs: ['-device', 'e1000e,id=nic0,bus=pcie.0,addr=0x12'],
  },
];

/** `0x1234` style, as sysfs prints vendor/device. */
export function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
