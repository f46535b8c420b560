/**
 * VM harness: boots Debian kernels (bullseye, bookworm, trixie, sid) in QEMU
 * with emulated PCI devices bound to vfio-pci, and runs a host Node.js script
 * inside the guest. See README.md in this folder.
 */
export { ensureKernel, SUITES, type Suite, type Kernel, type EnsureKernelOptions } from './kernel.js';
export { ensureInitramfs, initramfsModules, WANTED_MODULES } from './initramfs.js';
export { runInGuest, type RunInGuestOptions, type GuestRun } from './run.js';
export { TEST_DEVICES, type TestDevice, type GuestDevice } from './devices.js';
export { findQemu, qemuArgs, KERNEL_CMDLINE, type Accel } from './qemu.js';
export { cacheRoot, type ProgressFn } from './util.js';
export type { ModulePlan, ModuleFile } from './modules.js';
