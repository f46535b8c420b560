/**
 * QEMU command line and process supervision. Every QEMU started here ends:
 * on timeout (SIGKILL), on failure, when this process exits or is signalled
 * (handlers kill it), and if this process dies without running handlers
 * (QEMU is started under `setpriv --pdeathsig KILL` when setpriv exists).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ARCHES, HOST_ARCH, type Arch } from './arches.js';
import { HOSTROOT_TAG, NODEROOT_TAG, SHARE_TAG } from './initramfs.js';
import { killAndWaitSync, onExitOrSignal } from '../cleanup.js';

/** How the guest CPU runs: TCG (default; works everywhere) or KVM (opt-in; nested KVM can hang). */
export type Accel = 'tcg' | 'kvm';

/** The host architecture's QEMU binary. */
export const QEMU_BINARY = ARCHES[HOST_ARCH].qemu.binary;

/** Absolute path of the QEMU binary of `arch` (default the host's) on PATH, or undefined. */
export function findQemu(arch: Arch = ARCHES[HOST_ARCH]): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', arch.qemu.binary);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface QemuConfig {
  /** bzImage, or an ELF vmlinux with a PVH entry note. */
  kernel: string;
  initrd: string;
  /** Host directory shared writable with the guest (tag {@link SHARE_TAG}). */
  shareDir: string;
  accel: Accel;
  memoryMiB?: number;
  /** The guest architecture (default the host's). */
  arch?: Arch;
  /** Host directory shared read-only as the guest's node root (tag {@link NODEROOT_TAG}), for foreign architectures. */
  nodeRoot?: string;
  /** QEMU arguments of devices besides the test devices (the init leaves them on their own drivers). */
  extraDevices?: readonly string[];
}

/** Kernel command line of a guest of `arch`. */
export function kernelCmdline(arch: Arch): string {
  return [`console=${arch.qemu.console}`, 'panic=-1 quiet', arch.qemu.cmdline].filter(Boolean).join(' ');
}

/** Kernel command line of the host architecture's guest. */
export const KERNEL_CMDLINE = kernelCmdline(ARCHES[HOST_ARCH]);

/** The full QEMU argument list (without the binary), everything architecture-specific from the arch table. */
export function qemuArgs(cfg: QemuConfig): string[] {
  const arch = cfg.arch ?? ARCHES[HOST_ARCH];
  const machine = cfg.accel === 'kvm' ? [...arch.qemu.machine.filter((a, i, all) => a !== '-cpu' && all[i - 1] !== '-cpu'), '-accel', 'kvm', ...arch.qemu.kvmCpu] : [...arch.qemu.machine, '-accel', 'tcg'];
  const shares = [
    { id: 'fs_root', path: '/', tag: HOSTROOT_TAG, readonly: true },
    { id: 'fs_share', path: cfg.shareDir, tag: SHARE_TAG, readonly: false },
    ...(cfg.nodeRoot ? [{ id: 'fs_node', path: cfg.nodeRoot, tag: NODEROOT_TAG, readonly: true }] : []),
  ];
  return [
    ...machine,
    '-m', String(cfg.memoryMiB ?? arch.memoryMiB),
    '-smp', '1',
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none', '-monitor', 'none',
    '-chardev', 'stdio,id=console,signal=off',
    '-kernel', cfg.kernel,
    '-initrd', cfg.initrd,
    '-append', kernelCmdline(arch),
    // The console, and the vIOMMU where it is a device: it must exist before the devices it translates for.
    ...arch.qemu.early,
    ...shares.flatMap((s, index) => arch.qemu.share({ ...s, index })),
    ...arch.devices.flatMap((d) => d.qemuArgs),
    ...(cfg.extraDevices ?? []),
  ];
}

// ---------------------------------------------------------------------------
// Supervision: a running QEMU is SIGKILLed, and waited for, on exit and on signals (conformance/cleanup.ts).

/** The outcome of one QEMU run. */
export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Serial console output, `\r` removed. */
  console: string;
  stderr: string;
  wallMs: number;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * Runs QEMU to completion. Never leaves it running: killed with SIGKILL after
 * `timeoutMs`, on `signal` abort, and by the process-wide hooks.
 */
export function runQemu(
  args: readonly string[],
  opts: { timeoutMs: number; onConsoleLine?: (line: string) => void; signal?: AbortSignal; arch?: Arch },
): Promise<QemuExit> {
  const arch = opts.arch ?? ARCHES[HOST_ARCH];
  const qemu = findQemu(arch);
  if (!qemu) return Promise.reject(new Error(`${arch.qemu.binary} not found on PATH: apt-get install ${arch.qemu.package}`));
  const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', qemu, ...args]] : [qemu, [...args]];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Waited for, not only killed: a QEMU still serving 9p could write into the run dir as it is removed.
    const release = child.pid === undefined ? () => {} : onExitOrSignal(() => killAndWaitSync(child.pid!));
    let consoleText = '';
    let pending = '';
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    const onAbort = () => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const text = chunk.replace(/\r/g, '');
      consoleText += text;
      if (!opts.onConsoleLine) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) opts.onConsoleLine(line);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const finish = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      release();
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      finish();
      reject(new Error(`starting ${cmd} failed: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      finish();
      if (pending && opts.onConsoleLine) opts.onConsoleLine(pending);
      resolve({ code, signal, timedOut, console: consoleText, stderr: stderr.trim(), wallMs: Date.now() - started });
    });
  });
}
