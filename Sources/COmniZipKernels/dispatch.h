// Run-time ISA selection shared by the kernels.
#ifndef OMNIZIP_DISPATCH_H
#define OMNIZIP_DISPATCH_H

enum omnizip_isa { OMNIZIP_SCALAR = 0, OMNIZIP_AVX2 = 1, OMNIZIP_AVX512 = 2 };

// Workers call this concurrently: the cache is atomic (relaxed: every thread computes the same
// value, so whichever store lands is right).
static inline enum omnizip_isa omnizip_isa_now(void) {
#if defined(__x86_64__)
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f")) isa = OMNIZIP_AVX512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = OMNIZIP_AVX2;
        else isa = OMNIZIP_SCALAR;
        __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    }
    return (enum omnizip_isa)isa;
#else
    return OMNIZIP_SCALAR;
#endif
}

#endif
