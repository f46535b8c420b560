/**
 * A minimal virtio-pci (modern, virtio 1.x) driver for a virtio entropy
 * device (1af4:1044) through VFIO: it finds the virtio capabilities in config
 * space, negotiates VERSION_1 (and ACCESS_PLATFORM when offered: the device
 * then DMAs through the IOMMU), sets up virtqueue 0 in one DMA-mapped buffer,
 * posts one device-writable buffer and waits for the device to fill it with
 * random bytes.
 *
 * Every register access is a pread/pwrite on the device fd (no mmap), so it
 * runs where CPU loads from an mmapped BAR are impossible (s390x without the
 * pcimio facility). The rings and the virtio registers are little-endian on
 * every architecture.
 *
 * ```sh
 * node dist/examples/virtio-rng.js --group 0 --bdf 0001:00:00.0
 * node dist/examples/virtio-rng.js            # every virtio-rng of $VFIO_UAPI_DEVICES (VM harness)
 * ```
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as vfio from 'vfio-uapi/vfio';
import { AnonymousMemory, Container, Group, type Device } from 'vfio-uapi/runtime';

/** What {@link runVirtioRng} needs. */
export interface VirtioRngOptions {
  /** IOMMU group number (`/dev/vfio/<group>`). */
  readonly group: number;
  /** PCI address. */
  readonly bdf: string;
  /** Random bytes to ask for (default 64, at most 4096). */
  readonly bytes?: number;
  /** IOVA of the DMA buffer (default: the start of the IOMMU's first IOVA range, or 1 MiB where that is 0 or unknown). */
  readonly iova?: bigint;
  /** Timeout waiting for the device (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** What {@link runVirtioRng} returns (JSON-able). */
export interface VirtioRngResult {
  readonly bdf: string;
  readonly ok: boolean;
  /** Where the capabilities are: `BAR n + offset`. */
  readonly capabilities: Record<string, string>;
  readonly features: { device: string; driver: string; accessPlatform: boolean };
  readonly queue: { size: number; iova: string };
  /** Bytes the device reports written (used ring) and the first 16 of them. */
  readonly used: { id: number; len: number; head: string };
  /** Distinct byte values among them (a sanity check of randomness, not a test of it). */
  readonly distinct: number;
}

const PCI_COMMAND = 0x04;
const PCI_STATUS = 0x06;
const PCI_CAPABILITY_LIST = 0x34;
const PCI_CAP_ID_VNDR = 0x09;
/** virtio_pci_cap.cfg_type */
const CAP_TYPES: Record<number, string> = { 1: 'common', 2: 'notify', 3: 'isr', 4: 'device', 5: 'pci' };
/** struct virtio_pci_common_cfg offsets. */
const COMMON = {
  deviceFeatureSelect: 0x00, deviceFeature: 0x04, driverFeatureSelect: 0x08, driverFeature: 0x0c,
  deviceStatus: 0x14, queueSelect: 0x16, queueSize: 0x18, queueEnable: 0x1c, queueNotifyOff: 0x1e,
  queueDesc: 0x20, queueDriver: 0x28, queueDevice: 0x30,
};
const STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, FAILED: 0x80 };
/** Feature bits 32 and 33 (word 1, bits 0 and 1). */
const F_VERSION_1 = 1 << 0;
const F_ACCESS_PLATFORM = 1 << 1;
const VIRTQ_DESC_F_WRITE = 2;
const QUEUE_SIZE = 8;
/** Layout of the DMA buffer: descriptor table, driver (avail) ring, device (used) ring, data; one page each. */
const PAGE = 4096;
const AT = { desc: 0, avail: PAGE, used: 2 * PAGE, data: 3 * PAGE };

