// The FMA ceiling of one core: a loop of independent fused multiply-adds, enough chains to hide
// the FMA latency on any current x86 core (4-5 cycles, two pipes). What `omnizip bench
// --kernel-peak` holds each kernel against.
#include "omnizip_kernels.h"
#include "dispatch.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHAINS 12

__attribute__((target("avx2,fma")))
static float peak_avx2(size_t iterations) {
    __m256 acc[CHAINS];
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-6f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (size_t i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], x, y);
    __m256 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm256_add_ps(sum, acc[c]);
    return _mm256_cvtss_f32(sum);
}

__attribute__((target("avx512f")))
static float peak_avx512(size_t iterations) {
    __m512 acc[CHAINS];
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-6f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (size_t i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], x, y);
    __m512 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm512_add_ps(sum, acc[c]);
    return _mm512_reduce_add_ps(sum);
}
#endif

double omnizip_fma_peak(int width, size_t iterations, float *sink) {
#if defined(__x86_64__)
    enum omnizip_isa isa = omnizip_isa_now();
    if (width == 256 && isa >= OMNIZIP_AVX2) {
        *sink = peak_avx2(iterations);
        return 2.0 * 8 * CHAINS * (double)iterations;
    }
    if (width == 512 && isa >= OMNIZIP_AVX512) {
        *sink = peak_avx512(iterations);
        return 2.0 * 16 * CHAINS * (double)iterations;
    }
#endif
    (void)width;
    (void)iterations;
    *sink = 0;
    return 0;
}
