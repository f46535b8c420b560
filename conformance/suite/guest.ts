/**
 * The guest suite's entry point: `node guest.js <manifest.json>`, run as root
 * where the devices of `$VFIO_UAPI_DEVICES` are bound to vfio-pci (inside the
 * VM harness, or on a real machine with `--host`). Writes a
 * {@link GuestResult} to `$VFIO_UAPI_RESULT` (or stdout).
 *
 * Order: container and groups, IOMMU, device fds and infos, region access,
 * DMA, interrupts, ioeventfd, features, resets, the unsupported ioctls, the
 * teardown; then, where the manifest has iommufd.h: the iommufd size rule,
 * IOAS, the mock IOMMU, the cdev path, the five IOMMU backends, migration on
 * mtty, GFX planes on mdpy/mbochs; then the edu example driver.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as iommufd from 'vfio-uapi/iommufd';
import * as vfio from 'vfio-uapi/vfio';
import { containerChecks, groupChecks, iommuInfoChecks, openDevices, teardownChecks } from './container.js';
import { Context, type DeviceEntry } from './context.js';
import { deviceInfoChecks, regionAccessChecks } from './device.js';
import { dmaChecks } from './dma.js';
import { featureChecks } from './features.js';
import { irqChecks } from './irqs.js';
import { KernelAbi } from './kabi.js';
import { hotResetChecks, ioeventfdChecks, resetChecks } from './reset.js';
import type { BackendMatrix, GuestResult, Manifest, VerdictEntry } from './types.js';
import { backendChecks } from './backends.js';
import { cdevChecks } from './cdev.js';
import { gfxChecks } from './gfx.js';
import { hasIommufd, ioasChecks, mockChecks, sizeRuleChecks } from './iommufd.js';
import { migrationChecks } from './migration.js';
import { runVirtioRng as runVirtio } from '../../examples/virtio-rng.js';
import { spaprChecks, spaprV1Checks } from './spapr.js';
import { unsupportedChecks } from './unsupported.js';
import { Verdicts } from './verdicts.js';

/** Prefix of the suite's console lines (the host shows them as progress). */
export const SUITE_MARK = '[suite]';

const log = (line: string) => process.stdout.write(`${SUITE_MARK} ${line}\n`);

/** QEMU ids first in the harness's order (edu0, edu1, nic0), then the rest as given. */
function orderDevices(entries: DeviceEntry[]): DeviceEntry[] {
  const rank = (e: DeviceEntry) => ['edu0', 'edu1', 'nic0'].indexOf(e.qemuId ?? '') >>> 0;
  return [...entries].sort((a, b) => rank(a) - rank(b));
}

/** Runs one stage; a stage that throws is recorded against `subject` and the suite goes on. */
function stage(v: Verdicts, subject: string, name: string, body: () => void): void {
  log(`-- ${name}`);
  v.run(subject, name, body);
}

/** Records, as failures, the places where the bindings' request numbers differ from the kernel header's. */
function compareNumbers(k: KernelAbi, v: Verdicts): void {
  const bound = { ...(iommufd.ioctls as Record<string, { request: number } | undefined>), ...(vfio.ioctls as Record<string, { request: number } | undefined>) };
  for (const spec of k.manifest.ioctls) {
    const b = bound[spec.name];
    if (b && b.request !== spec.number) {
      v.fail(spec.name, `the bindings' request 0x${b.request.toString(16)} differs from this header's 0x${spec.number.toString(16)}`);
    }
    if (spec.arg.kind === 'struct') {
      const note = k.codec(spec.arg.record).note;
      if (note) v.note(spec.name, note);
    }
  }
}

/** The parts of the example's result the report shows. */
interface EduSummary {
  ok?: boolean;
  identification?: { hex?: string; ok?: boolean };
  factorial?: { n?: number; result?: number; ok?: boolean };
  dma?: { bytes?: number; mismatches?: number; ok?: boolean };
  interrupts?: { kind?: string; factorial?: { received?: boolean }; dma?: { received?: boolean } };
}

function summarizeEdu(out: EduSummary | undefined): string {
  if (!out || typeof out !== 'object') return 'completed (no result)';
  const parts = [`ok ${out.ok}`];
  if (out.identification) parts.push(`identification ${out.identification.hex} (${out.identification.ok ? 'ok' : 'wrong'})`);
  if (out.factorial) parts.push(`${out.factorial.n}! = ${out.factorial.result} (${out.factorial.ok ? 'ok' : 'wrong'})`);
  if (out.dma) parts.push(`DMA ${out.dma.bytes} bytes each way, ${out.dma.mismatches} mismatches`);
  if (out.interrupts) parts.push(`${out.interrupts.kind} interrupts: factorial ${out.interrupts.factorial?.received ? 'received' : 'missed'}, DMA ${out.interrupts.dma?.received ? 'received' : 'missed'}`);
  return parts.join('; ');
}

