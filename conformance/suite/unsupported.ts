/**
 * Guest side: the ioctls this setup cannot exercise (SPAPR TCE, EEH, mdev
 * display devices, migration data fds, the iommufd cdev path). Each is still
 * issued where that is harmless, on the fd it belongs to, and must be refused
 * the documented way (ENOTTY); the verdict is `n/a` with what it needs.
 */
import { existsSync } from 'node:fs';
import { hex, type Context } from './context.js';
import { SPAPR_IOCTLS } from './spapr.js';
import { attempt } from './verdicts.js';

interface Unsupported {
  fd: 'container' | 'device';
  needs: string;
  /** Errnos that are the documented refusal here. */
  errnos: readonly string[];
}

const SPAPR = 'needs the SPAPR TCE IOMMU (IBM POWER); this is a type1 container';
const IOMMUFD = existsSync('/dev/iommu') && existsSync('/dev/vfio/devices')
  ? 'needs a device opened through /dev/vfio/devices and bound to iommufd; this suite opens devices through their groups'
  : `needs the iommufd cdev path, absent here (${['/dev/iommu', '/dev/vfio/devices'].filter((p) => !existsSync(p)).join(', ')} missing: kernel without CONFIG_IOMMUFD / CONFIG_VFIO_DEVICE_CDEV)`;

/** The ioctls that need something this setup lacks, by name. */
const UNSUPPORTED: Record<string, Unsupported> = {
  VFIO_IOMMU_ENABLE: { fd: 'container', needs: `${SPAPR} (SPAPR TCE v1 only)`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_DISABLE: { fd: 'container', needs: `${SPAPR} (SPAPR TCE v1 only)`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_SPAPR_TCE_GET_INFO: { fd: 'container', needs: SPAPR, errnos: ['ENOTTY'] },
  VFIO_EEH_PE_OP: { fd: 'container', needs: `${SPAPR} with EEH`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: { fd: 'container', needs: `${SPAPR} (v2)`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: { fd: 'container', needs: `${SPAPR} (v2)`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_SPAPR_TCE_CREATE: { fd: 'container', needs: `${SPAPR} (v2)`, errnos: ['ENOTTY'] },
  VFIO_IOMMU_SPAPR_TCE_REMOVE: { fd: 'container', needs: `${SPAPR} (v2)`, errnos: ['ENOTTY'] },
  VFIO_DEVICE_QUERY_GFX_PLANE: { fd: 'device', needs: 'needs an mdev display device (i915 GVT-g, or the mdpy/mbochs samples); vfio-pci has no display', errnos: ['ENOTTY'] },
  VFIO_DEVICE_GET_GFX_DMABUF: { fd: 'device', needs: 'needs an mdev display device (i915 GVT-g, or the mdpy/mbochs samples); vfio-pci has no display', errnos: ['ENOTTY'] },
  VFIO_MIG_GET_PRECOPY_INFO: {
    fd: 'device',
    needs: 'an ioctl of the migration data fd of VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: needs a migration-capable variant driver (VFIO_DEVICE_FEATURE_MIGRATION probe: ENOTTY)',
    errnos: ['ENOTTY'],
  },
  // Without CONFIG_VFIO_DEVICE_CDEV the bind stub is ENOTTY; with it, a group-opened fd gets EINVAL.
  VFIO_DEVICE_BIND_IOMMUFD: { fd: 'device', needs: IOMMUFD, errnos: ['ENOTTY', 'EINVAL'] },
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: { fd: 'device', needs: IOMMUFD, errnos: ['ENOTTY'] },
  VFIO_DEVICE_DETACH_IOMMUFD_PT: { fd: 'device', needs: IOMMUFD, errnos: ['ENOTTY'] },
};

/** Container ioctls a type1 container implements: an unsupported ioctl with one of their numbers cannot be issued meaningfully. */
const TYPE1_CONTAINER_IOCTLS = [
  'VFIO_GET_API_VERSION', 'VFIO_CHECK_EXTENSION', 'VFIO_SET_IOMMU', 'VFIO_IOMMU_GET_INFO',
  'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA', 'VFIO_IOMMU_DIRTY_PAGES',
];

/** Gives every unsupported ioctl of the header its n/a verdict, after checking how the kernel refuses it. */
export function unsupportedChecks(ctx: Context): void {
  const { k, v } = ctx;
  const device = [...ctx.devices.values()][0];
  for (const spec of k.manifest.ioctls) {
    const u = UNSUPPORTED[spec.name];
    if (!u) continue;
    // On sPAPR the sPAPR stage gives these their verdicts.
    if (ctx.platform.iommu === 'spapr' && (SPAPR_IOCTLS as readonly string[]).includes(spec.name)) continue;
    v.run(spec.name, 'unsupported', () => {
      const collision = u.fd === 'container'
        ? TYPE1_CONTAINER_IOCTLS.find((n) => n !== spec.name && k.ioctl(n)?.number === spec.number)
        : undefined;
      if (collision) {
        v.na(spec.name, `${u.needs}; its request ${hex(spec.number)} is also ${collision}'s, which the type1 container implements, so it is not issued`);
        return;
      }
      const fd = u.fd === 'container' ? ctx.container : device?.fd;
      if (!fd) { v.na(spec.name, `${u.needs}; no ${u.fd} fd open to probe it`); return; }
      const arg = new Uint8Array(256);
      const rec = spec.arg.kind === 'struct' ? spec.arg.record : undefined;
      if (rec && k.record(rec).fields.argsz) arg.set(k.encode(rec, spec.name === 'VFIO_DEVICE_BIND_IOMMUFD' ? { iommufd: -1 } : {}));
      const r = attempt(() => ctx.call(fd, spec.name, arg));
      const what = `${spec.name} on the ${u.fd} fd -> ${r.ok ? `success (${r.value})` : r.code}`;
      if (!r.ok && u.errnos.includes(r.code)) {
        v.na(spec.name, `${u.needs}; ${what}, as documented`);
      } else {
        v.fail(spec.name, `${what}, expected ${u.errnos.join(' or ')}`);
      }
    });
  }
}
