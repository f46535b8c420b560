/**
 * Data shared by the host side (which builds the manifest and renders the
 * matrix) and the guest side (which runs the checks) of the live conformance
 * suite. Types only: importing this module loads nothing.
 */

/**
 * What happened to one ioctl:
 * - `pass`: exercised, and it behaved as documented;
 * - `refused`: the kernel refused it, as it should on this kernel/setup, with the expected errno;
 * - `n/a`: it cannot be exercised on this setup (the detail says what it needs);
 * - `fail`: it misbehaved, or the bindings disagree with the kernel.
 */
export type Verdict = 'pass' | 'refused' | 'n/a' | 'fail';

/** Every verdict, in the order reports list them. */
export const VERDICTS: readonly Verdict[] = ['pass', 'refused', 'n/a', 'fail'];

/** A verdict and the evidence for it. */
export interface VerdictEntry {
  verdict: Verdict;
  detail: string;
}

/** One member of a record, by C member-access path (anonymous members flattened). */
export interface ManifestField {
  offset: number;
  size: number;
  /** The C type as written (`__u32`, `struct vfio_bitmap`, `__u8[]`). */
  type: string;
  /** For arrays: the element count (0 for a flexible array member). */
  count?: number;
}

/** A record of the kernel's header, laid out for the ABI of the manifest. */
export interface ManifestRecord {
  /** `struct` or `union`. */
  tag: string;
  size: number;
  align: number;
  fields: Record<string, ManifestField>;
  /** Set only by a deliberate corruption: the record's integers are in the opposite byte order to the ABI's. */
  swapped?: boolean;
}

/** An ioctl of the kernel's header, with its request number on the manifest's ABI. */
export interface ManifestIoctl {
  name: string;
  /** The request number, as our layout evaluates the `_IO*` macro. */
  number: number;
  /** The fd it applies to, from the header's section banners. */
  fd: 'container' | 'group' | 'device' | 'iommufd' | 'unknown';
  /** Its argument as the generator reads it from the header (`record` names a struct of `records`). */
  arg:
    | { kind: 'none' }
    | { kind: 'struct'; record: string; direction: 'in' | 'out' | 'inout' }
    | { kind: 'scalar'; cType: string; direction: 'in' | 'out' | 'inout' | 'value' }
    | { kind: 'string' }
    | { kind: 'unknown'; reason: string };
  /** Line of the `#define`. */
  line: number;
  /** The header that defines it when it is not the manifest's main `vfio.h` (`iommufd.h`). */
  header?: string;
}

/**
 * What the guest suite needs to know about the platform it runs on (from the
 * architecture table, conformance/vm/arches.ts), so that no stage asks which
 * architecture it is on.
 */
export interface GuestPlatform {
  /** `x86_64`, `ppc64le`, `s390x`, `aarch64` (or `host`). */
  arch: string;
  /** The container's IOMMU model: type1 (`VFIO_TYPE1v2_IOMMU`) or sPAPR TCE (`VFIO_SPAPR_TCE_v2_IOMMU`, and v1). */
  iommu: 'type1' | 'spapr';
  /** A container type this platform must refuse with ENODEV (no such IOMMU driver here). */
  foreignIommu: string;
  /** `VFIO_CHECK_EXTENSION` answers fixed on this platform (others are recorded as they are). */
  extensions: Record<string, number>;
  /** Byte order of QEMU's edu registers as the guest reads them (edu is native-endian to QEMU's target: big on ppc64). */
  eduOrder: 'LE' | 'BE';
  /** Whether CPU loads and stores to an mmapped BAR work (s390x without the pcimio facility: they kill the process). */
  mmioAccess: boolean;
  /** Lowest IOVA the suite maps (a device's DMA mask and the IOMMU's aperture permitting). */
  iovaBase: number;
}

/**
 * Everything the guest needs to know about the running kernel's own `vfio.h`,
 * computed on the host by our generator (parse, ioctl associations, layout):
 * the guest checks the kernel against it.
 */
export interface Manifest {
  header: {
    path: string;
    /** The corpus version (`6.1.187`). */
    version: string;
    sha256: string;
  };
  /** Further headers of the same kernel merged in (`iommufd.h` for the custom kernel). */
  headers?: Manifest['header'][];
  /** The ABI the numbers and layouts are for (`x86_64`). */
  abi: string;
  /** The platform the suite runs on. */
  platform: GuestPlatform;
  ioctls: ManifestIoctl[];
  /** Every integer constant of the header: a number, or a decimal string beyond 2^53. */
  constants: Record<string, number | string>;
  /** Every named record of the header, by name without the tag. */
  records: Record<string, ManifestRecord>;
  /** Capability ids of the info structs, with the record of each capability. */
  capabilities: { info: string; id: string; value: number; record?: string }[];
  /** The `VFIO_DEVICE_FEATURE_*` feature ids (not the flag bits, not the values of a feature's fields). */
  features: string[];
  /** The `VFIO_CHECK_EXTENSION` arguments: the constants defined between `VFIO_API_VERSION` and `VFIO_TYPE`. */
  extensions: string[];
  /** The header's macros that are not integer constants (function-like, empty, strings...), each with the reason. */
  notConstants: { name: string; reason: string }[];
  /** Deliberate corruptions applied to this manifest (tests of the suite itself); empty normally. */
  injected: string[];
}

/** One check the guest made, for the log. */
export interface CheckRecord {
  /** The ioctl (or `VFIO_DEVICE_FEATURE_*` id, or `setup`) it was about. */
  subject: string;
  ok: boolean;
  text: string;
}

/** The DMA checks run in each IOMMU backend (backends.ts), as found. */
export interface BackendMatrix {
  /** The edu they ran on. */
  device: string;
  /** `vfio_type1_iommu`, ..., `iommufd` (the kernel selftests' names). */
  backends: string[];
  checks: {
    id: string;
    what: string;
    /** What the kernel source documents about the backends' behaviour here, when it does. */
    documented?: string;
    /** Whether the backends' answers differ. */
    differs: boolean;
    cells: Record<string, { text: string; ok: boolean }>;
  }[];
}

/** What the guest script writes to `$VFIO_UAPI_RESULT`. */
export interface GuestResult {
  /** `uname -r`. */
  kernel: string;
  header: Manifest['header'];
  /** A verdict for every ioctl of the manifest. */
  ioctls: Record<string, VerdictEntry>;
  /** A verdict for every `VFIO_DEVICE_FEATURE_*` id of the manifest (probe results). */
  features: Record<string, VerdictEntry>;
  /** The edu example driver (`dist/examples/edu.js`), when it exists. */
  example: VerdictEntry;
  /** Every check, in order. */
  checks: CheckRecord[];
  /** The backend matrix, on kernels with iommufd (the custom kernel). */
  backends?: BackendMatrix;
  /** Wall time of the suite inside the guest, in ms. */
  elapsedMs: number;
}
