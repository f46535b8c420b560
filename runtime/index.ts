/**
 * The VFIO runtime. Low level: libc bindings, errors, ioctl calls, the argsz
 * protocol, capability chains, anonymous memory, eventfds and owned fds.
 * Objects (see README.md in this folder): {@link Container}, {@link Group},
 * {@link Device}, and for the cdev path {@link IommuFd}, {@link Ioas},
 * {@link HwPagetable}; migration data fds are {@link MigrationData}.
 */

export * from './codec/codec.js';
export { flagSet, type FlagSet } from './codec/encoding.js';
export { bindIoctls, ioctlByRequest, type IoctlSpec } from './codec/bindings.js';
export * from './driver/errors.js';
export * from './driver/libc.js';
export * from './driver/ioctl.js';
export * from './driver/argsz.js';
export * from './driver/capabilities.js';
export * from './driver/fd.js';
export * from './driver/eventfd.js';
export * from './driver/memory.js';
export * from './driver/vfio-fd.js';
export * from './driver/container.js';
export * from './driver/group.js';
export * from './driver/device.js';
export * from './driver/iommufd.js';
export * from './driver/migration.js';
