/**
 * Linux eventfds: the objects VFIO signals interrupts through
 * (`VFIO_DEVICE_SET_IRQS` with `VFIO_IRQ_SET_DATA_EVENTFD`) and reads resamples from.
 */

import { SyscallError } from './errors.js';
import { OwnedFd } from './fd.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, POLLERR, POLLIN, POLLNVAL, check, errno, libc } from './libc.js';

/** Options of {@link EventFd.create}. */
export interface EventFdOptions {
  /** Initial counter value (default 0). */
  readonly initial?: number;
  /** `EFD_NONBLOCK`: {@link EventFd.read} throws `EAGAIN` instead of blocking when the counter is 0. */
  readonly nonBlocking?: boolean;
  /** `EFD_SEMAPHORE`: each read returns 1 and decrements the counter by 1. */
  readonly semaphore?: boolean;
}

const EAGAIN = 11;
const MAX_COUNTER = 0xffff_ffff_ffff_fffen;

/**
 * An eventfd (always `EFD_CLOEXEC`). Its fd can be handed to VFIO; the counter
 * is read and written here as a bigint.
 *
 * {@link EventFd.read} on a blocking eventfd and {@link EventFd.wait} block the
 * whole JavaScript thread; {@link EventFd.waitAsync} waits on a worker thread.
 */
export class EventFd extends OwnedFd {
  /** Whether it was created with `EFD_NONBLOCK`. */
  readonly nonBlocking: boolean;

  private constructor(fd: number, nonBlocking: boolean) {
    super(fd, 'eventfd');
    this.nonBlocking = nonBlocking;
  }

  /** Creates an eventfd. @throws SyscallError (`eventfd`) on failure. */
  static create(options: EventFdOptions = {}): EventFd {
    const initial = options.initial ?? 0;
    if (!Number.isInteger(initial) || initial < 0 || initial > 0xffff_ffff) {
      throw new RangeError(`eventfd initial value ${initial} is not a 32-bit unsigned integer`);
    }
    const flags = EFD_CLOEXEC | (options.nonBlocking ? EFD_NONBLOCK : 0) | (options.semaphore ? EFD_SEMAPHORE : 0);
    return new EventFd(check(libc().eventfd(initial, flags), 'eventfd'), options.nonBlocking ?? false);
  }

  /**
   * Reads the counter and resets it (or takes 1, in semaphore mode). Blocks while
   * it is 0, unless non-blocking.
   * @throws SyscallError `EAGAIN` when non-blocking and the counter is 0.
   */
  read(): bigint {
    const counter = new BigUint64Array(1);
    const n = libc().read(this.fd, new Uint8Array(counter.buffer), 8);
    if (n < 0) throw new SyscallError('read', errno(), this.label);
    return counter[0];
  }

  /** Like {@link EventFd.read} but returns `undefined` instead of blocking or failing when the counter is 0. */
  tryRead(): bigint | undefined {
    if (!this.nonBlocking && !this.wait(0)) return undefined;
    try {
      return this.read();
    } catch (error) {
      if (error instanceof SyscallError && error.errno === EAGAIN) return undefined;
      throw error;
    }
  }

  /** Adds `value` (default 1) to the counter. @throws SyscallError (`EAGAIN` if it would overflow and non-blocking). */
  write(value: bigint | number = 1n): void {
    const n = BigInt(value);
    if (n < 0n || n > MAX_COUNTER) throw new RangeError(`eventfd value ${n} is outside [0, 2^64 - 2]`);
    check(libc().write(this.fd, new Uint8Array(new BigUint64Array([n]).buffer), 8), 'write', this.label);
  }

  /**
   * Waits until the counter is non-zero, at most `timeoutMs` milliseconds
   * (-1: forever), blocking the thread in `poll(2)`.
   * @returns whether it is readable.
   */
  wait(timeoutMs: number): boolean {
    const fds = this.#pollFd();
    const n = libc().poll(fds, 1, timeoutMs);
    if (n < 0) throw new SyscallError('poll', errno(), this.label);
    return n > 0 && this.#readable(fds);
  }

  /**
   * Like {@link EventFd.wait} without blocking the JavaScript thread: `poll(2)`
   * runs on a koffi worker thread. The timeout must be finite (closing the fd
   * does not wake a pending `poll`).
   */
  async waitAsync(timeoutMs: number): Promise<boolean> {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
      throw new RangeError(`waitAsync needs a finite timeout in ms, not ${timeoutMs}`);
    }
    const fds = this.#pollFd();
    const n = await libc().pollAsync(fds, 1, timeoutMs);
    if (n < 0) throw new SyscallError('poll', 0, this.label, `poll ${this.label} failed (errno lost on the worker thread)`);
    return n > 0 && this.#readable(fds);
  }

  /** `struct pollfd { int fd; short events; short revents; }` asking for POLLIN. */
  #pollFd(): Uint8Array {
    const fds = new Uint8Array(8);
    new Int32Array(fds.buffer)[0] = this.fd;
    new Int16Array(fds.buffer)[2] = POLLIN;
    return fds;
  }

  #readable(fds: Uint8Array): boolean {
    const revents = new Int16Array(fds.buffer)[3];
    if (revents & (POLLERR | POLLNVAL)) throw new SyscallError('poll', 9 /* EBADF */, this.label);
    return (revents & POLLIN) !== 0;
  }
}
