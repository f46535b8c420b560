/**
 * Host side of the live conformance suite: for a Debian kernel, build the
 * manifest of that kernel's own `vfio.h` (from the header corpus), boot the
 * kernel with the VM harness and run the guest suite on it; or run the guest
 * suite on this machine's own VFIO device (`--host`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST_ARCH, ensureKernel, runInGuest, type Accel, type ArchName, type CustomBuildInfo, type CustomKernel, type Suite } from '../vm/index.js';
import { addHeader, buildManifest, corpusDir, corruptManifest, headerForKernel, type ManifestCorruption } from './manifest.js';
import type { GuestResult, Manifest } from './types.js';
import { killAndWaitSync, makeTempDirSync, onExitOrSignal, removeTempDirSync } from '../cleanup.js';
import { packageRoot } from '../../generator/paths.js';

/** What one run of the suite on one kernel gave. */
export interface KernelRun {
  /** The guest architecture (`x86_64` for `--host`: this machine's). */
  arch: ArchName;
  /** `bullseye`, `bookworm`, `trixie`, `newest`, or `host`. */
  suite: string;
  /** `uname -r` of the kernel the suite ran on. */
  kernel: string;
  /** The corpus header the manifest was built from. */
  header: Manifest['header'];
  /** Boot + run + poweroff (VM), or the run (host), in ms. */
  wallMs: number;
  result: GuestResult;
  /** The corruptions injected into the manifest (tests only). */
  injected: string[];
  /** For the custom kernel: its source package and how its build went (from the cache when it was warm). */
  custom?: { source: string; build: CustomBuildInfo };
}

/** Options of {@link runKernelSuite} and {@link runHostSuite}. */
export interface SuiteRunOptions {
  accel?: Accel;
  /** Progress messages (download, boot, the suite's stages). */
  onProgress?: (message: string) => void;
  /** Every line the guest suite logs (checks included). */
  onSuiteLine?: (line: string) => void;
  /** Deliberate manifest corruptions (to test the suite itself). */
  corruptions?: readonly ManifestCorruption[];
  /** Kill the VM after this long (default 300 s). */
  timeoutMs?: number;
  /** Guest architecture (default x86_64). */
  arch?: ArchName;
}

const SUITE_MARK = '[suite] ';

/** The package root (the directory of vfio-uapi's package.json), from this module's location. */
export { packageRoot };

/** The compiled guest script, `dist/conformance/suite/guest.js`. */
export function guestScript(): string {
  const script = path.join(packageRoot(), 'dist', 'conformance', 'suite', 'guest.js');
  if (!existsSync(script)) throw new Error(`${script} does not exist: build first (npm run build)`);
  return script;
}

/** Writes `manifest` to a new temporary directory (the guest sees the host's root, so the same path works there). */
function writeManifest(manifest: Manifest): { file: string; cleanup: () => void } {
  // Removed on exit and on SIGINT/SIGTERM too (conformance/cleanup.ts).
  const dir = makeTempDirSync('vfio-uapi-conformance-', realpathSync(os.tmpdir()));
  const file = path.join(dir, 'manifest.json');
  writeFileSync(file, JSON.stringify(manifest));
  return { file, cleanup: () => removeTempDirSync(dir) };
}

/**
 * The headers beside `vfio.h` whose ioctls get verdicts on a kernel source:
 * only the custom kernel is built with `CONFIG_IOMMUFD` (Debian's are not), so
 * only there does `iommufd.h` have a kernel to answer it.
 */
export const EXTRA_HEADERS: Readonly<Partial<Record<Suite, readonly string[]>>> = {
  custom: ['iommufd.h'],
};

/**
 * Test-only headers of a kernel built here, from its own source tree: their
 * constants and structs join the manifest (not their ioctls, which are no
 * UAPI): the custom kernel's `IOMMU_TEST_CMD` (CONFIG_IOMMUFD_TEST's mock
 * IOMMU), which reaches the HWPT, dirty-tracking and vIOMMU ioctls QEMU's
 * intel-iommu cannot.
 */
export const SOURCE_TEST_HEADERS: Readonly<Partial<Record<Suite, { file: string; includeDirs: readonly string[]; buildIncludeDirs: readonly string[] }>>> = {
  // The tree's own <linux/ioctl.h> and <linux/types.h> reach <asm/...>: the arch's uapi and the build's generated uapi.
  custom: { file: 'drivers/iommu/iommufd/iommufd_test.h', includeDirs: ['include/uapi', 'arch/x86/include/uapi'], buildIncludeDirs: ['arch/x86/include/generated/uapi'] },
};

