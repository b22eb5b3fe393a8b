// Cross-modal maximum similarity on BF16 inputs with AVX-512 BF16 dot products: each product of
// two BF16 values is exact in float32, so this is the float32 product the reference computes,
// at twice the rate of SGEMM, fused with the column maximum so the m x n matrix is never stored.
// The pooled audio rows are packed once per request; the video rows are read where they lie.
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

#if defined(__x86_64__)
// An odd row's last pair, (x[d-1], 0), read without touching the bytes past the row.
static inline uint32_t last_pair(const uint8_t *row, size_t d) {
    uint16_t h;
    memcpy(&h, row + 2 * (d - 1), 2);
    return h;
}

__attribute__((target("avx512f,avx512bf16")))
void omnizip_bf16_max_similarity(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                 const float *row_divisor, float *col_max) {
    size_t pairs = (d + 1) / 2, whole = d / 2;
    size_t panels = (n + PANEL - 1) / PANEL;
    for (size_t p = 0; p < panels; p++) {
        const uint32_t *panel = packed + p * pairs * PANEL;
        size_t j0 = p * PANEL;
        size_t cols = n - j0 < PANEL ? n - j0 : PANEL;
        __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        __mmask16 m1 = (__mmask16)(cols <= 16 ? 0 : cols >= 32 ? 0xFFFF : (1u << (cols - 16)) - 1);
        __m512 best0 = _mm512_maskz_loadu_ps(m0, col_max + j0);
        __m512 best1 = _mm512_maskz_loadu_ps(m1, col_max + j0 + 16);
        for (size_t i0 = 0; i0 < m; i0 += ROWS) {
            size_t nrows = m - i0 < ROWS ? m - i0 : ROWS;
            const uint8_t *arow[ROWS];
            for (size_t r = 0; r < ROWS; r++) arow[r] = (const uint8_t *)rows[i0 + (r < nrows ? r : nrows - 1)];
            __m512 acc[ROWS][2];
            for (size_t r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (size_t k = 0; k < whole; k++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + k * PANEL);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + k * PANEL + 16);
                for (size_t r = 0; r < ROWS; r++) {
                    uint32_t w;
                    memcpy(&w, arow[r] + 4 * k, 4);
                    __m512bh x = (__m512bh)_mm512_set1_epi32((int)w);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                }
            }
            if (whole < pairs) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + whole * PANEL);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + whole * PANEL + 16);
                for (size_t r = 0; r < ROWS; r++) {
                    __m512bh x = (__m512bh)_mm512_set1_epi32((int)last_pair(arow[r], d));
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                }
            }
            // Rows in ascending order, each folded in as `v > best ? v : best` (vmaxps with v
            // first), the same sequence of comparisons as a scalar loop over i.
            for (size_t r = 0; r < nrows; r++) {
                __m512 divisor = _mm512_set1_ps(row_divisor[i0 + r]);
                best0 = _mm512_max_ps(_mm512_div_ps(acc[r][0], divisor), best0);
                best1 = _mm512_max_ps(_mm512_div_ps(acc[r][1], divisor), best1);
            }
        }
        _mm512_mask_storeu_ps(col_max + j0, m0, best0);
        _mm512_mask_storeu_ps(col_max + j0 + 16, m1, best1);
    }
}
#else
void omnizip_bf16_max_similarity(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                 const float *row_divisor, float *col_max) {
    (void)rows; (void)m; (void)d; (void)packed; (void)n; (void)row_divisor; (void)col_max;
}
#endif
