// Cross-modal maximum similarity on BF16 inputs with AVX-512 BF16 dot products: each product of
// two BF16 values is exact in float32, so this is the float32 product the reference computes,
// at twice the rate of SGEMM, fused with the row maximum so the m x n matrix is never stored.
// Each kernel's order of operations is part of its contract: no multiply-add is fused unless
// written as an explicit fma (the compiler may not contract a * b + c).
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "omnizip_kernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PANEL 32
#define ROWS 8

size_t omnizip_bf16_packed_size(size_t n, size_t d) {
    size_t panels = (n + PANEL - 1) / PANEL;
    return panels * ((d + 1) / 2) * PANEL;
}

void omnizip_bf16_pack_columns(const void *const *rows, size_t n, size_t d, uint32_t *packed) {
    size_t pairs = (d + 1) / 2, whole = d / 2;
    size_t panels = (n + PANEL - 1) / PANEL;
    // Blocked over k so the panel rows being written stay in L1 while each source row is read
    // sequentially.
    const size_t block = 64;
    for (size_t p = 0; p < panels; p++) {
        uint32_t *panel = packed + p * pairs * PANEL;
        for (size_t k0 = 0; k0 < pairs; k0 += block) {
            size_t k1 = k0 + block < pairs ? k0 + block : pairs;
            for (size_t c = 0; c < PANEL; c++) {
                size_t j = p * PANEL + c;
                if (j >= n) {
                    for (size_t k = k0; k < k1; k++) panel[k * PANEL + c] = 0;
                    continue;
                }
                const uint8_t *row = (const uint8_t *)rows[j];
                size_t kw = k1 < whole ? k1 : whole;
                for (size_t k = k0; k < kw; k++) {
                    uint32_t w;
                    memcpy(&w, row + 4 * k, 4);  // little-endian: x[2k] in the low half
                    panel[k * PANEL + c] = w;
                }
                if (kw < k1) {  // odd d: the last pair is (x[d-1], 0)
                    uint16_t h;
                    memcpy(&h, row + 2 * (d - 1), 2);
                    panel[(pairs - 1) * PANEL + c] = h;
                }
            }
        }
    }
}

int omnizip_has_bf16_dot(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bf16")))
void omnizip_bf16_max_similarity(const uint16_t *a, size_t m, size_t d_even, const uint32_t *packed, size_t n,
                                 const float *col_divisor, float *row_max) {
    size_t pairs = d_even / 2;
    size_t panels = (n + PANEL - 1) / PANEL;
    for (size_t p = 0; p < panels; p++) {
        const uint32_t *panel = packed + p * pairs * PANEL;
        size_t j0 = p * PANEL;
        size_t cols = n - j0 < PANEL ? n - j0 : PANEL;
        for (size_t i0 = 0; i0 < m; i0 += ROWS) {
            size_t nrows = m - i0 < ROWS ? m - i0 : ROWS;
            const uint32_t *arow[ROWS];
            for (size_t r = 0; r < ROWS; r++) arow[r] = (const uint32_t *)(a + (i0 + (r < nrows ? r : nrows - 1)) * d_even);
            __m512 acc[ROWS][2];
            for (size_t r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (size_t k = 0; k < pairs; k++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + k * PANEL);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + k * PANEL + 16);
                for (size_t r = 0; r < ROWS; r++) {
                    __m512bh x = (__m512bh)_mm512_set1_epi32((int)arow[r][k]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                }
            }
            for (size_t r = 0; r < nrows; r++) {
                float values[PANEL];
                _mm512_storeu_ps(values, acc[r][0]);
                _mm512_storeu_ps(values + 16, acc[r][1]);
                float best = row_max[i0 + r];
                for (size_t c = 0; c < cols; c++) {
                    float v = values[c] / col_divisor[j0 + c];
                    if (v > best) best = v;
                }
                row_max[i0 + r] = best;
            }
        }
    }
}
#else
void omnizip_bf16_max_similarity(const uint16_t *a, size_t m, size_t d_even, const uint32_t *packed, size_t n,
                                 const float *col_divisor, float *row_max) {
    (void)a; (void)m; (void)d_even; (void)packed; (void)n; (void)col_divisor; (void)row_max;
}
#endif
