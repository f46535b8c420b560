/**
 * File descriptors owned by a JavaScript object.
 */

import { SyscallError, VfioError } from './errors.js';
import { checkCount, checkPath } from './validate.js';
import { O_CLOEXEC, O_RDWR, check, errno, libc } from './libc.js';

/**
 * A file descriptor closed exactly once: by {@link OwnedFd.close}, by
 * `Symbol.dispose` (`using fd = OwnedFd.open(...)`), never by the garbage
 * collector (an fd number may have been handed out and reused meanwhile).
 */
export class OwnedFd implements Disposable {
  #fd: number;
  /** What the fd is (a path, `eventfd`), for messages. */
  readonly label: string;

  /**
   * Takes ownership of an open `fd`.
   * @param label what it is, for messages (defaults to `fd <n>`)
   */
  constructor(fd: number, label?: string) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`not a file descriptor: ${fd}`);
    this.#fd = fd;
    this.label = label ?? `fd ${fd}`;
  }

  /**
   * Opens `path` (`O_CLOEXEC` is always added).
   * @param flags `open` flags, `O_RDWR` by default
   * @param mode permissions when `O_CREAT` creates the file
   * @throws SyscallError (`open`) on failure; see `isNoDevice`, `isPermissionDenied`.
   */
  static open(path: string, flags: number = O_RDWR, mode = 0): OwnedFd {
    checkPath(path);
    checkCount(flags, 'flags', 0x7fffffff);
    checkCount(mode, 'mode', 0o7777);
    const fd = check(libc().open(path, flags | O_CLOEXEC, mode), 'open', path);
    return new OwnedFd(fd, path);
  }

  /** The descriptor number. Throws {@link VfioError} once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new VfioError(`${this.label} is closed`);
    return this.#fd;
  }

  /** Whether it was closed or released. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Gives up ownership: returns the number, which this object will no longer close. */
  release(): number {
    const fd = this.fd;
    this.#fd = -1;
    return fd;
  }

  /**
   * Closes the fd; later calls do nothing. On Linux the fd is released even when
   * `close(2)` reports an error, so it is never retried; errors other than
   * `EINTR` are thrown.
   */
  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    if (libc().close(fd) < 0) {
      const err = errno();
      if (err !== 4 /* EINTR */) throw new SyscallError('close', err, this.label);
    }
  }

  /** {@link OwnedFd.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `OwnedFd(<label>, fd <n>)`, or `closed`. */
  toString(): string {
    return `OwnedFd(${this.label}, ${this.#fd < 0 ? 'closed' : `fd ${this.#fd}`})`;
  }
}
