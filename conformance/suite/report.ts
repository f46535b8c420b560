/**
 * Host side: rendering suite runs as the `--json` document, a text matrix for
 * the terminal, and the Markdown report (`docs/conformance.md`).
 */
import { ARCHES } from '../vm/arches.js';
import type { KernelRun } from './host.js';
import { VERDICTS, type Verdict, type VerdictEntry } from './types.js';

/** The version of the `conformance --json` shape; schemas/conformance.schema.json describes it. */
export const CONFORMANCE_SCHEMA_VERSION = 1;

/** The `--json` document: exactly `{schema_version, kernels: [{arch, suite, kernel, wall_s, ioctls}]}`. */
export interface ConformanceJson {
  schema_version: number;
  kernels: { arch: string; suite: string; kernel: string; wall_s: number; ioctls: Record<string, VerdictEntry> }[];
}

/** `ppc64le newest 7.2.13+deb14-powerpc64le`: how a run is named in the matrices. */
export function runLabel(r: KernelRun): string {
  return `${r.arch} ${r.suite} ${r.kernel}`;
}

/** The `--json` document of `runs`. */
export function toJson(runs: readonly KernelRun[]): ConformanceJson {
  return {
    schema_version: CONFORMANCE_SCHEMA_VERSION,
    kernels: runs.map((r) => ({
      arch: r.arch,
      suite: r.suite,
      kernel: r.kernel,
      wall_s: Math.round(r.wallMs / 100) / 10,
      ioctls: Object.fromEntries(Object.entries(r.result.ioctls).map(([name, e]) => [name, { verdict: e.verdict, detail: e.detail }])),
    })),
  };
}

/** Verdict counts of one run. */
export function counts(run: KernelRun): Record<Verdict, number> {
  const out = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const e of Object.values(run.result.ioctls)) out[e.verdict]++;
  return out;
}

/** Whether any ioctl of any run failed (the command then exits 1). */
export function anyFail(runs: readonly KernelRun[]): boolean {
  return runs.some((r) => Object.values(r.result.ioctls).some((e) => e.verdict === 'fail'));
}

/** Row names: every ioctl (or feature) of every run, newest header first, in header order. */
function rowNames(runs: readonly KernelRun[], pick: (r: KernelRun) => Record<string, unknown>): string[] {
  const byNewest = [...runs].sort((a, b) => b.header.version.localeCompare(a.header.version, 'en', { numeric: true }));
  const names: string[] = [];
  for (const r of byNewest) for (const n of Object.keys(pick(r))) if (!names.includes(n)) names.push(n);
  return names;
}

/** A plain-text matrix (ioctl x kernel -> verdict) with the counts and wall times below it. */
export function matrixText(runs: readonly KernelRun[]): string {
  const names = rowNames(runs, (r) => r.result.ioctls);
  const heads = runs.map(runLabel);
  const w0 = Math.max(5, ...names.map((n) => n.length));
  const widths = heads.map((h) => Math.max(h.length, 7));
  const line = (first: string, cells: string[]) => [first.padEnd(w0), ...cells.map((c, i) => c.padEnd(widths[i]!))].join('  ').trimEnd();
  const out = [line('ioctl', heads), line('-'.repeat(w0), widths.map((w) => '-'.repeat(w)))];
  for (const n of names) out.push(line(n, runs.map((r) => cell(r.result.ioctls[n]?.verdict))));
  out.push('');
  for (const r of runs) {
    const c = counts(r);
    out.push(`${runLabel(r)} (vfio.h ${r.header.version}): ${VERDICTS.map((v) => `${c[v]} ${v}`).join(', ')}; ${(r.wallMs / 1000).toFixed(1)} s; edu example: ${r.result.example.verdict}`);
  }
  return `${out.join('\n')}\n`;
}

function cell(v: Verdict | undefined): string {
  return v === undefined ? '-' : v === 'fail' ? 'FAIL' : v;
}

