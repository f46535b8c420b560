/**
 * VM harness: boots Debian kernels (bullseye, bookworm, trixie, sid, and `custom`, built
 * here from Debian's linux-source) in QEMU
 * with emulated PCI devices bound to vfio-pci, and runs a host Node.js script
 * inside the guest. See README.md in this folder.
 */
export { ensureKernel, SUITES, KERNEL_SOURCES, type Suite, type Kernel, type EnsureKernelOptions } from './kernel.js';
export {
  ensureCustomKernel, customKernelCache, missingBuildTools, fragmentHash, unmetSettings, CUSTOM_BUILDS,
  type CustomKernel, type CustomBuild, type CustomBuildInfo, type EnsureCustomKernelOptions,
} from './custom.js';
export { ensureInitramfs, initramfsModules, WANTED_MODULES } from './initramfs.js';
export { runInGuest, type RunInGuestOptions, type GuestRun } from './run.js';
export { TEST_DEVICES, type TestDevice, type GuestDevice } from './devices.js';
export { findQemu, qemuArgs, KERNEL_CMDLINE, type Accel } from './qemu.js';
export { cacheRoot, type ProgressFn } from './util.js';
export type { ModulePlan, ModuleFile } from './modules.js';
