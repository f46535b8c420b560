/**
 * Guest side: the mdev sample devices of the custom kernel (mtty, mdpy,
 * mbochs), created through sysfs (`mdev_supported_types/<type>/create`; the
 * kernel has them built in, so nothing is loaded), opened through their
 * cdevs and bound to an iommufd, and removed at the end.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OwnedFd } from 'vfio-uapi/runtime';
import { cdevPath } from './backends.js';
import { waitFor, type Context } from './context.js';
import type { IommufdSession } from './iommufd.js';

/** A created mdev. */
export interface Mdev {
  parent: string;
  type: string;
  uuid: string;
  sysfs: string;
  cdev: string;
}

const MDEV_BUS = '/sys/class/mdev_bus';

/** The mdev types a parent offers (`mtty-1`, `mtty-2`...), or empty. */
export function mdevTypes(parent: string): string[] {
  const dir = path.join(MDEV_BUS, parent, 'mdev_supported_types');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Creates an mdev of `type` under `parent`; waits for its cdev. */
export function createMdev(parent: string, type: string): Mdev {
  const uuid = randomUUID();
  writeFileSync(path.join(MDEV_BUS, parent, 'mdev_supported_types', type, 'create'), uuid);
  const sysfs = `/sys/bus/mdev/devices/${uuid}`;
  let cdev: string | undefined;
  if (!waitFor(() => (cdev = cdevPath(sysfs)) !== undefined && existsSync(cdev), 5000)) {
    throw new Error(`mdev ${type} ${uuid}: no /dev/vfio/devices node within 5 s`);
  }
  return { parent, type, uuid, sysfs, cdev: cdev! };
}

/** Removes an mdev (best effort). */
export function removeMdev(m: Mdev): void {
  try {
    writeFileSync(path.join(m.sysfs, 'remove'), '1');
  } catch {
    // already gone
  }
}

/** Opens an mdev's cdev and binds it to `session` (emulated IOMMU: no attach needed for device ioctls). */
export function openMdev(ctx: Context, m: Mdev, session: IommufdSession): OwnedFd {
  const { k } = ctx;
  const fd = OwnedFd.open(m.cdev);
  try {
    ctx.call(fd, 'VFIO_DEVICE_BIND_IOMMUFD', k.encode('vfio_device_bind_iommufd', { flags: 0, iommufd: session.fd.fd }));
    return fd;
  } catch (e) {
    fd.close();
    throw e;
  }
}
