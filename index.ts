/**
 * vfio-uapi: TypeScript bindings of the Linux VFIO UAPI (`vfio.h`, `iommufd.h`),
 * generated from the kernel headers, and the runtime that drives VFIO devices
 * with them.
 *
 * `vfio` and `iommufd` hold the bindings for the running process's ABI (and every
 * ABI under `byAbi`); `runtime` the ioctl layer.
 * @module
 */
export * as vfio from './generated/vfio/index.js';
export * as iommufd from './generated/iommufd/index.js';
export * as runtime from './runtime/index.js';
