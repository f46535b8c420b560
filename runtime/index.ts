/**
 * The low-level VFIO runtime: libc bindings, errors, ioctl calls, the argsz
 * protocol, capability chains, anonymous memory, eventfds and owned fds.
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
