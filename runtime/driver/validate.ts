/**
 * Argument checks shared by the runtime's public functions: each throws a
 * TypeError or RangeError naming the argument, before any system call is made.
 */

/** A file descriptor: a non-negative integer (`ioctl(1.5, ...)` must not become fd 1). */
export function checkFd(fd: unknown, name = 'fd'): number {
  if (typeof fd !== 'number') throw new TypeError(`${name} must be a number, got ${typeof fd}`);
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new RangeError(`${name} must be a non-negative integer file descriptor, got ${fd}`);
  return fd;
}

/** A path for open(2): a string without NUL (C would open only the prefix before it). */
export function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string') throw new TypeError(`${name} must be a string, got ${typeof path}`);
  if (path.length === 0) throw new RangeError(`${name} must not be empty`);
  if (path.includes('\0')) throw new RangeError(`${name} must not contain a NUL byte`);
  return path;
}

/** A count, size or offset: a non-negative safe integer. */
export function checkCount(n: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof n !== 'number') throw new TypeError(`${name} must be a number, got ${typeof n}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
  if (n > max) throw new RangeError(`${name} must be at most ${max}, got ${n}`);
  return n;
}

/**
 * The length of an array-like, read once (a getter may answer differently the
 * next time): a non-negative safe integer, equal to `expected` when given.
 */
export function checkLength(value: unknown, name: string, expected?: number): number {
  if (value === null || (typeof value !== 'object' && typeof value !== 'string')) throw new TypeError(`${name} must be an array-like, got ${value === null ? 'null' : typeof value}`);
  const length = (value as { length?: unknown }).length;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) throw new RangeError(`${name}.length must be a non-negative safe integer, got ${String(length)}`);
  if (expected !== undefined && length !== expected) throw new RangeError(`${name} must have ${expected} elements, got ${length}`);
  return length;
}
