/*
 * vfio-uapi ioctl addon on V8's own API: ioctl()'s hot path (runtime/libc.ts ioctlOrErrno), about 90 ns a call
 * cheaper than the same function through Node-API (runtime/native/syscalls.c), whose wrapper (environment,
 * exception scope) costs that much on Node 20 (npm run bench:ioctl). Not ABI-stable: built for the running
 * Node's module version by scripts/build-addon.ts (npm run build, when a C++ compiler is there), into a file named by that version; another Node finds none and takes the Node-API addon or koffi.
 * Never committed as a binary.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <node.h>

namespace {

int last_errno;

/* ioctlBytes(fd, request, view): int32 fd, uint32 request, an ArrayBufferView's own bytes; -1 and errno() on failure. */
void IoctlBytes(const v8::FunctionCallbackInfo<v8::Value> &args) {
  if (args.Length() < 3 || !args[0]->IsInt32() || !args[1]->IsUint32() || !args[2]->IsArrayBufferView()) {
    v8::Isolate *isolate = args.GetIsolate();
    isolate->ThrowException(v8::Exception::TypeError(
        v8::String::NewFromUtf8Literal(isolate, "vfio-uapi ioctl addon: ioctlBytes(int32 fd, uint32 request, typed array)")));
    return;
  }
  int32_t fd = args[0].As<v8::Int32>()->Value();
  uint32_t request = args[1].As<v8::Uint32>()->Value();
  v8::Local<v8::ArrayBufferView> view = args[2].As<v8::ArrayBufferView>();
  /* Buffer() moves a small on-heap typed array's bytes off the heap once; from then on they stay put. */
  char *data = static_cast<char *>(view->Buffer()->Data());
  int result = ioctl(fd, static_cast<unsigned long>(request), data ? data + view->ByteOffset() : nullptr);
  last_errno = result < 0 ? errno : 0;
  args.GetReturnValue().Set(result);
}

void Errno(const v8::FunctionCallbackInfo<v8::Value> &args) { args.GetReturnValue().Set(last_errno); }

void Init(v8::Local<v8::Object> exports) {
  NODE_SET_METHOD(exports, "ioctlBytes", IoctlBytes);
  NODE_SET_METHOD(exports, "errno", Errno);
}

}  // namespace

NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
