/**
 * Guest side: VFIO migration v2 on two mtty mdevs (samples/vfio-mdev/mtty.c:
 * STOP_COPY | P2P | PRE_COPY). `VFIO_DEVICE_FEATURE_MIGRATION` (probe, GET),
 * `MIG_DEVICE_STATE` through the state machine and its refusals,
 * `MIG_DATA_SIZE`, `VFIO_MIG_GET_PRECOPY_INFO` on the data fd (and
 * `MIG_PRECOPY_INFOv2`), then a real migration: characters written to the
 * first mtty's serial port (its loopback FIFO) are saved from it, resumed
 * into the second mtty, and read back from the second byte for byte.
 */
import { OwnedFd, libc } from 'vfio-uapi/runtime';
import { hex, readRegion, writeRegion, type Context } from './context.js';
import { IommufdSession } from './iommufd.js';
import { createMdev, mdevTypes, openMdev, removeMdev, type Mdev } from './mdev.js';
import { attempt } from './verdicts.js';

const F = 'VFIO_DEVICE_FEATURE';
/** What is written to the source's UART: fits mtty's 16-byte FIFO. */
const MESSAGE = 'vfio-uapi mtty!';

/** One device's feature calls (the manifest's numbers and sizes). */
class Features {
  constructor(readonly ctx: Context, readonly fd: OwnedFd) {}

  #call(flags: number, data?: Uint8Array): { ret: number; bytes: Uint8Array } {
    const { k } = this.ctx;
    const bytes = k.encode('vfio_device_feature', { flags }, data);
    const ret = this.ctx.call(this.fd, F, bytes);
    return { ret, bytes };
  }

  /** Offset of the feature data (the flexible array) in the buffer. */
  get dataOffset(): number {
    return this.ctx.k.field('vfio_device_feature', 'data').offset;
  }

  probe(id: string, way: 'GET' | 'SET' | '' = ''): number {
    const { k } = this.ctx;
    return this.#call(k.c('VFIO_DEVICE_FEATURE_PROBE') | (way ? k.c(`VFIO_DEVICE_FEATURE_${way}`) : 0) | k.c(id)).ret;
  }

  get(id: string, record: string): Record<string, any> {
    const { k } = this.ctx;
    const { bytes } = this.#call(k.c('VFIO_DEVICE_FEATURE_GET') | k.c(id), new Uint8Array(k.sizeof(record)));
    return k.decode(record, bytes, this.dataOffset);
  }

  /** SET MIG_DEVICE_STATE; returns the data fd the kernel gave (or undefined for -1). */
  setState(state: string): OwnedFd | undefined {
    const { k } = this.ctx;
    const data = k.encode('vfio_device_feature_mig_state', { device_state: k.c(`VFIO_DEVICE_STATE_${state}`), data_fd: -1 });
    const { bytes } = this.#call(k.c('VFIO_DEVICE_FEATURE_SET') | k.c('VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE'), data);
    const fd = k.decode('vfio_device_feature_mig_state', bytes, this.dataOffset).data_fd as number;
    return fd >= 0 ? new OwnedFd(fd, `migration data fd (${state})`) : undefined;
  }

  setRawState(value: number): void {
    const { k } = this.ctx;
    this.#call(k.c('VFIO_DEVICE_FEATURE_SET') | k.c('VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE'), k.encode('vfio_device_feature_mig_state', { device_state: value, data_fd: -1 }));
  }

  state(): string {
    const { k } = this.ctx;
    const v = this.get('VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE', 'vfio_device_feature_mig_state').device_state as number;
    return Object.entries(k.manifest.constants).find(([n, x]) => n.startsWith('VFIO_DEVICE_STATE_') && !n.includes('V1') && x === v)?.[0].slice('VFIO_DEVICE_STATE_'.length) ?? `state ${v}`;
  }

  set(id: string, data?: Uint8Array): void {
    const { k } = this.ctx;
    this.#call(k.c('VFIO_DEVICE_FEATURE_SET') | k.c(id), data);
  }
}

