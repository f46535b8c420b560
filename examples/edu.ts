/**
 * A tiny userspace driver for QEMU's `edu` PCI device (1234:11e8) through VFIO:
 * identification, liveness, factorial, DMA round trip and an interrupt on an
 * eventfd.
 *
 * ```sh
 * node dist/examples/edu.js --group 5 --bdf 0000:00:10.0   # or EDU_GROUP / EDU_BDF
 * node dist/examples/edu.js                                # every edu of $VFIO_UAPI_DEVICES (VM harness)
 * options: --irq msi|intx, --dma-bytes N, --backend container|cdev
 * ```
 *
 * Backends: `container` (default) opens the group in a type1 container and
 * maps with `VFIO_IOMMU_MAP_DMA`; `cdev` opens the device cdev
 * (`/dev/vfio/devices/vfioN`), binds it to an iommufd, attaches it to an IOAS
 * and maps with `IOMMU_IOAS_MAP` (the kernel needs `CONFIG_IOMMUFD` and
 * `CONFIG_VFIO_DEVICE_CDEV`).
 *
 * edu's BAR0 (hw/misc/edu.c): 0x00 identification 0x010000ed, 0x04 liveness
 * (reads give ~written), 0x08 factorial, 0x20 status (bit 0 computing, bit 7
 * irq when done), 0x24 irq status, 0x60 raise, 0x64 acknowledge, 0x80/0x88/0x90
 * DMA source/destination/count, 0x98 DMA command (bit 0 start, bit 1 direction:
 * 0 RAM to device, 1 device to RAM, bit 2 irq when done); a 4 KiB buffer at device address 0x40000; DMA
 * addresses are 28-bit.
 */

import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
import * as iommufd from 'vfio-uapi/iommufd';
import * as vfio from 'vfio-uapi/vfio';
import { AnonymousMemory, Container, Device, EventFd, Group, IommuFd, disposingAll, vfioCdevPath } from 'vfio-uapi/runtime';

/** What {@link runEdu} needs. */
export interface EduOptions {
  /** IOMMU group number of the device (`/dev/vfio/<group>`). */
  readonly group: number;
  /** PCI address, `0000:00:10.0`. */
  readonly bdf: string;
  /** n of the factorial to compute (default 12; edu computes modulo 2^32). */
  readonly factorial?: number;
  /** Bytes to DMA each way (default 4095: edu in QEMU ≤ 7.2 rejects a transfer ending exactly at the end of its buffer). */
  readonly dmaBytes?: number;
  /** Interrupt to use (default: MSI if the device has it, else INTx). */
  readonly irq?: 'msi' | 'intx';
  /** Per-step timeout (default 5000 ms). */
  readonly timeoutMs?: number;
  /** How the device and its DMA mappings are reached (default `container`). */
  readonly backend?: 'container' | 'cdev';
}

/** What {@link runEdu} returns (JSON-able: 64-bit values as hex strings). */
export interface EduResult {
  readonly bdf: string;
  readonly group: number;
  readonly ok: boolean;
  /** Container: the IOMMU type, page sizes, IOVA ranges and DMA mapping budget. Cdev: `IOMMUFD`, the IOAS's ranges and alignment, the dev id and attached pt id. */
  readonly iommu: { type: string; pgsizes: string | null; iovaRanges: string[]; dmaAvail: number | null; alignment?: string; devId?: number; ptId?: number };
  readonly device: { flags: string[]; numRegions: number; numIrqs: number; bar0: { size: string; flags: string[] } };
  readonly access: 'mmap' | 'pread/pwrite';
  readonly identification: { value: number; hex: string; version: string; ok: boolean };
  readonly liveness: { wrote: number; read: number; ok: boolean };
  readonly factorial: { n: number; result: number; expected: number; statusPolls: number; ok: boolean };
  readonly dma: { bytes: number; toDeviceIova: string; fromDeviceIova: string; mismatches: number; ok: boolean };
  readonly interrupts: { kind: 'msi' | 'intx'; factorial: Irq; dma: Irq };
}

/** One interrupt taken: the eventfd counter and edu's irq status before acknowledging. */
export interface Irq {
  readonly received: boolean;
  readonly eventfdCount: number;
  readonly irqStatus: number;
}

