/**
 * The guest architectures of the VM harness, as data: QEMU binary and machine,
 * console, how the 9p shares and the test devices are attached, Debian's names
 * for the architecture and its kernel flavour, where the guest's node comes
 * from and which system-call backend the runtime uses there.
 *
 * Everything architecture-specific in conformance/vm and conformance/suite is
 * read from this table; code never asks `arch === ...`.
 */

/** A guest architecture the harness boots. */
export type ArchName = 'x86_64' | 'ppc64le' | 's390x' | 'aarch64';

/** One emulated device given to the guest (and bound to vfio-pci by its init). */
export interface TestDevice {
  /** QEMU `id=` of the device. */
  readonly id: string;
  /** QEMU device model. */
  readonly model: 'edu' | 'e1000e' | 'virtio-rng';
  readonly vendor: number;
  readonly device: number;
  /**
   * How the init recognises the device in sysfs: the path of its PCI device
   * under `/sys/devices/` up to the first component below the host bridge
   * (`pci0000:00/0000:00:10.0`), matched as a shell `case` glob.
   */
  readonly sysfsMatch: string;
  /** Where it sits, for humans. */
  readonly topology: string;
  /** QEMU arguments that create it (and its bridges). */
  readonly qemuArgs: readonly string[];
}

/** A 9p share as the QEMU command line attaches it. */
export interface ShareSpec {
  /** fsdev id. */
  id: string;
  /** Host directory. */
  path: string;
  /** Mount tag the guest mounts. */
  tag: string;
  readonly: boolean;
  /** Index of the share (0, 1, 2): picks its slot. */
  index: number;
}

/** What the guest suite needs to know about the platform (conformance/suite/types.ts `GuestPlatform`, without `arch`). */
export interface PlatformSpec {
  readonly iommu: 'type1' | 'spapr';
  readonly foreignIommu: string;
  readonly extensions: Readonly<Record<string, number>>;
  readonly eduOrder: 'LE' | 'BE';
  readonly mmioAccess: boolean;
  readonly iovaBase: number;
}

const TYPE1_EXTENSIONS = {
  VFIO_TYPE1_IOMMU: 1, VFIO_TYPE1v2_IOMMU: 1, VFIO_UNMAP_ALL: 1, VFIO_SPAPR_TCE_IOMMU: 0, VFIO_SPAPR_TCE_v2_IOMMU: 0, VFIO_EEH: 0,
};

/**
 * Where the guest's node binary comes from. Foreign architectures take sid's
 * nodejs: trixie's point-release .debs of foreign architectures answer 404 on
 * the mirror we use (its lists name files the pool does not hold), sid's pool
 * has what its lists name.
 */
export type GuestNode =
  /** The host's own node (the guest has the host's architecture). */
  | { kind: 'host' }
  /** Debian's `nodejs` for the guest's architecture, unpacked with its library dependencies into a cached root. */
  | { kind: 'debian'; suite: string; dynamicLoader: string; libDirs: readonly string[] };

/** Which backend the runtime's system calls use in the guest (see runtime/libc.ts). */
export type SyscallBackend = 'koffi' | 'napi';

/** One row of the architecture table. */
export interface Arch {
  readonly name: ArchName;
  /** ABI name in generator/abi/abis.ts (the guest's bindings). */
  readonly abi: string;
  /** Debian architecture (`dpkg --print-architecture`). */
  readonly debianArch: string;
  /** Debian's kernel metapackage of the flavour we boot. */
  readonly kernelMeta: string;
  /** Kernel image candidates inside an unpacked kernel package (`{v}` = release), first found wins. */
  readonly kernelImages: readonly string[];
  /** Try the x86 PVH entry of the unpacked vmlinux (x86_64 only). */
  readonly pvh: boolean;
  readonly qemu: {
    readonly binary: string;
    /** Debian package of the binary (for error messages and scripts/setup.sh). */
    readonly package: string;
    /** Machine, CPU and firmware options. */
    readonly machine: readonly string[];
    /** Options of `-accel kvm` (used with `--accel kvm`). */
    readonly kvmCpu: readonly string[];
    /** Devices created before any other (vIOMMU, console device). */
    readonly early: readonly string[];
    /** Console device the kernel writes to. */
    readonly console: string;
    /** Extra kernel command line. */
    readonly cmdline: string;
    /** QEMU arguments of one 9p share. */
    share(s: ShareSpec): string[];
  };
  /** Kernel modules the init loads to mount the 9p shares (besides 9p itself). */
  readonly transportModules: readonly string[];
  /** The VFIO modules: vfio, the container's IOMMU backend, vfio-pci. */
  readonly vfioModules: readonly string[];
  /** IOMMU drivers the init loads when they are modules (not an error if built in or absent). */
  readonly iommuModules: readonly string[];
  /** The emulated devices bound to vfio-pci. */
  readonly devices: readonly TestDevice[];
  readonly node: GuestNode;
  readonly syscalls: SyscallBackend;
  /** GNU triplet of the cross compiler for the napi backend (`<triplet>-gcc`), and its Debian package. */
  readonly cross?: { readonly triplet: string; readonly package: string };
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** The guest suite's view of the platform. */
  readonly platform: PlatformSpec;
  /** Huge pages the init reserves (`/proc/sys/vm/nr_hugepages`): the sPAPR 64K-IOMMU-page window needs hugetlbfs memory. */
  readonly hugepages: number;
}

