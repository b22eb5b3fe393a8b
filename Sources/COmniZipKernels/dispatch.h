// Run-time ISA selection shared by the kernels.
#ifndef OMNIZIP_DISPATCH_H
#define OMNIZIP_DISPATCH_H

// Ordered: each path's CPU can run every lower one.
enum omnizip_isa { OMNIZIP_SCALAR = 0, OMNIZIP_AVX2 = 1, OMNIZIP_AVX512 = 2, OMNIZIP_AVX512_BF16 = 3 };

// The best path this CPU runs, or the lower one OMNIZIP_ISA names (dispatch.c).
enum omnizip_isa omnizip_isa_select(void);

// Workers call this concurrently: the cache is atomic (relaxed: every thread computes the same
// value, so whichever store lands is right).
static inline enum omnizip_isa omnizip_isa_now(void) {
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = (int)omnizip_isa_select();
        __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    }
    return (enum omnizip_isa)isa;
}

#endif
