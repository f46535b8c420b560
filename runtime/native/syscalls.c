/*
 * vfio-uapi system-call addon: the libc functions of runtime/libc.ts as a
 * Node-API module, for architectures koffi has no build for (ppc64le, s390x).
 * Built at test time with the guest's cross compiler against Node-API headers
 * (ABI-stable across Node versions); never committed as a binary. Where koffi
 * serves, the addon is built for this machine when a C compiler is there
 * (npm run build: scripts/build-addon.ts) for ioctl()'s hot
 * path (`ioctlBytes`), koffi being the fallback.
 *
 * Pointers are BigInt addresses. Every call records errno right after the
 * system call returns; errno() reads it back (the JS side is single-threaded).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <node_api.h>

static int last_errno;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "vfio-uapi syscalls: bad argument (" #call ")");               \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

#define ARGS(n)                                                                                    \
  size_t argc = n;                                                                                 \
  napi_value argv[n];                                                                              \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                     \
  if (argc < n) {                                                                                  \
    napi_throw_type_error(env, NULL, "vfio-uapi syscalls: expected " #n " arguments");            \
    return NULL;                                                                                   \
  }

/* An integer argument given as a number or a BigInt, as a 64-bit pattern (-1 -> all ones). */
static int get_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_bigint) {
    int64_t s;
    bool lossless;
    if (napi_get_value_bigint_int64(env, v, &s, &lossless) != napi_ok) return 0;
    *out = (uint64_t)s;
    return 1;
  }
  if (t == napi_number) {
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
    *out = d < 0 ? (uint64_t)(int64_t)d : (uint64_t)d;
    return 1;
  }
  if (t == napi_null || t == napi_undefined) {
    *out = 0;
    return 1;
  }
  return 0;
}

/* Memory argument: a typed array or DataView (its own bytes), an ArrayBuffer, a BigInt/number address, or null. */
static int get_ptr(napi_env env, napi_value v, void **out) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    return napi_get_typedarray_info(env, v, &type, &length, out, &ab, &offset) == napi_ok;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    size_t length, offset;
    napi_value ab;
    return napi_get_dataview_info(env, v, &length, out, &ab, &offset) == napi_ok;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    size_t length;
    return napi_get_arraybuffer_info(env, v, out, &length) == napi_ok;
  }
  uint64_t a;
  if (!get_u64(env, v, &a)) return 0;
  *out = (void *)(uintptr_t)a;
  return 1;
}

static napi_value num(napi_env env, double d) {
  napi_value r;
  napi_create_double(env, d, &r);
  return r;
}

static napi_value done(napi_env env, long long result) {
  last_errno = result < 0 ? errno : 0;
  return num(env, (double)result);
}

#define I32(i, name) int32_t name; CHECK(napi_get_value_int32(env, argv[i], &name));
#define U64(i, name) uint64_t name; if (!get_u64(env, argv[i], &name)) { napi_throw_type_error(env, NULL, "vfio-uapi syscalls: expected an integer"); return NULL; }
#define PTR(i, name) void *name; if (!get_ptr(env, argv[i], &name)) { napi_throw_type_error(env, NULL, "vfio-uapi syscalls: expected memory"); return NULL; }

static napi_value f_ioctl_pointer(napi_env env, napi_callback_info info) {
  ARGS(3) I32(0, fd) U64(1, req) PTR(2, arg)
  long r = ioctl(fd, (unsigned long)req, arg);
  return done(env, r);
}

static napi_value f_ioctl_value(napi_env env, napi_callback_info info) {
  ARGS(3) I32(0, fd) U64(1, req) U64(2, arg)
  long r = ioctl(fd, (unsigned long)req, (unsigned long)arg);
  return done(env, r);
}

/* ioctlBytes(fd, request, typedArray): the runtime's ioctl() hot path on every architecture, also where koffi
 * serves the rest (when built there): fixed types (int32 fd, uint32 request, a typed array's own bytes), only
 * the conversions these need. -1 and errno() as the others. */
static napi_value f_ioctl_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd;
  uint32_t req;
  void *data;
  size_t length, offset;
  napi_typedarray_type type;
  napi_value r;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &req) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, &offset) != napi_ok) {
    napi_throw_type_error(env, NULL, "vfio-uapi syscalls: ioctlBytes(int32 fd, uint32 request, typed array)");
    return NULL;
  }
  int res = ioctl(fd, (unsigned long)req, data);
  last_errno = res < 0 ? errno : 0;
  CHECK(napi_create_int32(env, res, &r));
  return r;
}

static napi_value f_open(napi_env env, napi_callback_info info) {
  ARGS(3)
  size_t len;
  CHECK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  char *path = malloc(len + 1);
  if (!path) return done(env, (errno = ENOMEM, -1));
  napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  int32_t flags, mode;
  if (napi_get_value_int32(env, argv[1], &flags) != napi_ok || napi_get_value_int32(env, argv[2], &mode) != napi_ok) {
    free(path);
    napi_throw_type_error(env, NULL, "vfio-uapi syscalls: open(path, flags, mode)");
    return NULL;
  }
  int r = open(path, flags, (mode_t)mode);
  int saved = errno;
  free(path);
  errno = saved;
  return done(env, r);
}