/** Reads a migration data fd until EOF (or until `max` bytes when given). */
function readAll(fd: OwnedFd, max = Infinity): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < max) {
    const buf = new Uint8Array(Math.min(4096, max - total));
    const n = libc().read(fd.fd, buf, buf.byteLength);
    if (n < 0) throw new Error(`read of the migration data fd failed`);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

function writeAll(fd: OwnedFd, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.byteLength) {
    const n = libc().write(fd.fd, bytes.subarray(at), bytes.byteLength - at);
    if (n <= 0) throw new Error(`write to the resuming data fd failed after ${at} of ${bytes.byteLength} bytes`);
    at += n;
  }
}

/** `VFIO_MIG_GET_PRECOPY_INFO` on a data fd. */
function precopyInfo(ctx: Context, fd: OwnedFd): { initial: bigint; dirty: bigint; flags: number } {
  const { k } = ctx;
  const bytes = k.encode('vfio_precopy_info', { flags: 0 });
  ctx.call(fd, 'VFIO_MIG_GET_PRECOPY_INFO', bytes);
  const r = k.decode('vfio_precopy_info', bytes);
  return { initial: BigInt(r.initial_bytes), dirty: BigInt(r.dirty_bytes), flags: r.flags as number };
}

/** Migration v2 on two mttys; returns a one-line summary of the round trip (or throws). */
export function migrationChecks(ctx: Context): void {
  const { k, v } = ctx;
  const MIG = 'VFIO_DEVICE_FEATURE_MIGRATION';
  const STATE = 'VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE';
  const SIZE = 'VFIO_DEVICE_FEATURE_MIG_DATA_SIZE';
  const PRE = 'VFIO_MIG_GET_PRECOPY_INFO';
  const V2 = 'VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2';
  const type = mdevTypes('mtty').find((t) => t.endsWith('-1')) ?? mdevTypes('mtty')[0];
  if (!type) { v.fail(MIG, 'no mtty mdev type in /sys/class/mdev_bus/mtty (CONFIG_SAMPLE_VFIO_MDEV_MTTY)'); return; }
  const made: Mdev[] = [];
  using s = IommufdSession.open(ctx);
  try {
    const a = createMdev('mtty', type);
    made.push(a);
    const b = createMdev('mtty', type);
    made.push(b);
    using fa = openMdev(ctx, a, s);
    using fb = openMdev(ctx, b, s);
    const A = new Features(ctx, fa);
    const B = new Features(ctx, fb);
    ctx.log(`   mtty ${type}: ${a.uuid} (${a.cdev}) -> ${b.uuid} (${b.cdev})`);

    v.run(MIG, 'migration flags', () => {
      v.expect(MIG, A.probe(MIG) === 0 && A.probe(MIG, 'GET') === 0, `PROBE and PROBE|GET on mtty ${a.uuid} -> 0`);
      v.expectErrno(MIG, 'PROBE|SET (GET only)', 'EINVAL', () => A.probe(MIG, 'SET'));
      const flags = Number(A.get(MIG, 'vfio_device_feature_migration').flags);
      const want = ['STOP_COPY', 'P2P', 'PRE_COPY'].map((f) => k.c(`VFIO_MIGRATION_${f}`));
      v.expect(MIG, want.every((w) => (flags & w) !== 0), `GET -> flags ${hex(flags)} (STOP_COPY|P2P|PRE_COPY, as mtty declares)`);
    });

    v.run(STATE, 'state machine', () => {
      v.expect(STATE, A.state() === 'RUNNING', `GET on a fresh mtty -> ${A.state()} (RUNNING)`);
      v.expectErrno(STATE, 'SET ERROR (never a valid target)', 'EINVAL', () => A.setRawState(k.c('VFIO_DEVICE_STATE_ERROR')));
      v.expectErrno(STATE, 'SET state 99 (not a state)', 'EINVAL', () => A.setRawState(99));
      for (const [to, back] of [['RUNNING_P2P', 'RUNNING'], ['STOP', 'RUNNING']] as const) {
        A.setState(to);
        const got = A.state();
        A.setState(back);
        v.expect(STATE, got === to, `RUNNING -> ${to} (GET ${got}) -> ${back}`);
      }
    });

    v.run(SIZE, 'data size', () => {
      const n = BigInt(A.get(SIZE, 'vfio_device_feature_mig_data_size').stop_copy_length);
      v.expect(SIZE, n > 0n, `GET in RUNNING -> stop_copy_length ${n}`);
    });

    v.run(V2, 'precopy info v2', () => {
      v.expect(V2, A.probe(V2, 'SET') === 0, 'PROBE|SET -> 0 (mtty has PRE_COPY)');
      A.set(V2);
      v.pass(V2, 'SET -> 0: VFIO_MIG_GET_PRECOPY_INFO flags are now an output');
    });

    v.run(F, 'migration round trip', () => {
      const bar0 = 0n; // mtty's regions sit at index << 40: BAR0 at offset 0.
      for (const ch of MESSAGE) writeRegion(fa, bar0, ch.charCodeAt(0), 1);
      const pre = A.setState('PRE_COPY');
      if (!pre) throw new Error('RUNNING -> PRE_COPY gave no data fd');
      let stream: Uint8Array;
      let stopCopyFd: OwnedFd | undefined;
      try {
        const info = precopyInfo(ctx, pre);
        v.expect(PRE, info.initial > 0n && info.dirty === 0n, `PRE_COPY data fd: initial_bytes ${info.initial}, dirty_bytes ${info.dirty}, flags ${hex(info.flags)}`);
        const initial = readAll(pre, Number(info.initial));
        const after = precopyInfo(ctx, pre);
        v.expect(PRE, after.initial === 0n, `after reading ${initial.byteLength} bytes: initial_bytes ${after.initial}`);
        const short = k.encode('vfio_precopy_info', { argsz: k.offsetofend('vfio_precopy_info', 'dirty_bytes') - 1, flags: 0 });
        v.expectErrno(PRE, 'argsz one below offsetofend(dirty_bytes)', 'EINVAL', () => ctx.call(pre, PRE, short));
        A.setState('PRE_COPY_P2P');
        stopCopyFd = A.setState('STOP_COPY');
        v.expect(STATE, A.state() === 'STOP_COPY', 'PRE_COPY -> PRE_COPY_P2P -> STOP_COPY');
        v.expectErrno(PRE, 'in STOP_COPY (PRE_COPY states only)', 'EINVAL', () => precopyInfo(ctx, pre));
        const rest = readAll(stopCopyFd ?? pre);
        stream = new Uint8Array(initial.byteLength + rest.byteLength);
        stream.set(initial);
        stream.set(rest, initial.byteLength);
        A.setState('STOP');
        v.pass(STATE, `STOP_COPY: ${rest.byteLength} more bytes to EOF (${stream.byteLength} in all), then STOP`);
      } finally {
        stopCopyFd?.close();
        pre.close();
      }

      B.setState('STOP');
      const resume = B.setState('RESUMING');
      if (!resume) throw new Error('STOP -> RESUMING gave no data fd');
      try {
        v.expectErrno(PRE, 'on a RESUMING data fd', ['ENOTTY', 'EINVAL'], () => precopyInfo(ctx, resume));
        writeAll(resume, stream);
      } finally {
        resume.close();
      }
      B.setState('STOP');
      B.setState('RUNNING');
      v.pass(STATE, `second mtty: STOP -> RESUMING (${stream.byteLength} bytes written) -> STOP -> RUNNING`);
      const back = Array.from(MESSAGE, () => String.fromCharCode(readRegion(fb, bar0, 1))).join('');
      v.expect(F, back === MESSAGE, `migration round trip: "${MESSAGE}" written to mtty ${a.uuid}'s UART, saved (${stream.byteLength} bytes: PRE_COPY + STOP_COPY), resumed into mtty ${b.uuid}, read back from its UART: "${back}"`, 'the bytes differ');
      v.pass(MIG, `used for a real migration (see VFIO_DEVICE_FEATURE)`);
      A.setState('RUNNING');
    });
    const stray = attempt(() => A.setState('RUNNING'));
    if (!stray.ok) v.note(STATE, `RUNNING at the end -> ${stray.code}`);
  } finally {
    for (const m of made) removeMdev(m);
  }
}
