/**
 * The VFIO runtime. Low level: libc bindings, errors, ioctl calls, the argsz
 * protocol, capability chains, anonymous memory, eventfds and owned fds.
 * Objects (see README.md in this folder): {@link Container}, {@link Group},
 * {@link Device}, and for the cdev path {@link IommuFd}, {@link Ioas},
 * {@link HwPagetable}; migration data fds are {@link MigrationData}.
 */

export * from './codec.js';
export * from './errors.js';
export * from './libc.js';
export * from './ioctl.js';
export * from './argsz.js';
export * from './capabilities.js';
export * from './fd.js';
export * from './eventfd.js';
export * from './memory.js';
export * from './vfio-fd.js';
export * from './container.js';
export * from './group.js';
export * from './device.js';
export * from './iommufd.js';
export * from './migration.js';