function md(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Options of {@link markdownReport}. */
export interface MarkdownOptions {
  /** The command line that produced the report, shown at the top. */
  command: string;
  accel: string;
}

/** The Markdown report: kernels, the ioctl matrix, the feature matrix, the example, and every verdict's evidence. */
export function markdownReport(runs: readonly KernelRun[], opts: MarkdownOptions): string {
  const out: string[] = [];
  out.push('# VFIO live conformance', '');
  out.push(`Written by \`${opts.command}\`. An (architecture, kernel) matrix: each Debian kernel boots in QEMU (${opts.accel.toUpperCase()})`);
  out.push('with emulated PCI devices bound to vfio-pci; the guest suite (`conformance/suite/`), run by that architecture\'s node,');
  out.push('gives every ioctl of that kernel\'s own `vfio.h` (from the header corpus, parsed and laid out by our generator on the');
  out.push('host for the guest\'s ABI) a verdict, issuing each with that ABI\'s request number and struct sizes, through the');
  out.push('generated codecs of the guest\'s ABI and the runtime.', '');
  out.push('| architecture | QEMU | IOMMU | devices bound to vfio-pci |', '|---|---|---|---|');
  for (const arch of [...new Set(runs.map((r) => r.arch))]) {
    const a = ARCHES[arch];
    const machine = a.qemu.machine[a.qemu.machine.indexOf('-M') + 1] ?? '';
    out.push(`| ${arch} | \`${a.qemu.binary} -M ${machine}\` | ${a.platform.iommu === 'spapr' ? 'sPAPR TCE (v2, and v1)' : 'type1v2'} | ${a.devices.map((d) => `${d.id} (${d.model}, ${d.topology})`).join('; ')} |`);
  }
  out.push('');
  out.push('- **pass**: exercised, and it behaved as documented (the evidence lists every check);');
  out.push('- **refused**: the kernel refused it, as it should on this setup, with the expected errno;');
  out.push('- **n/a**: it cannot be exercised on this setup (the evidence says what it needs, and how the kernel answered);');
  out.push('- **fail**: it misbehaved, or the bindings disagree with the kernel; `-`: not in that kernel\'s header.', '');

  out.push('## Kernels', '');
  out.push('| architecture | suite | kernel (`uname -r`) | vfio.h | ioctls | pass | refused | n/a | fail | wall (s) | edu example |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of runs) {
    const c = counts(r);
    out.push(`| ${r.arch} | ${r.suite} | ${r.kernel} | ${r.header.version} | ${Object.keys(r.result.ioctls).length} | ${c.pass} | ${c.refused} | ${c['n/a']} | ${c.fail} | ${(r.wallMs / 1000).toFixed(1)} | ${r.result.example.verdict} |`);
  }
  const injected = runs.filter((r) => r.injected.length);
  if (injected.length) {
    out.push('', `Deliberately broken manifests: ${injected.map((r) => `${r.arch} ${r.suite}: ${r.injected.join('; ')}`).join(' / ')}`);
  }

  out.push('', '## Ioctls', '');
  out.push(`| ioctl | ${runs.map(runLabel).join(' | ')} |`);
  out.push(`|---|${runs.map(() => '---').join('|')}|`);
  for (const n of rowNames(runs, (r) => r.result.ioctls)) {
    out.push(`| \`${n}\` | ${runs.map((r) => cellMd(r.result.ioctls[n]?.verdict)).join(' | ')} |`);
  }

  out.push('', '## Device features (`VFIO_DEVICE_FEATURE` with `PROBE`, on edu)', '');
  out.push(`| feature | ${runs.map(runLabel).join(' | ')} |`);
  out.push(`|---|${runs.map(() => '---').join('|')}|`);
  for (const n of rowNames(runs, (r) => r.result.features)) {
    out.push(`| \`${n}\` | ${runs.map((r) => cellMd(r.result.features[n]?.verdict)).join(' | ')} |`);
  }

  const custom = runs.filter((r) => r.custom);
  if (custom.length) {
    out.push('', '## The custom kernel', '');
    out.push('Built here from Debian\'s newest `linux-source-*` with `conformance/vm/custom/x86_64.config` on top of `tinyconfig`');
    out.push('(IOMMUFD + IOMMUFD_TEST, VFIO group + legacy container + cdev, the mtty/mdpy/mbochs samples; all built in),');
    out.push('cached under `~/.cache/vfio-uapi/custom-kernel/` by (source version, fragment hash). Its manifest adds `iommufd.h`.', '');
    out.push('| kernel | source | fragment | build wall (s) | build CPU (s) | jobs | incremental | image |', '|---|---|---|---|---|---|---|---|');
    for (const r of custom) {
      const b = r.custom!.build;
      out.push(`| ${r.kernel} | ${r.custom!.source} | ${b.fragment} (${b.fragmentHash}) | ${b.wallS} | ${b.cpuS} | ${b.jobs} | ${b.incremental ? 'yes' : 'no'} | ${(b.imageBytes / 1e6).toFixed(2)} MB |`);
    }
  }
  for (const r of runs.filter((x) => x.result.backends)) out.push('', ...backendMatrixMd(r));

  out.push('', '## The edu example driver (`examples/edu.ts`, `runEdu`)', '');
  out.push('| kernel | verdict | detail |', '|---|---|---|');
  for (const r of runs) out.push(`| ${runLabel(r)} | ${r.result.example.verdict} | ${md(r.result.example.detail)} |`);

  out.push('', '## Evidence', '');
  for (const r of runs) {
    out.push(`### ${r.arch} ${r.suite}: ${r.kernel} (vfio.h ${r.header.version}, sha256 ${r.header.sha256.slice(0, 16)}…)`, '');
    out.push('| ioctl | verdict | evidence |', '|---|---|---|');
    for (const [n, e] of Object.entries(r.result.ioctls)) out.push(`| \`${n}\` | ${e.verdict} | ${md(e.detail)} |`);
    out.push('');
    out.push('| feature | verdict | evidence |', '|---|---|---|');
    for (const [n, e] of Object.entries(r.result.features)) out.push(`| \`${n}\` | ${e.verdict} | ${md(e.detail)} |`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The backend matrix of one run: checks x backends, then each difference with what the kernel documents. */
export function backendMatrixMd(run: KernelRun): string[] {
  const m = run.result.backends!;
  const out = [`## IOMMU backends (${run.suite} ${run.kernel}, edu ${m.device})`, ''];
  out.push('The same DMA checks through each backend the kernel selftests name (`conformance/suite/backends.ts`).', '');
  out.push(`| check | ${m.backends.map((b) => `\`${b}\``).join(' | ')} |`);
  out.push(`|---|${m.backends.map(() => '---').join('|')}|`);
  for (const c of m.checks) {
    out.push(`| ${md(c.what)} | ${m.backends.map((b) => { const cell = c.cells[b]!; return cell.ok ? md(cell.text) : `**${md(cell.text)}**`; }).join(' | ')} |`);
  }
  const diffs = m.checks.filter((c) => c.differs);
  out.push('', diffs.length ? 'Where the backends differ:' : 'The backends agree on every check.', '');
  for (const c of diffs) {
    const groups = new Map<string, string[]>();
    for (const b of m.backends) groups.set(c.cells[b]!.text, [...(groups.get(c.cells[b]!.text) ?? []), b]);
    const found = [...groups].map(([text, bs]) => `${bs.map((b) => `\`${b}\``).join(', ')}: ${text}`).join('; ');
    out.push(`- **${md(c.what)}**: ${md(found)}. ${c.documented ? `Documented: ${md(c.documented)}.` : 'Not documented as a difference.'}`);
  }
  return out;
}

function cellMd(v: Verdict | undefined): string {
  return v === undefined ? '-' : v === 'fail' ? '**fail**' : v;
}