static napi_value f_close(napi_env env, napi_callback_info info) {
  ARGS(1) I32(0, fd)
  return done(env, close(fd));
}

static napi_value f_read(napi_env env, napi_callback_info info) {
  ARGS(3) I32(0, fd) PTR(1, buf) U64(2, count)
  return done(env, read(fd, buf, count));
}

static napi_value f_write(napi_env env, napi_callback_info info) {
  ARGS(3) I32(0, fd) PTR(1, buf) U64(2, count)
  return done(env, write(fd, buf, count));
}

static napi_value f_pread(napi_env env, napi_callback_info info) {
  ARGS(4) I32(0, fd) PTR(1, buf) U64(2, count) U64(3, off)
  return done(env, pread(fd, buf, count, (off_t)off));
}

static napi_value f_pwrite(napi_env env, napi_callback_info info) {
  ARGS(4) I32(0, fd) PTR(1, buf) U64(2, count) U64(3, off)
  return done(env, pwrite(fd, buf, count, (off_t)off));
}

static napi_value f_mmap(napi_env env, napi_callback_info info) {
  ARGS(6) PTR(0, addr) U64(1, length) I32(2, prot) I32(3, flags) I32(4, fd) U64(5, off)
  void *p = mmap(addr, length, prot, flags, fd, (off_t)off);
  last_errno = p == MAP_FAILED ? errno : 0;
  napi_value r;
  CHECK(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &r));
  return r;
}

static napi_value f_munmap(napi_env env, napi_callback_info info) {
  ARGS(2) PTR(0, addr) U64(1, length)
  return done(env, munmap(addr, length));
}

static napi_value f_eventfd(napi_env env, napi_callback_info info) {
  ARGS(2) U64(0, initval) I32(1, flags)
  return done(env, eventfd((unsigned int)initval, flags));
}

static napi_value f_poll(napi_env env, napi_callback_info info) {
  ARGS(3) PTR(0, fds) U64(1, nfds) I32(2, timeout)
  return done(env, poll(fds, (nfds_t)nfds, timeout));
}

static napi_value f_sysconf(napi_env env, napi_callback_info info) {
  ARGS(1) I32(0, name)
  return done(env, sysconf(name));
}

static napi_value f_pipe2(napi_env env, napi_callback_info info) {
  ARGS(2) PTR(0, fds) I32(1, flags)
  return done(env, pipe2(fds, flags));
}

static napi_value f_errno(napi_env env, napi_callback_info info) {
  (void)info;
  return num(env, last_errno);
}

/* view(address, length): an ArrayBuffer over native memory (no copy, no finalizer: the runtime owns the mapping). */
static napi_value f_view(napi_env env, napi_callback_info info) {
  ARGS(2) PTR(0, addr) U64(1, length)
  napi_value r;
  CHECK(napi_create_external_arraybuffer(env, addr, length, NULL, NULL, &r));
  return r;
}

/* pollAsync(fds, nfds, timeout, callback(err, result)): poll on a libuv worker thread. */
typedef struct {
  napi_async_work work;
  napi_ref fds_ref;
  napi_ref cb;
  void *fds;
  nfds_t nfds;
  int timeout;
  int result;
} poll_job;

static void poll_execute(napi_env env, void *data) {
  (void)env;
  poll_job *job = data;
  job->result = poll(job->fds, job->nfds, job->timeout);
}

static void poll_complete(napi_env env, napi_status status, void *data) {
  poll_job *job = data;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, job->cb, &cb);
  napi_get_global(env, &global);
  napi_get_null(env, &args[0]);
  args[1] = num(env, status == napi_ok ? job->result : -1);
  napi_call_function(env, global, cb, 2, args, NULL);
  napi_delete_reference(env, job->cb);
  napi_delete_reference(env, job->fds_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value f_poll_async(napi_env env, napi_callback_info info) {
  ARGS(4) PTR(0, fds) U64(1, nfds) I32(2, timeout)
  poll_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "vfio-uapi syscalls: out of memory");
    return NULL;
  }
  job->fds = fds;
  job->nfds = (nfds_t)nfds;
  job->timeout = timeout;
  napi_value name;
  napi_create_string_utf8(env, "vfio-uapi poll", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_reference(env, argv[0], 1, &job->fds_ref)); /* keeps the pollfd array alive */
  CHECK(napi_create_reference(env, argv[3], 1, &job->cb));
  CHECK(napi_create_async_work(env, NULL, name, poll_execute, poll_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"ioctlPointer", f_ioctl_pointer}, {"ioctlBytes", f_ioctl_bytes}, {"ioctlValue", f_ioctl_value}, {"open", f_open}, {"close", f_close},
    {"read", f_read}, {"write", f_write}, {"pread", f_pread}, {"pwrite", f_pwrite}, {"mmap", f_mmap},
    {"munmap", f_munmap}, {"eventfd", f_eventfd}, {"poll", f_poll}, {"pollAsync", f_poll_async},
    {"sysconf", f_sysconf}, {"pipe2", f_pipe2}, {"errno", f_errno}, {"view", f_view},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