const EDU = { model: 'edu', vendor: 0x1234, device: 0x11e8 } as const;
const E1000E = { model: 'e1000e', vendor: 0x8086, device: 0x10d3 } as const;
/** virtio-rng, modern-only (`disable-legacy=on`): device id 0x1040 + 4. */
const VIRTIO_RNG = { model: 'virtio-rng', vendor: 0x1af4, device: 0x1044 } as const;

const P9 = (s: ShareSpec) => `local,id=${s.id},path=${s.path},security_model=none,multidevs=remap${s.readonly ? ',readonly=on' : ''}`;

/**
 * - x86_64: q35 + intel-iommu; `edu0` on the root bus, `edu1` behind
 *   pcie-root-port > pcie-pci-bridge (a bus reset exists for it), `nic0` an
 *   e1000e (MSI-X).
 * - ppc64le: pseries (VOF firmware) with the sPAPR TCE IOMMU; each device on its
 *   own PHB, since the devices of one PHB share one IOMMU group.
 * - s390x: s390-ccw-virtio; a modern virtio-rng behind a zPCI function
 *   (QEMU has no edu for s390x); the shares on virtio-ccw.
 * - aarch64: virt with SMMUv3 and GICv3; edu on the root bus.
 */
export const ARCHES: Readonly<Record<ArchName, Arch>> = {
  x86_64: {
    name: 'x86_64',
    abi: 'x86_64',
    debianArch: 'amd64',
    kernelMeta: 'linux-image-amd64',
    kernelImages: ['boot/vmlinuz-{v}'],
    pvh: true,
    qemu: {
      binary: 'qemu-system-x86_64',
      package: 'qemu-system-x86',
      machine: ['-M', 'q35,kernel-irqchip=split', '-cpu', 'max'],
      kvmCpu: ['-cpu', 'host'],
      early: ['-serial', 'chardev:console', '-device', 'intel-iommu,intremap=on,caching-mode=on'],
      console: 'ttyS0',
      // no_timer_check: under TCG the IO-APIC timer check through interrupt remapping can fail early in boot (seen on 6.12).
      cmdline: 'intel_iommu=on iommu=pt random.trust_cpu=on no_timer_check',
      share: (s) => ['-fsdev', P9(s), '-device', `virtio-9p-pci,fsdev=${s.id},mount_tag=${s.tag},bus=pcie.0,addr=0x${(4 + s.index).toString(16)}`],
    },
    transportModules: ['virtio_pci', '9pnet_virtio'],
    vfioModules: ['vfio', 'vfio_iommu_type1', 'vfio_pci'],
    iommuModules: [],
    devices: [
      { id: 'edu0', ...EDU, sysfsMatch: 'pci0000:00/0000:00:10.0', topology: 'root bus', qemuArgs: ['-device', 'edu,id=edu0,bus=pcie.0,addr=0x10'] },
      {
        id: 'edu1', ...EDU, sysfsMatch: 'pci0000:00/0000:00:11.0', topology: 'pcie-root-port > pcie-pci-bridge',
        qemuArgs: [
          '-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x11',
          '-device', 'pcie-pci-bridge,id=br0,bus=rp0',
          '-device', 'edu,id=edu1,bus=br0,addr=0x1',
        ],
      },
      { id: 'nic0', ...E1000E, sysfsMatch: 'pci0000:00/0000:00:12.0', topology: 'root bus', qemuArgs: ['-device', 'e1000e,id=nic0,bus=pcie.0,addr=0x12'] },
    ],
    node: { kind: 'host' },
    syscalls: 'koffi',
    memoryMiB: 1024,
    platform: { iommu: 'type1', foreignIommu: 'VFIO_SPAPR_TCE_IOMMU', extensions: TYPE1_EXTENSIONS, eduOrder: 'LE', mmioAccess: true, iovaBase: 0x100000 },
    hugepages: 0,
  },
  ppc64le: {
    name: 'ppc64le',
    abi: 'ppc64le',
    debianArch: 'ppc64el',
    kernelMeta: 'linux-image-powerpc64le',
    kernelImages: ['boot/vmlinux-{v}', 'boot/vmlinuz-{v}'],
    pvh: false,
    qemu: {
      binary: 'qemu-system-ppc64',
      package: 'qemu-system-ppc',
      // VOF boots as fast as SLOF and needs no firmware blob; no nested HV under TCG.
      machine: ['-M', 'pseries,x-vof=on,cap-htm=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off'],
      kvmCpu: [],
      early: ['-device', 'spapr-vty,chardev=console'],
      console: 'hvc0',
      cmdline: '',
      // The shares sit on PHB 0 (the default one); test devices each get their own PHB.
      share: (s) => ['-fsdev', P9(s), '-device', `virtio-9p-pci,fsdev=${s.id},mount_tag=${s.tag},bus=pci.0,addr=0x${(4 + s.index).toString(16)}`],
    },
    transportModules: ['virtio_pci', '9pnet_virtio'],
    vfioModules: ['vfio', 'vfio_iommu_spapr_tce', 'vfio_pci'],
    iommuModules: [],
    devices: [
      {
        id: 'edu0', ...EDU, sysfsMatch: 'pci0001:00/0001:00:01.0', topology: 'own PHB (spapr-pci-host-bridge index 1)',
        qemuArgs: ['-device', 'spapr-pci-host-bridge,index=1,id=phb1', '-device', 'edu,id=edu0,bus=phb1.0,addr=0x1'],
      },
      {
        id: 'edu1', ...EDU, sysfsMatch: 'pci0002:00/0002:00:01.0', topology: 'own PHB (spapr-pci-host-bridge index 2)',
        qemuArgs: ['-device', 'spapr-pci-host-bridge,index=2,id=phb2', '-device', 'edu,id=edu1,bus=phb2.0,addr=0x1'],
      },
    ],
    node: { kind: 'debian', suite: 'sid', dynamicLoader: 'lib/powerpc64le-linux-gnu/ld64.so.2', libDirs: ['lib/powerpc64le-linux-gnu', 'usr/lib/powerpc64le-linux-gnu'] },
    syscalls: 'napi',
    cross: { triplet: 'powerpc64le-linux-gnu', package: 'gcc-powerpc64le-linux-gnu' },
    memoryMiB: 2048,
    platform: {
      iommu: 'spapr',
      foreignIommu: 'VFIO_TYPE1v2_IOMMU',
      extensions: { VFIO_TYPE1_IOMMU: 0, VFIO_TYPE1v2_IOMMU: 0, VFIO_UNMAP_ALL: 0, VFIO_SPAPR_TCE_IOMMU: 1, VFIO_SPAPR_TCE_v2_IOMMU: 1 },
      eduOrder: 'BE',
      mmioAccess: true,
      iovaBase: 0x100000,
    },
    hugepages: 4,
  },
  s390x: {
    name: 's390x',
    abi: 's390x',
    debianArch: 's390x',
    kernelMeta: 'linux-image-s390x',
    kernelImages: ['boot/vmlinuz-{v}'],
    pvh: false,
    qemu: {
      binary: 'qemu-system-s390x',
      package: 'qemu-system-misc',
      machine: ['-M', 's390-ccw-virtio', '-cpu', 'max'],
      kvmCpu: ['-cpu', 'host'],
      early: ['-device', 'sclpconsole,chardev=console'],
      console: 'ttysclp0',
      cmdline: '',
      share: (s) => ['-fsdev', P9(s), '-device', `virtio-9p-ccw,fsdev=${s.id},mount_tag=${s.tag}`],
    },
    // virtio_ccw is built into Debian's s390x kernels (not listed in modules.builtin).
    transportModules: ['9pnet_virtio'],
    vfioModules: ['vfio', 'vfio_iommu_type1', 'vfio_pci'],
    iommuModules: [],
    devices: [
      {
        id: 'rng0', ...VIRTIO_RNG, sysfsMatch: 'pci0001:00/0001:00:00.0', topology: 'zPCI function uid 1 fid 0',
        // The zpci device first: a PCI device without one gets an automatic zpci.
        qemuArgs: ['-device', 'zpci,uid=1,fid=0,target=rng0,id=zpci1', '-device', 'virtio-rng-pci,id=rng0,disable-legacy=on,iommu_platform=on'],
      },
    ],
    node: { kind: 'debian', suite: 'sid', dynamicLoader: 'lib/ld64.so.1', libDirs: ['lib/s390x-linux-gnu', 'usr/lib/s390x-linux-gnu'] },
    syscalls: 'napi',
    cross: { triplet: 's390x-linux-gnu', package: 'gcc-s390x-linux-gnu' },
    memoryMiB: 1024,
    // s390-iommu's aperture starts at 4 GiB (above guest RAM): IOVA_RANGE [0x100000000, 0x13fffffff] on 7.2.
    platform: { iommu: 'type1', foreignIommu: 'VFIO_SPAPR_TCE_IOMMU', extensions: TYPE1_EXTENSIONS, eduOrder: 'BE', mmioAccess: false, iovaBase: 0x100100000 },
    hugepages: 0,
  },
  aarch64: {
    name: 'aarch64',
    abi: 'aarch64',
    debianArch: 'arm64',
    kernelMeta: 'linux-image-arm64',
    kernelImages: ['boot/vmlinuz-{v}'],
    pvh: false,
    qemu: {
      binary: 'qemu-system-aarch64',
      package: 'qemu-system-arm',
      // pauth-impdef: QEMU's own pointer-authentication algorithm, much faster under TCG than QARMA.
      machine: ['-M', 'virt,iommu=smmuv3,gic-version=3', '-cpu', 'max,pauth-impdef=on'],
      kvmCpu: ['-cpu', 'host'],
      early: ['-serial', 'chardev:console'],
      console: 'ttyAMA0',
      cmdline: '',
      share: (s) => ['-fsdev', P9(s), '-device', `virtio-9p-pci,fsdev=${s.id},mount_tag=${s.tag},bus=pcie.0,addr=0x${(4 + s.index).toString(16)}`],
    },
    transportModules: ['virtio_pci', '9pnet_virtio'],
    vfioModules: ['vfio', 'vfio_iommu_type1', 'vfio_pci'],
    iommuModules: ['arm_smmu_v3'],
    devices: [
      { id: 'edu0', ...EDU, sysfsMatch: 'pci0000:00/0000:00:10.0', topology: 'root bus', qemuArgs: ['-device', 'edu,id=edu0,bus=pcie.0,addr=0x10'] },
    ],
    node: { kind: 'debian', suite: 'sid', dynamicLoader: 'lib/ld-linux-aarch64.so.1', libDirs: ['lib/aarch64-linux-gnu', 'usr/lib/aarch64-linux-gnu'] },
    syscalls: 'koffi',
    memoryMiB: 1024,
    platform: { iommu: 'type1', foreignIommu: 'VFIO_SPAPR_TCE_IOMMU', extensions: TYPE1_EXTENSIONS, eduOrder: 'LE', mmioAccess: true, iovaBase: 0x100000 },
    hugepages: 0,
  },
};

/** All architectures, the host's first. */
export const ARCH_NAMES: readonly ArchName[] = ['x86_64', 'ppc64le', 's390x', 'aarch64'];

/** The table row of `name`; throws naming the known ones. */
export function archByName(name: string): Arch {
  const arch = (ARCHES as Record<string, Arch | undefined>)[name];
  if (!arch) throw new Error(`unknown architecture ${JSON.stringify(name)} (expected one of ${ARCH_NAMES.join(', ')})`);
  return arch;
}

/** The architecture whose kernels and node the host can run itself. */
export const HOST_ARCH: ArchName = 'x86_64';
