/**
 * Migrates one mtty mdev (the kernel's sample virtual serial card,
 * samples/vfio-mdev/mtty.c) into another with VFIO migration v2, and shows
 * that characters sent to the source's serial port come out of the target's.
 *
 * ```sh
 * node dist/examples/migrate-mtty.js                            # creates two mtty-1 mdevs, removes them after
 * node dist/examples/migrate-mtty.js --source UUID --target UUID   # existing mdevs (bound to mtty)
 * options: --path cdev|group (default: cdev when /dev/iommu exists), --message TEXT (≤ 16 bytes), --no-precopy
 * ```
 *
 * Source: RUNNING → PRE_COPY (a data fd; `VFIO_MIG_GET_PRECOPY_INFO`; the
 * initial bytes read) → STOP_COPY (same fd, read to EOF) → STOP. Target:
 * RUNNING → STOP → RESUMING (a data fd; the saved bytes written) → STOP →
 * RUNNING. The resuming fd stays open until the target has left RESUMING: the
 * driver drops what was written when it is closed.
 *
 * mtty's serial port (BAR0, an I/O BAR accessed with pread/pwrite): offset 0 is
 * TX on write and RX on read; what is written lands in a 16-byte loopback FIFO
 * that reads return; offset 5 is LSR, bit 0 (DR) set while the FIFO has data.
 * The FIFO is part of the migrated state.
 */

