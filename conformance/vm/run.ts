/**
 * runInGuest: boot a Debian kernel in QEMU with the test devices bound to
 * vfio-pci and run a host Node.js script inside the guest.
 */
import { existsSync, promises as fs, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST_ARCH, archByName, type ArchName } from './arches.js';
import type { GuestDevice } from './devices.js';
import { INIT_MARK, ensureInitramfs } from './initramfs.js';
import { ensureKernel, type Kernel, type Suite } from './kernel.js';
import { qemuArgs, runQemu, type Accel } from './qemu.js';
import { makeTempDirSync, removeTempDir } from '../cleanup.js';
import { ensureSyscallsAddon } from './syscalls-addon.js';
import { ensureGuestNode, type GuestNodeRoot } from './userland.js';
import { shQuote, type ProgressFn } from './util.js';
import { ensurePvhVmlinux } from './vmlinux.js';

/** Options of {@link runInGuest}. */
export interface RunInGuestOptions {
  suite: Suite;
  /** Guest architecture (default x86_64, the host's). */
  arch?: ArchName;
  /** Absolute path of a `.js` file on the host; the guest sees the host root, so the same path. */
  script: string;
  args?: string[];
  /** Extra environment for the script (names must be shell identifiers). */
  env?: Record<string, string>;
  /** Working directory of the script (default: the host's current directory). */
  cwd?: string;
  /** Kill QEMU after this long; the run then rejects (default 120 s). */
  timeoutMs?: number;
  /** TCG (default) or KVM (opt-in: nested KVM hangs on some hosts). */
  accel?: Accel;
  /** Boot the unpacked vmlinux through its PVH entry when the architecture has one (default true; ~3 s faster under TCG). */
  pvh?: boolean;
  onProgress?: ProgressFn;
  /** Every serial console line, as it arrives. */
  onConsoleLine?: (line: string) => void;
  /** Aborting kills QEMU; the run then rejects. */
  signal?: AbortSignal;
  /**
   * QEMU arguments of more devices (`['-device', 'virtio-rng-pci,...']`). The init binds only the test devices
   * to vfio-pci: these stay on whatever driver the guest kernel gives them (a device with a driver to give back).
   */
  extraDevices?: readonly string[];
}