/**
 * The manifest of the corpus `vfio.h` matching `kernelVersion` (plus
 * `extraHeaders` from the same corpus directory) for the ABI and platform of
 * `arch`, corrupted as asked.
 */
export function manifestForKernel(kernelVersion: string, corruptions: readonly ManifestCorruption[] = [], extraHeaders: readonly string[] = [], arch: ArchName = HOST_ARCH): Manifest {
  const header = headerForKernel(corpusDir(packageRoot()), kernelVersion);
  let manifest = buildManifest(header.path, arch);
  for (const name of extraHeaders) {
    const file = path.join(path.dirname(header.path), name);
    if (!existsSync(file)) throw new Error(`no ${name} beside ${header.path} in the header corpus`);
    manifest = addHeader(manifest, buildManifest(file, arch));
  }
  return corruptions.length ? corruptManifest(manifest, corruptions) : manifest;
}

/** A suite that could not run, with whatever was known by then. */
export class SuiteRunError extends Error {
  override name = 'SuiteRunError';
  constructor(readonly suite: string, message: string, readonly kernel?: string, readonly manifest?: Manifest, readonly arch: ArchName = HOST_ARCH) {
    super(message);
  }

  /**
   * Why this kernel cannot run the suite at all although nothing misbehaved on
   * our side: it refuses to bind the test devices to vfio-pci (the VM init's
   * message, with the kernel's own last line about the device); undefined otherwise.
   */
  get unsupported(): string | undefined {
    const bind = /guest init failed: ([^\n]*did not bind to vfio-pci[^\n]*)/.exec(this.message)?.[1];
    if (!bind) return undefined;
    return `this kernel refuses the test devices: ${bind}`;
  }
}

/** A {@link KernelRun} for a suite that did not run: every ioctl of its header (if known) fails with the reason, or is `n/a` where the kernel refuses the test devices ({@link SuiteRunError.unsupported}). */
export function failedRun(error: SuiteRunError): KernelRun {
  const unsupported = error.unsupported;
  const fail = unsupported
    ? { verdict: 'n/a' as const, detail: `the suite cannot run here: ${unsupported}` }
    : { verdict: 'fail' as const, detail: `the suite did not run: ${error.message.split('\n')[0]}` };
  const m = error.manifest;
  return {
    arch: error.arch,
    suite: error.suite,
    kernel: error.kernel ?? '',
    header: m?.header ?? { path: '', version: '', sha256: '' },
    wallMs: 0,
    injected: m?.injected ?? [],
    result: {
      kernel: error.kernel ?? '',
      header: m?.header ?? { path: '', version: '', sha256: '' },
      ioctls: Object.fromEntries((m?.ioctls ?? []).map((i) => [i.name, { ...fail }])),
      features: Object.fromEntries((m?.features ?? []).map((f) => [f, { ...fail }])),
      example: { ...fail },
      checks: [],
      elapsedMs: 0,
    },
  };
}

/**
 * Boots the kernel of `suite` in QEMU and runs the guest suite on it.
 * @throws SuiteRunError when the kernel cannot be had, or the guest suite does not produce a result.
 */
export async function runKernelSuite(suite: Suite, opts: SuiteRunOptions = {}): Promise<KernelRun> {
  let kernelVersion: string | undefined;
  let manifest: Manifest | undefined;
  try {
    return await runKernelSuiteInner(suite, opts, (k, m) => { kernelVersion = k; manifest = m; });
  } catch (e) {
    throw new SuiteRunError(suite, (e as Error).message ?? String(e), kernelVersion, manifest, opts.arch ?? HOST_ARCH);
  }
}

