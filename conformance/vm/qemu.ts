/**
 * QEMU command line and process supervision. Every QEMU started here ends:
 * on timeout (SIGKILL), on failure, when this process exits or is signalled
 * (handlers kill it), and if this process dies without running handlers
 * (QEMU is started under `setpriv --pdeathsig KILL` when setpriv exists).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TEST_DEVICES } from './devices.js';
import { HOSTROOT_TAG, SHARE_TAG } from './initramfs.js';

/** How the guest CPU runs: TCG (default; works everywhere) or KVM (opt-in; nested KVM can hang). */
export type Accel = 'tcg' | 'kvm';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** Absolute path of qemu-system-x86_64 on PATH, or undefined. */
export function findQemu(): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', QEMU_BINARY);
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
}

/** Kernel command line of the guest. */
// no_timer_check: under TCG the IO-APIC timer check through interrupt remapping can fail early in boot (seen on 6.12).
export const KERNEL_CMDLINE = 'console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet random.trust_cpu=on no_timer_check';

/** The full QEMU argument list (without the binary). */
export function qemuArgs(cfg: QemuConfig): string[] {
  const accel = cfg.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max'];
  return [
    '-M', 'q35,kernel-irqchip=split',
    ...accel,
    '-m', String(cfg.memoryMiB ?? 1024),
    '-smp', '1',
    '-nodefaults', '-no-user-config', '-no-reboot',
    '-display', 'none', '-monitor', 'none',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-kernel', cfg.kernel,
    '-initrd', cfg.initrd,
    '-append', KERNEL_CMDLINE,
    // The vIOMMU must exist before the devices it translates for.
    '-device', 'intel-iommu,intremap=on,caching-mode=on',
    '-fsdev', `local,id=fs_root,path=/,security_model=none,readonly=on,multidevs=remap`,
    '-device', `virtio-9p-pci,fsdev=fs_root,mount_tag=${HOSTROOT_TAG},bus=pcie.0,addr=0x4`,
    '-fsdev', `local,id=fs_share,path=${cfg.shareDir},security_model=none,multidevs=remap`,
    '-device', `virtio-9p-pci,fsdev=fs_share,mount_tag=${SHARE_TAG},bus=pcie.0,addr=0x5`,
    ...TEST_DEVICES.flatMap((d) => d.qemuArgs),
  ];
}

// ---------------------------------------------------------------------------
// Supervision

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let exitHookInstalled = false;
let signalHooksInstalled = false;

function killAllNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  uninstallSignalHooks();
  // Re-raise so the default action (exit) happens unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (!exitHookInstalled) {
    process.on('exit', killAllNow);
    exitHookInstalled = true;
  }
  if (!signalHooksInstalled) {
    for (const s of SIGNALS) process.on(s, onSignal);
    signalHooksInstalled = true;
  }
}

function uninstallSignalHooks(): void {
  if (!signalHooksInstalled) return;
  for (const s of SIGNALS) process.off(s, onSignal);
  signalHooksInstalled = false;
}

function released(): void {
  if (liveChildren.size === 0 && liveDirs.size === 0) uninstallSignalHooks();
}

/** Registers a temp dir that must be removed even if this process is killed by a signal. */
export function trackTempDir(dir: string): () => void {
  installHooks();
  liveDirs.add(dir);
  return () => {
    liveDirs.delete(dir);
    released();
  };
}

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
  opts: { timeoutMs: number; onConsoleLine?: (line: string) => void; signal?: AbortSignal },
): Promise<QemuExit> {
  const qemu = findQemu();
  if (!qemu) return Promise.reject(new Error(`${QEMU_BINARY} not found on PATH: apt-get install qemu-system-x86`));
  installHooks();
  const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', qemu, ...args]] : [qemu, [...args]];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    liveChildren.add(child);
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
      liveChildren.delete(child);
      released();
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