const REG = { ID: 0x00, LIVE: 0x04, FACT: 0x08, STATUS: 0x20, IRQ_STATUS: 0x24, IRQ_ACK: 0x64, DMA_SRC: 0x80, DMA_DST: 0x88, DMA_CNT: 0x90, DMA_CMD: 0x98 };
const STATUS_COMPUTING = 0x01;
const STATUS_IRQFACT = 0x80;
const DMA_RUN = 0x1;
/** Direction bit: 1 = from edu's buffer to RAM (QEMU's edu.c: `EDU_DMA_TO_PCI`), 0 = from RAM to edu. */
const DMA_TO_RAM = 0x2;
const DMA_IRQ = 0x4;
const IRQ_FACT = 0x1;
const IRQ_DMA = 0x100;
const EDU_BUFFER = 0x40000;
const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;
/** IOVAs of the two host buffers: below 2^28, edu's DMA mask. */
const IOVA_TO_DEVICE = 0x10_0000n;
const IOVA_FROM_DEVICE = 0x20_0000n;

const hex = (v: number | bigint) => `0x${v.toString(16)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens the device through VFIO and drives edu; resolves with what it saw. */
export async function runEdu(opts: EduOptions): Promise<EduResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  using backend = openDma(opts);
  const { device } = backend;
  const info = device.info();

  // Enable memory decoding and bus mastering (DMA and MSI writes need it).
  const CONFIG = vfio.VFIO_PCI_CONFIG_REGION_INDEX;
  if (device.read16(CONFIG, 0) !== 0x1234 || device.read16(CONFIG, 2) !== 0x11e8) throw new Error(`${opts.bdf} is not an edu device`);
  device.write16(CONFIG, PCI_COMMAND, device.read16(CONFIG, PCI_COMMAND) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

  const BAR0 = vfio.VFIO_PCI_BAR0_REGION_INDEX;
  const bar0 = device.regionInfo(BAR0);
  using mapping = bar0.mappable ? device.mmap(BAR0) : undefined;
  const reg = mapping
    ? { read: (o: number) => mapping.read32(o), write: (o: number, v: number) => mapping.write32(o, v) }
    : { read: (o: number) => device.read32(BAR0, o), write: (o: number, v: number) => device.write32(BAR0, o, v) };
  const until = async (what: string, done: () => boolean): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (let polls = 1; ; polls++) {
      if (done()) return polls;
      if (Date.now() > deadline) throw new Error(`${opts.bdf}: timed out waiting for ${what}`);
      await sleep(1);
    }
  };

  const id = reg.read(REG.ID);
  const identification = { value: id, hex: hex(id), version: `${id >>> 24}.${(id >>> 16) & 0xff}`, ok: (id & 0xff) === 0xed };
  const wrote = 0x12345678;
  reg.write(REG.LIVE, wrote);
  const live = reg.read(REG.LIVE);
  const liveness = { wrote, read: live, ok: live === ~wrote >>> 0 };

  // Interrupts: the device's MSI vector (or INTx) signals an eventfd.
  const kind = opts.irq ?? (device.irqInfo(vfio.VFIO_PCI_MSI_IRQ_INDEX).count > 0 ? 'msi' : 'intx');
  const irqIndex = kind === 'msi' ? vfio.VFIO_PCI_MSI_IRQ_INDEX : vfio.VFIO_PCI_INTX_IRQ_INDEX;
  using eventfd = EventFd.create({ nonBlocking: true });
  device.setIrqs({ index: irqIndex, action: 'trigger', data: 'eventfd', eventfds: [eventfd] });
  const takeIrq = async (): Promise<Irq> => {
    const received = await eventfd.waitAsync(timeoutMs);
    const eventfdCount = Number(eventfd.tryRead() ?? 0n);
    const irqStatus = reg.read(REG.IRQ_STATUS);
    reg.write(REG.IRQ_ACK, irqStatus);
    if (kind === 'intx') device.setIrqs({ index: irqIndex, action: 'unmask', data: 'none', count: 1 });
    return { received, eventfdCount, irqStatus };
  };

  try {
    // Factorial, with an interrupt when done.
    const n = opts.factorial ?? 12;
    reg.write(REG.STATUS, STATUS_IRQFACT);
    reg.write(REG.FACT, n);
    const statusPolls = await until('the factorial', () => (reg.read(REG.STATUS) & STATUS_COMPUTING) === 0);
    const factIrq = await takeIrq();
    reg.write(REG.STATUS, 0);
    const result = reg.read(REG.FACT);
    let expected = 1;
    for (let i = 2; i <= n; i++) expected = Math.imul(expected, i) >>> 0;
    const factorial = { n, result, expected, statusPolls, ok: result === expected };

    // DMA: host buffer -> edu's buffer -> another host buffer.
    const bytes = opts.dmaBytes ?? 4095;
    using src = AnonymousMemory.allocate(bytes);
    using dst = AnonymousMemory.allocate(bytes);
    const pattern = src.bytes.subarray(0, bytes);
    for (let i = 0; i < bytes; i++) pattern[i] = (i * 7 + 3) & 0xff;
    dst.bytes.fill(0);
    backend.map(src, IOVA_TO_DEVICE, 'read');
    backend.map(dst, IOVA_FROM_DEVICE, 'write');
    let dmaIrq: Irq;
    try {
      const dmaDone = () => (reg.read(REG.DMA_CMD) & DMA_RUN) === 0;
      reg.write(REG.DMA_SRC, Number(IOVA_TO_DEVICE));
      reg.write(REG.DMA_DST, EDU_BUFFER);
      reg.write(REG.DMA_CNT, bytes);
      reg.write(REG.DMA_CMD, DMA_RUN);
      await until('DMA to the device', dmaDone);
      reg.write(REG.DMA_SRC, EDU_BUFFER);
      reg.write(REG.DMA_DST, Number(IOVA_FROM_DEVICE));
      reg.write(REG.DMA_CNT, bytes);
      reg.write(REG.DMA_CMD, DMA_RUN | DMA_TO_RAM | DMA_IRQ);
      dmaIrq = await takeIrq();
      await until('DMA from the device', dmaDone);
    } finally {
      backend.unmap(IOVA_TO_DEVICE, src.size);
      backend.unmap(IOVA_FROM_DEVICE, dst.size);
    }
    const out = dst.bytes;
    let mismatches = 0;
    for (let i = 0; i < bytes; i++) if (out[i] !== pattern[i]) mismatches++;
    const dma = { bytes, toDeviceIova: hex(IOVA_TO_DEVICE), fromDeviceIova: hex(IOVA_FROM_DEVICE), mismatches, ok: mismatches === 0 };

    const interrupts = { kind, factorial: factIrq, dma: dmaIrq };
    const irqsOk = factIrq.received && (factIrq.irqStatus & IRQ_FACT) !== 0 && dmaIrq.received && (dmaIrq.irqStatus & IRQ_DMA) !== 0;
    return {
      bdf: opts.bdf,
      group: opts.group,
      ok: identification.ok && liveness.ok && factorial.ok && dma.ok && irqsOk,
      iommu: backend.describe(),
      device: { flags: [...info.flagNames], numRegions: info.numRegions, numIrqs: info.numIrqs, bar0: { size: hex(bar0.size), flags: [...bar0.flagNames] } },
      access: mapping ? 'mmap' : 'pread/pwrite',
      identification, liveness, factorial, dma, interrupts,
    };
  } finally {
    device.disableIrqs(irqIndex);
  }
}

/** The device opened through one backend, and how to map DMA for it. */
interface DmaBackend extends Disposable {
  readonly device: Device;
  /** Maps `memory` at `iova`, for the device to read from or write to. */
  map(memory: AnonymousMemory, iova: bigint, access: 'read' | 'write'): void;
  unmap(iova: bigint, size: number): void;
  describe(): EduResult['iommu'];
}

/** Opens the device through `opts.backend`: a group in a type1 container, or the cdev bound to an iommufd and attached to an IOAS. */
function openDma(opts: EduOptions): DmaBackend {
  return disposingAll((own): Omit<DmaBackend, typeof Symbol.dispose> => {
    if (opts.backend === 'cdev') {
      const ictx = own(IommuFd.open());
      const ioas = own(ictx.allocIoas());
      const device = own(Device.openCdev(vfioCdevPath(opts.bdf), { iommufd: ictx, name: opts.bdf }));
      const ptId = device.attachPt(ioas);
      const flag = { read: iommufd.IOMMU_IOAS_MAP_READABLE, write: iommufd.IOMMU_IOAS_MAP_WRITEABLE };
      return {
        device,
        map: (memory, iova, access) => void ioas.map({ userVa: memory.address, length: memory.size, iova, flags: flag[access] }),
        unmap: (iova, size) => void ioas.unmap({ iova, length: size }),
        describe: () => {
          const { ranges, alignment } = ioas.iovaRanges();
          return { type: 'IOMMUFD', pgsizes: null, iovaRanges: ranges.map((r) => `${hex(r.start)}-${hex(r.last)}`), dmaAvail: null, alignment: hex(alignment), devId: device.devId, ptId };
        },
      };
    }
    const container = own(Container.open());
    const group = own(Group.open(opts.group));
    if (!group.status().viable) throw new Error(`group ${opts.group} is not viable: bind all its devices to vfio-pci`);
    group.setContainer(container);
    const type1v2 = container.checkExtension(vfio.VFIO_TYPE1v2_IOMMU) > 0;
    container.setIommu(type1v2 ? vfio.VFIO_TYPE1v2_IOMMU : vfio.VFIO_TYPE1_IOMMU);
    const device = own(group.openDevice(opts.bdf));
    const flag = { read: vfio.VFIO_DMA_MAP_FLAG_READ, write: vfio.VFIO_DMA_MAP_FLAG_WRITE };
    return {
      device,
      map: (memory, iova, access) => container.mapDma({ vaddr: memory.address, iova, size: memory.size, flags: flag[access] }),
      unmap: (iova, size) => void container.unmapDma({ iova, size }),
      describe: () => {
        const iommu = container.iommuInfo();
        return {
          type: type1v2 ? 'VFIO_TYPE1v2_IOMMU' : 'VFIO_TYPE1_IOMMU',
          pgsizes: hex(iommu.iovaPgsizes),
          iovaRanges: (iommu.iovaRanges ?? []).map((r) => `${hex(r.start)}-${hex(r.end)}`),
          dmaAvail: iommu.dmaAvail ?? null,
        };
      },
    };
  });
}

/** The edu devices to drive: `--group N --bdf B`, `EDU_GROUP`/`EDU_BDF`, or every edu of `$VFIO_UAPI_DEVICES`. */
function targets(argv: readonly string[]): EduOptions[] {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const group = arg('group') ?? process.env.EDU_GROUP;
  const bdf = arg('bdf') ?? process.env.EDU_BDF;
  const irq = arg('irq') as 'msi' | 'intx' | undefined;
  const dmaBytes = arg('dma-bytes') === undefined ? undefined : Number(arg('dma-bytes'));
  const backend = arg('backend') as 'container' | 'cdev' | undefined;
  if (group !== undefined && bdf !== undefined) return [{ group: Number(group), bdf, irq, dmaBytes, backend }];
  const devices = JSON.parse(process.env.VFIO_UAPI_DEVICES ?? '[]') as { bdf: string; vendor: string; device: string; iommuGroup: number }[];
  const edus = devices.filter((d) => d.vendor === '0x1234' && d.device === '0x11e8');
  if (edus.length === 0) throw new Error('usage: edu.js --group N --bdf SSSS:BB:DD.F (or EDU_GROUP and EDU_BDF)');
  return edus.map((d) => ({ group: d.iommuGroup, bdf: d.bdf, irq, dmaBytes, backend }));
}

/** CLI: drives each target, prints (and writes to `$VFIO_UAPI_RESULT`) the results as JSON; exit code 1 unless all are ok. */
async function main(): Promise<void> {
  const results: (EduResult | { bdf: string; group: number; ok: false; error: string })[] = [];
  for (const target of targets(process.argv.slice(2))) {
    try {
      results.push(await runEdu(target));
    } catch (error) {
      results.push({ bdf: target.bdf, group: target.group, ok: false, error: String((error as Error).stack ?? error) });
    }
  }
  const json = JSON.stringify(results, null, 2);
  if (process.env.VFIO_UAPI_RESULT) writeFileSync(process.env.VFIO_UAPI_RESULT, json);
  console.log(json);
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
