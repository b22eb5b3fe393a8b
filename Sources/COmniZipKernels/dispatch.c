#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "omnizip_kernels.h"

static const char *const names[] = {"scalar", "avx2", "avx512", "avx512bf16"};

static enum omnizip_isa best(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        return __builtin_cpu_supports("avx512bf16") ? OMNIZIP_AVX512_BF16 : OMNIZIP_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return OMNIZIP_AVX2;
#endif
    return OMNIZIP_SCALAR;
}

// -1 when OMNIZIP_ISA is unset or empty, -2 when it names no path.
static int requested(void) {
    const char *name = getenv("OMNIZIP_ISA");
    if (name == NULL || name[0] == 0) return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -2;
}

enum omnizip_isa omnizip_isa_select(void) {
    enum omnizip_isa top = best();
    int asked = requested();
    return asked >= 0 && asked <= (int)top ? (enum omnizip_isa)asked : top;
}

const char *omnizip_kernels_isa(void) { return names[omnizip_isa_now()]; }

const char *omnizip_kernels_isa_best(void) { return names[best()]; }

int omnizip_kernels_isa_request_status(void) {
    int asked = requested();
    if (asked == -2) return 1;
    return asked > (int)best() ? 2 : 0;
}

int omnizip_has_bf16_dot(void) { return omnizip_isa_now() >= OMNIZIP_AVX2; }