import { randomUUID } from 'node:crypto';
import { existsSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as vfio from 'vfio-uapi/vfio';
import {
  Container, Device, Group, IommuFd, disposingAll, vfioCdevPath,
  type MigrationData, type MigrationStateName, type PrecopyInfo,
} from 'vfio-uapi/runtime';

/** What {@link migrateMtty} needs. */
export interface MigrateMttyOptions {
  /** UUID of the source mdev. */
  readonly source: string;
  /** UUID of the target mdev (same type as the source). */
  readonly target: string;
  /** How to open them: device cdevs bound to an iommufd, or groups in a type1 container. */
  readonly path: 'cdev' | 'group';
  /** Sent to the source's serial port before the migration (at most 16 bytes: mtty's FIFO). */
  readonly message?: string;
  /** Go through PRE_COPY when the device offers it (default true). */
  readonly precopy?: boolean;
}

/** What {@link migrateMtty} returns (JSON-able). */
export interface MigrateMttyResult {
  readonly ok: boolean;
  readonly path: 'cdev' | 'group';
  readonly source: string;
  readonly target: string;
  /** `VFIO_DEVICE_FEATURE_MIGRATION` of the source. */
  readonly migrationFlags: readonly string[];
  /** `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE` of the source, before saving. */
  readonly stopCopyLength: string;
  /** The dev ids `VFIO_DEVICE_BIND_IOMMUFD` returned (cdev path). */
  readonly devIds?: readonly number[];
  /** Each transition: the state asked for, the state reported, whether a data fd came back. */
  readonly transitions: readonly { device: 'source' | 'target'; to: MigrationStateName; state: MigrationStateName; dataFd: boolean }[];
  /** `VFIO_MIG_GET_PRECOPY_INFO` in PRE_COPY, if it was used. */
  readonly precopyInfo?: { initialBytes: string; dirtyBytes: string };
  /** Bytes read in PRE_COPY and in STOP_COPY. */
  readonly savedBytes: { precopy: number; stopCopy: number; total: number };
  /** The message sent to the source, and what the target's serial port returned after the migration. */
  readonly message: string;
  /** What the source's and the target's FIFOs held before (drained first). */
  readonly sourceBefore: string;
  readonly targetBefore: string;
  readonly received: string;
}

const UART_RX_TX = 0;
const UART_LSR = 5;
const UART_LSR_DR = 0x01;
const BAR0 = vfio.VFIO_PCI_BAR0_REGION_INDEX;
const MTTY_FIFO = 16;

/** Sends `text` to the serial port: each byte written to TX lands in the loopback FIFO. */
function send(device: Device, text: string): void {
  for (const byte of new TextEncoder().encode(text)) device.write8(BAR0, UART_RX_TX, byte);
}

/** Reads the serial port while LSR says data is ready (at most the FIFO's size). */
function receive(device: Device): string {
  const bytes: number[] = [];
  while (bytes.length < MTTY_FIFO && (device.read8(BAR0, UART_LSR) & UART_LSR_DR) !== 0) bytes.push(device.read8(BAR0, UART_RX_TX));
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** The two mdevs opened one way or the other, and what to close. */
interface Opened extends Disposable {
  readonly source: Device;
  readonly target: Device;
  readonly devIds?: number[];
}

/** Cdev path: one iommufd, one IOAS, both devices bound to it and attached to the IOAS. */
function openCdevs(source: string, target: string): Opened {
  return disposingAll((own) => {
    const ictx = own(IommuFd.open());
    const ioas = own(ictx.allocIoas());
    const open = (uuid: string) => {
      const device = own(Device.openCdev(vfioCdevPath(uuid), { iommufd: ictx, name: uuid }));
      device.attachPt(ioas);
      return device;
    };
    const s = open(source);
    const t = open(target);
    return { source: s, target: t, devIds: [s.devId!, t.devId!] };
  });
}

/** Group path: each mdev's group (`/sys/bus/mdev/devices/<uuid>/iommu_group`) in one type1 container. */
function openGroups(source: string, target: string): Opened {
  return disposingAll((own) => {
    const container = own(Container.open());
    const groupOf = (uuid: string) => Number(basename(readlinkSync(`/sys/bus/mdev/devices/${uuid}/iommu_group`)));
    const groups = [source, target].map((uuid) => own(Group.open(groupOf(uuid))));
    for (const g of groups) g.setContainer(container);
    container.setIommu(container.checkExtension(vfio.VFIO_TYPE1v2_IOMMU) > 0 ? vfio.VFIO_TYPE1v2_IOMMU : vfio.VFIO_TYPE1_IOMMU);
    const [s, t] = [source, target].map((uuid, i) => own(groups[i].openDevice(uuid)));
    return { source: s, target: t };
  });
}

/** Migrates `opts.source`'s state into `opts.target`; resolves with what it saw. */
export function migrateMtty(opts: MigrateMttyOptions): MigrateMttyResult {
  const message = opts.message ?? 'vfio-uapi mtty!';
  if (new TextEncoder().encode(message).byteLength > MTTY_FIFO) throw new RangeError(`the message must fit mtty's ${MTTY_FIFO}-byte FIFO`);
  using opened = opts.path === 'cdev' ? openCdevs(opts.source, opts.target) : openGroups(opts.source, opts.target);
  const { source, target } = opened;
  const transitions: MigrateMttyResult['transitions'][number][] = [];
  const step = (device: Device, to: MigrationStateName) => {
    const { state, data } = device.setMigrationState(to);
    transitions.push({ device: device === source ? 'source' : 'target', to, state, dataFd: data !== undefined });
    return data;
  };

  const info = source.migrationInfo();
  if (!info.stopCopy) throw new Error(`${opts.source} does not migrate (flags ${info.flagNames.join('|') || 0})`);
  // Drain both FIFOs first: what each held before (an earlier run's message) must not mix with this one.
  const sourceBefore = receive(source);
  const targetBefore = receive(target);
  send(source, message);
  const stopCopyLength = source.migrationDataSize();

  // Save.
  let precopyInfo: PrecopyInfo | undefined;
  let precopyBytes: Uint8Array = new Uint8Array(0);
  let data: MigrationData | undefined;
  let stopCopyBytes: Uint8Array;
  try {
    if (info.preCopy && opts.precopy !== false) {
      data = step(source, 'PRE_COPY');
      if (!data) throw new Error('RUNNING -> PRE_COPY returned no data fd');
      precopyInfo = data.precopyInfo();
      precopyBytes = data.readAll();
      const more = step(source, 'STOP_COPY');
      if (more) throw new Error('PRE_COPY -> STOP_COPY returned a second data fd');
    } else {
      data = step(source, 'STOP_COPY');
      if (!data) throw new Error('RUNNING -> STOP_COPY returned no data fd');
    }
    stopCopyBytes = data.readAll();
  } finally {
    data?.close();
  }
  step(source, 'STOP');
  const saved = new Uint8Array([...precopyBytes, ...stopCopyBytes]);

  // Resume.
  step(target, 'STOP');
  const sink = step(target, 'RESUMING');
  if (!sink) throw new Error('STOP -> RESUMING returned no data fd');
  try {
    sink.write(saved);
    step(target, 'STOP'); // loads the state: before closing the fd
  } finally {
    sink.close();
  }
  step(target, 'RUNNING');
  step(source, 'RUNNING');

  const received = receive(target);
  return {
    ok: received === message && transitions.every((t) => t.state === t.to),
    path: opts.path, source: opts.source, target: opts.target,
    migrationFlags: info.flagNames, stopCopyLength: String(stopCopyLength), devIds: opened.devIds,
    transitions,
    precopyInfo: precopyInfo && { initialBytes: String(precopyInfo.initialBytes), dirtyBytes: String(precopyInfo.dirtyBytes) },
    savedBytes: { precopy: precopyBytes.byteLength, stopCopy: stopCopyBytes.byteLength, total: saved.byteLength },
    message, sourceBefore, targetBefore, received,
  };
}

/** Creates an mdev of `type` (`mtty-1`: a single-port card); returns its UUID. */
export function createMdev(type = 'mtty-1', parent = 'mtty'): string {
  const uuid = randomUUID();
  writeFileSync(`/sys/class/mdev_bus/${parent}/mdev_supported_types/${type}/create`, uuid);
  return uuid;
}

/** Removes an mdev. */
export function removeMdev(uuid: string): void {
  writeFileSync(`/sys/bus/mdev/devices/${uuid}/remove`, '1');
}

/** CLI: prints (and writes to `$VFIO_UAPI_RESULT`) the result as JSON; exit code 1 unless it is ok. */
function main(): void {
  const argv = process.argv.slice(2);
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const path = (arg('path') ?? (existsSync('/dev/iommu') ? 'cdev' : 'group')) as 'cdev' | 'group';
  const created: string[] = [];
  let result: MigrateMttyResult | { ok: false; error: string };
  try {
    const source = arg('source') ?? (created.push(createMdev()), created[0]);
    const target = arg('target') ?? (created.push(createMdev()), created[created.length - 1]);
    result = migrateMtty({ source, target, path, message: arg('message'), precopy: !argv.includes('--no-precopy') });
  } catch (error) {
    result = { ok: false, error: String((error as Error).stack ?? error) };
  } finally {
    for (const uuid of created) removeMdev(uuid);
  }
  const json = JSON.stringify(result, null, 2);
  if (process.env.VFIO_UAPI_RESULT) writeFileSync(process.env.VFIO_UAPI_RESULT, json);
  console.log(json);
  process.exitCode = result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
