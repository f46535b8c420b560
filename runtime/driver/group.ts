/**
 * A VFIO group (`/dev/vfio/<N>`): the unit of isolation the IOMMU gives,
 * attached to a container, from which device fds are obtained.
 */

import * as vfio from '../../generated/vfio/index.js';
import type { Container } from './container.js';
import { Device } from './device.js';
import { OwnedFd } from './fd.js';
import { VfioFd, initOrClose, openVfioPath, type VfioSyscalls } from './vfio-fd.js';

/** What {@link Group.status} returns. */
export interface GroupStatus {
  readonly flags: number;
  /** `flags` decoded (`VFIO_GROUP_FLAGS_VIABLE`, `VFIO_GROUP_FLAGS_CONTAINER_SET`). */
  readonly flagNames: readonly string[];
  /** Every device of the group is bound to a VFIO driver (or none at all). */
  readonly viable: boolean;
  /** The group is attached to a container. */
  readonly containerSet: boolean;
}

/**
 * A VFIO group. Attach it to a container ({@link Group.setContainer}) before
 * opening devices ({@link Group.openDevice}).
 */
export class Group extends VfioFd {
  /** Always `'group'`. */
  readonly kind = 'group' as const;

  private constructor(fd: OwnedFd, syscalls: VfioSyscalls) {
    super(fd, syscalls);
  }

  /**
   * Opens `/dev/vfio/<group>` (or a path) and checks it answers
   * `VFIO_GROUP_GET_STATUS`.
   * @throws SyscallError (`open`): `ENOENT` no such group, `EACCES`/`EPERM`, `EBUSY` already open.
   * @throws IoctlError `ENOTTY` when the path is not a VFIO group. The fd is closed on every failure.
   */
  static open(group: number | string, syscalls: VfioSyscalls = {}): Group {
    const path = typeof group === 'number' ? `/dev/vfio/${group}` : group;
    return Group.fromFd(openVfioPath(path, `VFIO group ${group}`), syscalls);
  }

  /** Takes ownership of an open group fd (closed if the status check fails). */
  static fromFd(fd: OwnedFd, syscalls: VfioSyscalls = {}): Group {
    return initOrClose(new Group(fd, syscalls), (group) => group.status());
  }

  /** `VFIO_GROUP_GET_STATUS`. */
  status(): GroupStatus {
    const codec = vfio.vfio_group_status;
    const { flags } = this.ioctlStruct('VFIO_GROUP_GET_STATUS', codec, { argsz: codec.size });
    return {
      flags,
      flagNames: vfio.vfio_group_status_flags.decode(flags),
      viable: (flags & vfio.VFIO_GROUP_FLAGS_VIABLE) !== 0,
      containerSet: (flags & vfio.VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0,
    };
  }

  /** `VFIO_GROUP_SET_CONTAINER` (takes a pointer to the container's fd). */
  setContainer(container: Container): void {
    this.ioctlPointer('VFIO_GROUP_SET_CONTAINER', new Uint8Array(new Int32Array([container.fd]).buffer));
  }

  /** `VFIO_GROUP_UNSET_CONTAINER`. */
  unsetContainer(): void {
    this.ioctlValue('VFIO_GROUP_UNSET_CONTAINER');
  }

  /**
   * `VFIO_GROUP_GET_DEVICE_FD` with the device's name (a PCI address,
   * `0000:00:10.0`); the new fd is owned by the returned {@link Device}, and
   * closed if making it fails.
   * @throws IoctlError e.g. `EINVAL`/`ENODEV` for a device not in the group, `EBUSY` already open.
   */
  openDevice(name: string): Device {
    const bytes = new TextEncoder().encode(`${name}\0`);
    const fd = this.ioctlPointer('VFIO_GROUP_GET_DEVICE_FD', bytes);
    return Device.fromFd(new OwnedFd(fd, `device ${name}`), { ...this.syscalls, name });
  }
}
