/**
 * VM harness: boots Debian kernels (bullseye, bookworm, trixie, sid, and `custom`, built
 * here from Debian's linux-source) of four architectures (x86_64, ppc64le,
 * s390x, aarch64; `custom` on x86_64) in QEMU with emulated PCI devices bound
 * to vfio-pci, and runs a Node.js script inside the guest (the host's node, or
 * the guest architecture's Debian node). See README.md in this folder.
 */
export { ARCHES, ARCH_NAMES, HOST_ARCH, archByName, type Arch, type ArchName, type GuestNode, type SyscallBackend } from './arches.js';
export { ensureKernel, SUITES, KERNEL_SOURCES, type Suite, type Kernel, type EnsureKernelOptions } from './kernel.js';
export {
  ensureCustomKernel, customKernelCache, missingBuildTools, fragmentHash, unmetSettings, CUSTOM_BUILDS,
  type CustomKernel, type CustomBuild, type CustomBuildInfo, type EnsureCustomKernelOptions,
} from './custom.js';
export { ensureInitramfs, initramfsModules, wantedModules, WANTED_MODULES } from './initramfs.js';
export { runInGuest, type RunInGuestOptions, type GuestRun } from './run.js';
export { TEST_DEVICES, type TestDevice, type GuestDevice } from './devices.js';
export { findQemu, qemuArgs, kernelCmdline, KERNEL_CMDLINE, type Accel } from './qemu.js';
export { ensureGuestNode, ensureForeignBusybox, type GuestNodeRoot } from './userland.js';
export { ensureSyscallsAddon } from './syscalls-addon.js';
export { cacheRoot, type ProgressFn } from './util.js';
export type { ModulePlan, ModuleFile } from './modules.js';