async function runKernelSuiteInner(suite: Suite, opts: SuiteRunOptions, known: (kernel: string, manifest?: Manifest) => void): Promise<KernelRun> {
  const progress = opts.onProgress ?? (() => {});
  const script = guestScript();
  const arch = opts.arch ?? HOST_ARCH;
  const kernel = await ensureKernel(suite, progress, { arch });
  known(kernel.version);
  const extra = EXTRA_HEADERS[suite] ?? [];
  let manifest = manifestForKernel(kernel.packageVersion, opts.corruptions, extra, arch);
  const testHeader = SOURCE_TEST_HEADERS[suite];
  if (testHeader && kernel.sourceDir && kernel.buildDir) {
    const file = path.join(kernel.sourceDir, testHeader.file);
    const includeDirs = [...testHeader.includeDirs.map((d) => path.join(kernel.sourceDir!, d)), ...testHeader.buildIncludeDirs.map((d) => path.join(kernel.buildDir!, d))];
    manifest = addHeader(manifest, buildManifest(file, arch, includeDirs), { ioctls: false });
  }
  known(kernel.version, manifest);
  progress(`${manifest.ioctls.length} ioctls in vfio.h${extra.map((h) => ` + ${h}`).join('')} ${manifest.header.version} (for ${kernel.version}, package ${kernel.packageVersion})`);
  const { file, cleanup } = writeManifest(manifest);
  try {
    let started = false;
    const run = await bootWithRetries(progress, () => started, () => runInGuest({
      suite,
      arch,
      script,
      args: [file],
      accel: opts.accel ?? 'tcg',
      timeoutMs: opts.timeoutMs ?? (suite === 'custom' ? 900_000 : 300_000),
      onProgress: progress,
      onConsoleLine: (line) => {
        const at = line.indexOf(SUITE_MARK);
        if (at < 0) return;
        const text = line.slice(at + SUITE_MARK.length);
        started = true;
        opts.onSuiteLine?.(text);
        if (text.startsWith('-- ') || text.startsWith('  FAIL') || text.startsWith('fatal') || text.startsWith('done')) progress(text.replace(/^-- /, ''));
      },
    }));
    const result = run.result as GuestResult | undefined;
    if (run.exitCode !== 0 || !result?.ioctls) {
      const tail = run.console.trimEnd().split('\n').slice(-30).join('\n');
      throw new Error(`the guest suite on ${run.uname} exited ${run.exitCode} without a result\n--- console (last 30 lines) ---\n${tail}`);
    }
    const build = (kernel as Partial<CustomKernel>).build;
    return {
      arch, suite, kernel: run.uname, header: manifest.header, wallMs: run.wallMs, result, injected: manifest.injected,
      ...(build ? { custom: { source: `${kernel.package} ${kernel.packageVersion} (${kernel.distSuite})`, build } } : {}),
    };
  } finally {
    cleanup();
  }
}

/** How many times a guest that dies before the suite starts is booted in all. */
const BOOT_ATTEMPTS = 3;

/**
 * Runs `boot` again when the guest died before the suite printed anything
 * (under TCG on a loaded host, some kernels now and then panic in early boot:
 * "timer doesn't work through Interrupt-remapped IO-APIC"). A guest that got
 * as far as the suite is never retried.
 */
async function bootWithRetries<T>(progress: (m: string) => void, suiteStarted: () => boolean, boot: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await boot();
    } catch (e) {
      const message = (e as Error).message ?? '';
      const early = /before the script finished/.test(message) && !suiteStarted();
      if (!early || attempt >= BOOT_ATTEMPTS) throw e;
      const why = /Kernel panic - not syncing: ([^\n]*)/.exec(message)?.[1] ?? message.split('\n')[0];
      progress(`the guest died before the suite started (${why}); booting again (${attempt + 1}/${BOOT_ATTEMPTS})`);
    }
  }
}

/** Options of {@link runHostSuite}. */
export interface HostRunOptions extends SuiteRunOptions {
  /** The PCI device, `0000:01:00.0`. */
  device: string;
  /** Bind it to vfio-pci first (otherwise it must already be). */
  bind?: boolean;
}

/** An error with a user-facing message (the CLI prints it without a stack). */
export class HostSetupError extends Error {
  override name = 'HostSetupError';
}

/**
 * Runs the guest suite on this machine, on `opts.device` through `/dev/vfio`.
 * Nothing is rebound unless `opts.bind`.
 * @throws HostSetupError when this machine has no VFIO, the device does not exist, has no IOMMU group, or is not on vfio-pci.
 */
