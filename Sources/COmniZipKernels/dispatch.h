// Run-time ISA selection shared by the kernels.
#ifndef OMNIZIP_DISPATCH_H
#define OMNIZIP_DISPATCH_H

enum omnizip_isa { OMNIZIP_SCALAR = 0, OMNIZIP_AVX2 = 1, OMNIZIP_AVX512 = 2 };

static inline enum omnizip_isa omnizip_isa_now(void) {
#if defined(__x86_64__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) cached = OMNIZIP_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) cached = OMNIZIP_AVX2;
        else cached = OMNIZIP_SCALAR;
    }
    return (enum omnizip_isa)cached;
#else
    return OMNIZIP_SCALAR;
#endif
}

#endif
