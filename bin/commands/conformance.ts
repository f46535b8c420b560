/**
 * `vfio-uapi conformance`: the live conformance suite. Boots Debian kernels in
 * QEMU (and `custom`, the kernel built here with iommufd, cdevs and the mdev
 * samples) with emulated PCI devices bound to vfio-pci (or uses this machine's own
 * VFIO device with `--host`), gives every ioctl of each kernel's own `vfio.h`
 * a verdict, and prints the matrix (or JSON), optionally writing the Markdown
 * report.
 */
import { writeFileSync } from 'node:fs';
import { ARCHES, ARCH_NAMES, HOST_ARCH, KERNEL_SOURCES, SUITES, findQemu, type Accel, type ArchName, type Suite } from '../../conformance/vm/index.js';
import {
  HostSetupError, SuiteRunError, failedRun, runHostSuite, runKernelSuite, type KernelRun,
} from '../../conformance/suite/host.js';
import { anyFail, markdownReport, matrixText, toJson } from '../../conformance/suite/report.js';
import { CliError, EXIT } from './common.js';

/** Options of {@link conformanceCommand} (as commander passes them). */
export interface ConformanceOptions {
  /** `bullseye`, `bookworm`, `trixie`, `newest`, `custom` (built here) or `all` (every one of them). */
  kernel: string;
  /** `x86_64`, `ppc64le`, `s390x`, `aarch64` or `all` (default x86_64). */
  arch?: string;
  /** Print the JSON document instead of the matrix. */
  json?: boolean;
  /** Write the Markdown report to this file. */
  report?: string;
  /** `tcg` or `kvm`. */
  accel: string;
  /** Run on this machine's /dev/vfio instead of a VM. */
  host?: boolean;
  /** With `host`: the PCI device. */
  device?: string;
  /** With `host`: bind the device to vfio-pci first. */
  bind?: boolean;
}

/**
 * Runs the suite as asked, prints the matrix (or `--json`) on stdout and
 * progress on stderr, writes `--report`; sets exit code 1 if any verdict is
 * `fail` (or a kernel could not be run).
 * @throws CliError on bad options (exit 1), missing QEMU (exit 2), or a host without VFIO (exit 1).
 */
export async function conformanceCommand(opts: ConformanceOptions): Promise<void> {
  const accel = opts.accel ?? 'tcg';
  if (accel !== 'tcg' && accel !== 'kvm') throw new CliError(`--accel must be tcg or kvm, not ${accel}`);
  if (!opts.host && (opts.device || opts.bind)) throw new CliError('--device and --bind go with --host');
  const progress = (scope: string) => (message: string) => process.stderr.write(`[${scope}] ${message}\n`);

  const runs: KernelRun[] = [];
  if (opts.host) {
    if (!opts.device) throw new CliError('--host needs --device BDF (e.g. --device 0000:01:00.0)');
    try {
      runs.push(await runHostSuite({ device: opts.device, bind: opts.bind, onProgress: progress('host') }));
    } catch (e) {
      if (e instanceof HostSetupError) throw new CliError(e.message);
      throw e;
    }
  } else {
    const suites: Suite[] = opts.kernel === 'all' ? [...KERNEL_SOURCES] : (KERNEL_SOURCES as readonly string[]).includes(opts.kernel) ? [opts.kernel as Suite] : [];
    if (suites.length === 0) throw new CliError(`--kernel must be one of ${KERNEL_SOURCES.join(', ')}, all; not ${opts.kernel}`);
    const archArg = opts.arch ?? HOST_ARCH;
    const arches: ArchName[] = archArg === 'all' ? [...ARCH_NAMES] : (ARCH_NAMES as readonly string[]).includes(archArg) ? [archArg as ArchName] : [];
    if (arches.length === 0) throw new CliError(`--arch must be one of ${ARCH_NAMES.join(', ')}, all; not ${archArg}`);
    if (opts.kernel === 'custom' && arches.some((a) => a !== HOST_ARCH)) throw new CliError(`--kernel custom is built for ${HOST_ARCH} only`);
    for (const arch of arches) {
      const q = ARCHES[arch].qemu;
      if (!findQemu(ARCHES[arch])) throw new CliError(`${q.binary} not found: apt-get install ${q.package} busybox-static`, EXIT.PREREQUISITE);
    }
    for (const arch of arches) {
      // The custom kernel exists for the host's architecture only; the stock suites for every architecture.
      for (const suite of arch === HOST_ARCH ? suites : suites.filter((s) => (SUITES as readonly string[]).includes(s))) {
        const scope = arches.length > 1 || arch !== HOST_ARCH ? `${arch} ${suite}` : suite;
        try {
          runs.push(await runKernelSuite(suite, { arch, accel: accel as Accel, onProgress: progress(scope) }));
        } catch (e) {
          if (!(e instanceof SuiteRunError)) throw e;
          process.stderr.write(`[${scope}] error: ${e.message}\n`);
          runs.push(failedRun(e));
        }
      }
    }
  }

  if (opts.json) process.stdout.write(`${JSON.stringify(toJson(runs), null, 2)}\n`);
  else process.stdout.write(matrixText(runs));
  if (opts.report) {
    const command = ['vfio-uapi conformance', opts.host ? `--host --device ${opts.device}` : `--arch ${opts.arch ?? 'x86_64'} --kernel ${opts.kernel}`, accel !== 'tcg' ? `--accel ${accel}` : '', `--report ${opts.report}`]
      .filter(Boolean).join(' ');
    writeFileSync(opts.report, markdownReport(runs, { command, accel }));
    process.stderr.write(`wrote ${opts.report}\n`);
  }
  if (anyFail(runs)) process.exitCode = EXIT.PROBLEM;
}
