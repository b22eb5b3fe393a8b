#ifndef OMNIZIP_CUV_SHIM_H
#define OMNIZIP_CUV_SHIM_H
#include <uv.h>
#include <pthread.h>

/* Names the calling thread (for top, perf and gdb); glibc declares pthread_setname_np only
 * under _GNU_SOURCE, which Swift's Glibc module is built without. */
static inline int omnizip_name_thread(const char *name) {
    extern int pthread_setname_np(pthread_t thread, const char *name);
    return pthread_setname_np(pthread_self(), name);
}
#endif