const hex = (v: number | bigint) => `0x${v.toString(16)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Where {
  bar: number;
  offset: number;
  length: number;
  notifyMultiplier?: number;
}

/** The virtio vendor capabilities in config space, by type. */
function virtioCaps(device: Device): Map<string, Where> {
  const CONFIG = vfio.VFIO_PCI_CONFIG_REGION_INDEX;
  const caps = new Map<string, Where>();
  if ((device.read16(CONFIG, PCI_STATUS) & 0x10) === 0) throw new Error('no capability list in config space');
  for (let at = device.read8(CONFIG, PCI_CAPABILITY_LIST) & 0xfc, guard = 0; at !== 0 && guard < 48; guard++) {
    if (device.read8(CONFIG, at) === PCI_CAP_ID_VNDR) {
      const type = CAP_TYPES[device.read8(CONFIG, at + 3)];
      if (type && !caps.has(type)) {
        caps.set(type, {
          bar: device.read8(CONFIG, at + 4),
          offset: device.read32(CONFIG, at + 8),
          length: device.read32(CONFIG, at + 12),
          ...(type === 'notify' ? { notifyMultiplier: device.read32(CONFIG, at + 16) } : {}),
        });
      }
    }
    at = device.read8(CONFIG, at + 1) & 0xfc;
  }
  for (const need of ['common', 'notify']) if (!caps.has(need)) throw new Error(`no virtio ${need} capability`);
  return caps;
}

/** Opens the device through VFIO, asks it for random bytes by DMA, and resolves with what it saw. */
export async function runVirtioRng(opts: VirtioRngOptions): Promise<VirtioRngResult> {
  const want = opts.bytes ?? 64;
  if (!Number.isInteger(want) || want < 1 || want > PAGE) throw new RangeError(`bytes must be 1..${PAGE}, not ${want}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  using container = Container.open();
  using group = Group.open(opts.group);
  if (!group.status().viable) throw new Error(`group ${opts.group} is not viable: bind all its devices to vfio-pci`);
  group.setContainer(container);
  container.setIommu(vfio.VFIO_TYPE1v2_IOMMU);
  const ranges = container.iommuInfo().iovaRanges ?? [];
  // Not 0, where x86's first range starts: QEMU's virtio takes a virtqueue address of 0 for "no queue" and never
  // serves it (the conformance suite timed out waiting for the used ring on x86_64).
  const start = ranges.length ? BigInt(ranges[0]!.start) : 0n;
  const iova = opts.iova ?? (start > 0n ? start : 0x100000n);
  using device = group.openDevice(opts.bdf);
  const CONFIG = vfio.VFIO_PCI_CONFIG_REGION_INDEX;
  device.write16(CONFIG, PCI_COMMAND, device.read16(CONFIG, PCI_COMMAND) | 0x6); // memory space + bus master

  const caps = virtioCaps(device);
  const common = caps.get('common')!;
  const notify = caps.get('notify')!;
  const bar = (w: Where) => vfio.VFIO_PCI_BAR0_REGION_INDEX + w.bar;
  const c8 = (off: number) => device.read8(bar(common), common.offset + off);
  const c16 = (off: number) => device.read16(bar(common), common.offset + off);
  const c32 = (off: number) => device.read32(bar(common), common.offset + off);
  const w8 = (off: number, v: number) => device.write8(bar(common), common.offset + off, v);
  const w16 = (off: number, v: number) => device.write16(bar(common), common.offset + off, v);
  const w32 = (off: number, v: number) => device.write32(bar(common), common.offset + off, v);
  const w64 = (off: number, v: bigint) => device.write64(bar(common), common.offset + off, v);
  const until = async (what: string, done: () => boolean) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${opts.bdf}: timed out waiting for ${what}`);
      await sleep(1);
    }
  };

  // Reset, then ACKNOWLEDGE | DRIVER, features, FEATURES_OK.
  w8(COMMON.deviceStatus, 0);
  await until('the reset to complete', () => c8(COMMON.deviceStatus) === 0);
  w8(COMMON.deviceStatus, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
  w32(COMMON.deviceFeatureSelect, 1);
  const high = c32(COMMON.deviceFeature);
  w32(COMMON.deviceFeatureSelect, 0);
  const low = c32(COMMON.deviceFeature);
  if ((high & F_VERSION_1) === 0) throw new Error(`${opts.bdf} does not offer VIRTIO_F_VERSION_1 (a legacy device)`);
  const driverHigh = F_VERSION_1 | (high & F_ACCESS_PLATFORM);
  w32(COMMON.driverFeatureSelect, 0);
  w32(COMMON.driverFeature, 0);
  w32(COMMON.driverFeatureSelect, 1);
  w32(COMMON.driverFeature, driverHigh);
  w8(COMMON.deviceStatus, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  if ((c8(COMMON.deviceStatus) & STATUS.FEATURES_OK) === 0) throw new Error(`${opts.bdf} refused the features ${hex(driverHigh)}:0`);

  // Virtqueue 0 in one buffer, mapped at `iova`.
  using mem = AnonymousMemory.allocate(4 * PAGE);
  const bytes = mem.bytes;
  const view = new DataView(mem.buffer);
  container.mapDma({ vaddr: mem.address, iova, size: mem.size });
  try {
    w16(COMMON.queueSelect, 0);
    const max = c16(COMMON.queueSize);
    if (max === 0) throw new Error(`${opts.bdf}: queue 0 does not exist`);
    const size = Math.min(max, QUEUE_SIZE);
    w16(COMMON.queueSize, size);
    w64(COMMON.queueDesc, iova + BigInt(AT.desc));
    w64(COMMON.queueDriver, iova + BigInt(AT.avail));
    w64(COMMON.queueDevice, iova + BigInt(AT.used));
    const notifyOff = c16(COMMON.queueNotifyOff);
    w16(COMMON.queueEnable, 1);
    w8(COMMON.deviceStatus, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);

    // One device-writable descriptor, made available; then notify queue 0.
    bytes.fill(0, AT.data, AT.data + want);
    view.setBigUint64(AT.desc + 0, iova + BigInt(AT.data), true);
    view.setUint32(AT.desc + 8, want, true);
    view.setUint16(AT.desc + 12, VIRTQ_DESC_F_WRITE, true);
    view.setUint16(AT.desc + 14, 0, true);
    view.setUint16(AT.avail + 4, 0, true); // ring[0] = descriptor 0
    view.setUint16(AT.avail + 2, 1, true); // idx
    device.write16(bar(notify), notify.offset + notifyOff * (notify.notifyMultiplier ?? 0), 0);
    await until('the used ring', () => view.getUint16(AT.used + 2, true) === 1);
    if (c8(COMMON.deviceStatus) & STATUS.FAILED) throw new Error(`${opts.bdf} set FAILED in its status`);
    const id = view.getUint32(AT.used + 4, true);
    const len = view.getUint32(AT.used + 8, true);
    const data = bytes.subarray(AT.data, AT.data + Math.min(len, want));
    const distinct = new Set(data).size;
    w8(COMMON.deviceStatus, 0); // reset: the device lets go of the queue before it is unmapped
    return {
      bdf: opts.bdf,
      ok: id === 0 && len === want && distinct > 1,
      capabilities: Object.fromEntries([...caps].map(([k, w]) => [k, `BAR ${w.bar} + ${hex(w.offset)}`])),
      features: { device: `${hex(high)}:${hex(low)}`, driver: `${hex(driverHigh)}:0x0`, accessPlatform: (driverHigh & F_ACCESS_PLATFORM) !== 0 },
      queue: { size, iova: hex(iova) },
      used: { id, len, head: Buffer.from(data.subarray(0, 16)).toString('hex') },
      distinct,
    };
  } finally {
    container.unmapDma({ iova, size: BigInt(mem.size) });
  }
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const bdf = arg('bdf');
  const group = arg('group');
  const targets = bdf && group
    ? [{ bdf, group: Number(group) }]
    : (JSON.parse(process.env.VFIO_UAPI_DEVICES ?? '[]') as { bdf: string; vendor: string; device: string; iommuGroup: number }[])
      .filter((d) => d.vendor === '0x1af4' && d.device === '0x1044')
      .map((d) => ({ bdf: d.bdf, group: d.iommuGroup }));
  if (targets.length === 0) throw new Error('no virtio-rng device: pass --group N --bdf BDF');
  const results = [];
  for (const t of targets) results.push(await runVirtioRng(t));
  const text = JSON.stringify(results, null, 2);
  if (process.env.VFIO_UAPI_RESULT) writeFileSync(process.env.VFIO_UAPI_RESULT, text);
  console.log(text);
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