export async function runHostSuite(opts: HostRunOptions): Promise<KernelRun> {
  const progress = opts.onProgress ?? (() => {});
  if (!existsSync('/dev/vfio')) {
    const iommu = existsSync('/sys/class/iommu') ? (readDirSafe('/sys/class/iommu').join(', ') || 'none') : 'none';
    throw new HostSetupError(`no /dev/vfio: this machine has no VFIO (vfio module not loaded, or no IOMMU: /sys/class/iommu lists ${iommu}); load vfio-pci with the IOMMU enabled (intel_iommu=on / amd_iommu=on)`);
  }
  const bdf = opts.device;
  const sys = `/sys/bus/pci/devices/${bdf}`;
  if (!/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(bdf) || !existsSync(sys)) throw new HostSetupError(`no PCI device ${bdf} (${sys} does not exist)`);
  if (!existsSync(`${sys}/iommu_group`)) throw new HostSetupError(`${bdf} has no IOMMU group (the IOMMU is off for it)`);
  const group = Number(path.basename(readlinkSync(`${sys}/iommu_group`)));
  const driver = () => (existsSync(`${sys}/driver`) ? path.basename(readlinkSync(`${sys}/driver`)) : undefined);
  let giveBack: (() => void) | undefined;
  if (driver() !== 'vfio-pci') {
    if (!opts.bind) throw new HostSetupError(`${bdf} is bound to ${driver() ?? 'no driver'}, not vfio-pci: bind it yourself or pass --bind`);
    const original = driver();
    progress(`binding ${bdf} to vfio-pci (was ${original ?? 'unbound'})`);
    giveBack = rebindOnExit(sys, bdf, original, progress);
    writeFileSync(`${sys}/driver_override`, 'vfio-pci');
    if (driver()) writeFileSync(`${sys}/driver/unbind`, bdf);
    writeFileSync('/sys/bus/pci/drivers_probe', bdf);
    if (driver() !== 'vfio-pci') {
      giveBack();
      throw new HostSetupError(`binding ${bdf} to vfio-pci failed (driver: ${driver() ?? 'none'}); is vfio-pci loaded?`);
    }
  }
  try {
    return await runHostSuiteBound(opts, bdf, sys, group, progress);
  } finally {
    giveBack?.();
  }
}

/**
 * Gives `bdf` back to its `original` driver (or none): clears `driver_override`,
 * unbinds it from vfio-pci and lets the kernel probe it again. Returned as a
 * function that does it at most once, and done on exit and on signals until then.
 */
function rebindOnExit(sys: string, bdf: string, original: string | undefined, progress: (m: string) => void): () => void {
  let done = false;
  const giveBack = () => {
    if (done) return;
    done = true;
    release();
    writeFileSync(`${sys}/driver_override`, '\n');
    if (existsSync(`${sys}/driver`)) writeFileSync(`${sys}/driver/unbind`, bdf);
    if (original) {
      try {
        writeFileSync(`/sys/bus/pci/drivers/${original}/bind`, bdf);
      } catch {
        writeFileSync('/sys/bus/pci/drivers_probe', bdf);
      }
    }
    progress(`gave ${bdf} back to ${original ?? 'no driver'}`);
  };
  const release = onExitOrSignal(giveBack);
  return giveBack;
}

async function runHostSuiteBound(opts: HostRunOptions, bdf: string, sys: string, group: number, progress: (m: string) => void): Promise<KernelRun> {
  if (!existsSync(`/dev/vfio/${group}`)) throw new HostSetupError(`/dev/vfio/${group} does not exist although ${bdf} is on vfio-pci`);
  const read = (f: string) => readFileSync(`${sys}/${f}`, 'utf8').trim();
  const devices = [{ bdf, vendor: read('vendor'), device: read('device'), iommuGroup: group, qemuId: null, qemuModel: null, driver: 'vfio-pci' }];

  const kernel = os.release();
  const manifest = manifestForKernel(kernel, opts.corruptions);
  const { file, cleanup } = writeManifest(manifest);
  const resultFile = `${file}.result.json`;
  const started = Date.now();
  try {
    progress(`running the suite on ${bdf} (group ${group}), kernel ${kernel}, vfio.h ${manifest.header.version}`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [guestScript(), file], {
        env: { ...process.env, VFIO_UAPI_DEVICES: JSON.stringify(devices), VFIO_UAPI_RESULT: resultFile },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      // On exit or a signal, the suite process dies (and closes the device) before the device is given back:
      // unbinding a vfio-pci device blocks until its last fd is closed, and a suite left running would keep
      // using the device after we gave it back (and block on its stdout pipe once nobody reads it).
      const stopSuite = child.pid === undefined ? () => {} : onExitOrSignal(() => killAndWaitSync(child.pid!));
      child.on('exit', stopSuite);
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          if (!line.startsWith(SUITE_MARK)) continue;
          const text = line.slice(SUITE_MARK.length);
          opts.onSuiteLine?.(text);
          if (text.startsWith('-- ') || text.startsWith('  FAIL')) progress(text.replace(/^-- /, ''));
        }
      });
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (!existsSync(resultFile)) throw new Error(`the suite exited ${code} without a result`);
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as GuestResult;
    return { arch: HOST_ARCH, suite: 'host', kernel, header: manifest.header, wallMs: Date.now() - started, result, injected: manifest.injected };
  } finally {
    cleanup();
  }
}

function readDirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