/** What a guest run produced. */
export interface GuestRun {
  /** `uname -r` in the guest. */
  uname: string;
  suite: Suite;
  arch: ArchName;
  kernel: Kernel;
  /** `process.version` of the guest's node (its architecture's Debian nodejs for foreign architectures, else the host's). */
  nodeVersion: string;
  /** Exit code of `node <script>` (a non-zero code does not reject). */
  exitCode: number;
  /** The JSON the script wrote to `$VFIO_UAPI_RESULT`; undefined if it wrote nothing. */
  result: unknown;
  /** The devices bound to vfio-pci, as passed to the script in `$VFIO_UAPI_DEVICES`. */
  devices: GuestDevice[];
  /** Serial console log (kernel messages, init lines, the script's stdout/stderr). */
  console: string;
  /** Boot + run + poweroff, i.e. QEMU's lifetime (kernel download and initramfs excluded). */
  wallMs: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const RUN_DIR_PREFIX = 'vfio-uapi-run-';

/** True if `pid` runs (a zombie counts as dead). */
async function processAlive(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** Removes run directories left by processes that were SIGKILLed (their pid is in the name). */
async function sweepStaleRunDirs(tmpRoot: string): Promise<void> {
  for (const name of await fs.readdir(tmpRoot).catch(() => [] as string[])) {
    const pid = Number(/^vfio-uapi-run-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    if (await processAlive(pid)) continue;
    await fs.rm(path.join(tmpRoot, name), { recursive: true, force: true });
  }
}

/**
 * Boots the kernel of `opts.suite` (downloaded and cached on first use) and
 * runs `node <script> <args>` as root in a chroot of the host root, shared
 * read-only over 9p, with:
 * - `VFIO_UAPI_GUEST=1`, `VFIO_UAPI_SUITE`;
 * - `VFIO_UAPI_DEVICES`: JSON array of {@link GuestDevice};
 * - `VFIO_UAPI_RESULT`: where to write the JSON result (a writable share);
 * - `TMPDIR`: a writable directory next to it.
 *
 * Rejects if the guest does not get as far as running the script (with the
 * reason and the console tail), on timeout, or if the result is not JSON.
 */
export async function runInGuest(opts: RunInGuestOptions): Promise<GuestRun> {
  opts.signal?.throwIfAborted();
  const progress = opts.onProgress ?? (() => {});
  const accel = opts.accel ?? 'tcg';
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!path.isAbsolute(opts.script)) throw new Error(`script must be an absolute path, got ${opts.script}`);
  if (!existsSync(opts.script)) throw new Error(`script ${opts.script} does not exist`);
  const script = realpathSync(opts.script);
  for (const name of Object.keys(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
  }

  const arch = archByName(opts.arch ?? HOST_ARCH);
  const kernel = await ensureKernel(opts.suite, progress, { arch: arch.name });
  const initrd = await ensureInitramfs(kernel, progress);
  const bootImage = (arch.pvh && opts.pvh !== false && (await ensurePvhVmlinux(kernel, progress))) || kernel.vmlinuz;
  const nodeRoot = arch.node.kind === 'debian' ? await ensureGuestNode(arch, progress) : undefined;
  const addon = await ensureSyscallsAddon(arch, progress);

  const tmpRoot = realpathSync(os.tmpdir());
  await sweepStaleRunDirs(tmpRoot);
  // Removed on exit and on signals too (after QEMU is killed: cleanups run last registered first).
  const runDir = makeTempDirSync(`${RUN_DIR_PREFIX}${process.pid}-`, tmpRoot);
  try {
    await fs.mkdir(path.join(runDir, 'tmp'));
    await fs.writeFile(path.join(runDir, 'job.sh'), jobScript(runDir, script, opts, kernel.suite, nodeRoot, addon));

    progress(`booting ${kernel.version} (${arch.name} ${opts.suite}, ${accel.toUpperCase()}${bootImage === kernel.vmlinuz ? '' : ', PVH'})`);
    const exit = await runQemu(qemuArgs({ kernel: bootImage, initrd, shareDir: runDir, accel, arch, nodeRoot: nodeRoot?.root, extraDevices: opts.extraDevices }), {
      timeoutMs,
      signal: opts.signal,
      arch,
      onConsoleLine: (line) => {
        opts.onConsoleLine?.(line);
        if (line.startsWith(`${INIT_MARK} run:`)) progress(`running ${path.basename(script)} in the guest`);
      },
    });

    const read = (name: string) => fs.readFile(path.join(runDir, name), 'utf8').catch(() => undefined);
    const where = `${arch.name} ${opts.suite} guest (${kernel.version}, ${accel})`;
    const tail = () => {
      const lines = exit.console.trimEnd().split('\n');
      return `\n--- console (last 40 lines) ---\n${lines.slice(-40).join('\n')}` + (exit.stderr ? `\n--- qemu stderr ---\n${exit.stderr}` : '');
    };
    if (exit.timedOut) throw new Error(`${where} timed out after ${timeoutMs} ms; QEMU was killed${tail()}`);
    if (opts.signal?.aborted) throw new Error(`${where} aborted; QEMU was killed`);
    const exitCode = await read('exit-code');
    if (exitCode === undefined) {
      const initError = await read('init-error');
      const why = initError ? `guest init failed: ${initError.trim()}` : `QEMU exited (${exit.signal ?? `code ${exit.code}`}) before the script finished`;
      throw new Error(`${where}: ${why}${tail()}`);
    }
    const resultText = await read('result.json');
    let result: unknown;
    if (resultText !== undefined) {
      try {
        result = JSON.parse(resultText);
      } catch (e) {
        throw new Error(`${where}: ${path.basename(script)} wrote a result that is not JSON (${(e as Error).message}): ${resultText.slice(0, 200)}`);
      }
    }
    const devices = JSON.parse((await read('devices.json')) ?? '[]') as GuestDevice[];
    progress(`done in ${(exit.wallMs / 1000).toFixed(1)} s (${kernel.version}, exit ${exitCode.trim()})`);
    return {
      uname: ((await read('uname')) ?? '').trim(),
      suite: opts.suite,
      arch: arch.name,
      kernel,
      nodeVersion: nodeRoot ? `v${nodeRoot.version.replace(/^(?:\d+:)?([\d.]+).*$/, '$1')}` : process.version,
      exitCode: Number(exitCode.trim()),
      result,
      devices,
      console: exit.console,
      wallMs: exit.wallMs,
    };
  } finally {
    await removeTempDir(runDir);
  }
}

/**
 * The node command line in the guest: the host's node, or the architecture's
 * Debian node, which the init overlays (with its libraries and
 * /usr/share/nodejs, where Debian's node loads some builtins from) on the host root.
 */
function nodeCommand(nodeRoot: GuestNodeRoot | undefined): string[] {
  return nodeRoot ? [`/${nodeRoot.node}`] : [realpathSync(process.execPath)];
}

/** The job the init sources from the share (see initramfs.ts). */
function jobScript(runDir: string, script: string, opts: RunInGuestOptions, suite: Suite, nodeRoot: GuestNodeRoot | undefined, addon: string | undefined): string {
  const env = { ...opts.env, ...(addon ? { VFIO_UAPI_SYSCALLS_ADDON: addon } : {}) };
  const node = nodeCommand(nodeRoot);
  const argv = [
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...node,
    script,
    ...(opts.args ?? []),
  ];
  return [
    `VFIO_UAPI_RUN_DIR=${shQuote(runDir)}`,
    `VFIO_UAPI_NODE=${shQuote(node.join(' '))}`,
    `VFIO_UAPI_NODEROOT=${nodeRoot ? '1' : ''}`,
    `VFIO_UAPI_CWD=${shQuote(opts.cwd ?? process.cwd())}`,
    `VFIO_UAPI_SUITE=${shQuote(suite)}`,
    `set -- ${argv.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}