/** Runs the example edu driver (dist/examples/edu.js) on the first edu device, if the example exists. */
async function runExample(devices: DeviceEntry[]): Promise<VerdictEntry> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = path.resolve(here, '../../examples/edu.js');
  if (!existsSync(file)) return { verdict: 'n/a', detail: `${path.relative(path.resolve(here, '../..'), file)} does not exist (not built)` };
  const edu = devices.find((d) => d.vendor === '0x1234' && d.device === '0x11e8');
  if (!edu) return { verdict: 'n/a', detail: 'no edu device' };
  try {
    const mod = (await import(pathToFileURL(file).href)) as { runEdu?: (opts: { bdf: string; group: number }) => unknown };
    if (typeof mod.runEdu !== 'function') return { verdict: 'fail', detail: 'examples/edu.js does not export runEdu' };
    const out = (await mod.runEdu({ bdf: edu.bdf, group: edu.iommuGroup })) as EduSummary | undefined;
    return { verdict: out?.ok === false ? 'fail' : 'pass', detail: `runEdu on ${edu.bdf}: ${summarizeEdu(out)}` };
  } catch (e) {
    return { verdict: 'fail', detail: `runEdu on ${edu.bdf} threw: ${(e as Error).message ?? String(e)}` };
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const manifestPath = process.argv[2];
  if (!manifestPath) throw new Error('usage: guest.js <manifest.json>');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const all = orderDevices(JSON.parse(process.env.VFIO_UAPI_DEVICES ?? '[]') as DeviceEntry[]);
  // One group per sPAPR container: with a second group attached, MAP_DMA and TCE_CREATE answer EPERM (seen on 7.2
  // under pseries). The main stages use the first group; the v1 stage takes the last device's group.
  const entries = manifest.platform.iommu === 'spapr' ? all.filter((e) => e.iommuGroup === all[0]?.iommuGroup) : all;
  const k = new KernelAbi(manifest);
  const v = new Verdicts(log);
  const ctx = new Context(k, v, entries, log);
  log(`kernel ${os.release()}, header ${manifest.header.version}, ${manifest.ioctls.length} ioctls, devices ${entries.map((e) => `${e.bdf}(${e.qemuId ?? e.device})`).join(' ')}`);
  if (manifest.injected.length) log(`deliberately broken manifest: ${manifest.injected.join('; ')}`);

  compareNumbers(k, v);
  if (entries.length === 0) v.fail('setup', 'no devices bound to vfio-pci were given ($VFIO_UAPI_DEVICES)');

  try {
    stage(v, 'VFIO_GET_API_VERSION', 'container', () => containerChecks(ctx));
    stage(v, 'VFIO_GROUP_GET_STATUS', 'groups', () => groupChecks(ctx));
    const spapr = ctx.platform.iommu === 'spapr';
    let iommu: ReturnType<typeof iommuInfoChecks> = { ranges: [] };
    if (!spapr) stage(v, 'VFIO_IOMMU_GET_INFO', 'IOMMU info', () => { iommu = iommuInfoChecks(ctx); });
    let fds = new Map();
    stage(v, 'VFIO_GROUP_GET_DEVICE_FD', 'device fds', () => { fds = openDevices(ctx); });
    stage(v, 'VFIO_DEVICE_GET_INFO', 'device, region and IRQ info', () => deviceInfoChecks(ctx, fds, iommu.ranges));
    const edus = [...ctx.devices.values()].filter((d) => d.model === 'edu');
    for (const edu of edus) stage(v, 'VFIO_DEVICE_GET_REGION_INFO', `region access ${edu.entry.bdf}`, () => regionAccessChecks(ctx, edu));
    const edu0 = ctx.deviceOf('edu', 'edu0');
    if (spapr) stage(v, 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'sPAPR TCE (v2 container)', () => spaprChecks(ctx, edu0));
    else stage(v, 'VFIO_IOMMU_MAP_DMA', 'DMA', () => dmaChecks(ctx, edu0, iommu.dmaAvail));
    stage(v, 'VFIO_DEVICE_SET_IRQS', 'interrupts', () => irqChecks(ctx));
    if (edu0) stage(v, 'VFIO_DEVICE_IOEVENTFD', 'ioeventfd', () => ioeventfdChecks(ctx, edu0));
    else v.na('VFIO_DEVICE_IOEVENTFD', 'needs an edu device (a BAR register whose writes can be read back)');
    const first = edu0 ?? [...ctx.devices.values()][0];
    if (first) stage(v, 'VFIO_DEVICE_FEATURE', 'device features', () => featureChecks(ctx, first));
    stage(v, 'VFIO_DEVICE_RESET', 'reset', () => resetChecks(ctx));
    stage(v, 'VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', 'hot reset', () => hotResetChecks(ctx));
    stage(v, 'setup', 'unsupported ioctls', () => unsupportedChecks(ctx));
    stage(v, 'VFIO_GROUP_UNSET_CONTAINER', 'teardown', () => teardownChecks(ctx));
    const last = all[all.length - 1];
    if (spapr && last) stage(v, 'VFIO_IOMMU_ENABLE', 'sPAPR TCE v1 container', () => spaprV1Checks(ctx, last));
  } finally {
    for (const d of ctx.devices.values()) d.fd.close();
    for (const g of ctx.groups.values()) g.close();
    ctx.container?.close();
  }

  for (const rng of entries.filter((e) => e.vendor === '0x1af4' && e.device === '0x1044')) {
    log('-- virtio-rng example');
    await v.runAsync('VFIO_IOMMU_MAP_DMA', `virtio-rng ${rng.bdf}`, async () => {
      const r = await runVirtio({ bdf: rng.bdf, group: rng.iommuGroup });
      v.expect('VFIO_IOMMU_MAP_DMA', r.ok,
        `virtio-rng ${rng.bdf} DMA round trip (examples/virtio-rng.ts, pread/pwrite only): virtqueue of ${r.queue.size} at IOVA ${r.queue.iova}, features ${r.features.driver}${r.features.accessPlatform ? ' (ACCESS_PLATFORM: through the IOMMU)' : ''}, the device wrote ${r.used.len} random bytes (${r.distinct} distinct; ${r.used.head}...)`);
    });
  }
  // iommufd, the cdev path, the backends, migration and GFX: on kernels whose manifest has iommufd.h (the custom
  // kernel), after the group path has closed everything (a device is opened through its group or its cdev, not both).
  let backends: BackendMatrix | undefined;
  if (hasIommufd(ctx)) {
    if (!existsSync('/dev/iommu')) v.fail('setup', 'the manifest has iommufd.h but the kernel has no /dev/iommu (CONFIG_IOMMUFD)');
    else {
      stage(v, 'IOMMU_IOAS_ALLOC', 'iommufd size rule', () => sizeRuleChecks(ctx));
      stage(v, 'IOMMU_IOAS_ALLOC', 'iommufd IOAS', () => ioasChecks(ctx));
      stage(v, 'IOMMU_HWPT_ALLOC', 'iommufd mock IOMMU', () => mockChecks(ctx));
      const edu = entries.find((e) => e.qemuId === 'edu0') ?? entries.find((e) => e.vendor === '0x1234' && e.device === '0x11e8');
      if (edu) {
        stage(v, 'VFIO_DEVICE_BIND_IOMMUFD', 'cdev', () => cdevChecks(ctx, edu));
        stage(v, 'IOMMU_IOAS_MAP', 'IOMMU backends', () => { backends = backendChecks(ctx, edu); });
      } else v.fail('setup', 'no edu device for the cdev path and the backends');
      stage(v, 'VFIO_DEVICE_FEATURE', 'migration (mtty)', () => migrationChecks(ctx));
      stage(v, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'GFX planes (mdpy, mbochs)', () => gfxChecks(ctx));
    }
  }

  log('-- edu example');
  const example = ctx.platform.iommu === 'type1'
    ? await runExample(entries)
    : { verdict: 'n/a' as const, detail: `examples/edu.ts drives a type1 container; on ${ctx.platform.arch} (${ctx.platform.iommu}) edu DMA is exercised by the sPAPR stage` };
  log(`edu example: ${example.verdict}: ${example.detail}`);

  const setupFailures = v.failures('setup');
  const ioctls = v.verdicts(manifest.ioctls.map((i) => i.name));
  if (setupFailures.length) {
    for (const entry of Object.values(ioctls)) {
      if (entry.detail.startsWith('not exercised')) entry.detail += ` (setup failed: ${setupFailures.join('; ')})`;
    }
  }
  const result: GuestResult = {
    kernel: os.release(),
    header: manifest.header,
    ioctls,
    features: v.verdicts(manifest.features),
    example,
    checks: v.checks,
    ...(backends ? { backends } : {}),
    elapsedMs: Date.now() - started,
  };
  const out = JSON.stringify(result, null, 1);
  if (process.env.VFIO_UAPI_RESULT) writeFileSync(process.env.VFIO_UAPI_RESULT, out);
  else process.stdout.write(`${out}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  process.stderr.write(`${SUITE_MARK} fatal: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
