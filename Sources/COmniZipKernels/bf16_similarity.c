// Cross-modal maximum similarity on BF16 inputs with AVX-512 BF16 dot products (or, without
// them, the same steps as FMAs, with the same bits): each product of two BF16 values is exact in
// float32, so this is the float32 product the reference computes, fused with the column maximum
// so the m x n matrix is never stored.
// The pooled audio rows are packed once per request; the video rows are read where they lie.
// Each kernel's order of operations is part of its contract: no multiply-add is fused unless
// written as an explicit fma (the compiler may not contract a * b + c).
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "omnizip_kernels.h"
#include "dispatch.h"

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
static void max_similarity_avx512bf16(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
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

// Without AVX-512 BF16: each vdpbf16ps step as the instruction defines it, two FMAs per lane,
// the odd element of the pair first (acc + a1*b1, then + a0*b0, each rounded once; a product of
// two BF16 values is exact in float32, so fma rounds exactly where the instruction does). So
// every path gives the native kernel's bits, barring subnormal products, which vdpbf16ps
// flushes to zero. The pairs are widened in registers: a BF16 value is the high half of its
// float.

static inline uint32_t pair_word(const uint8_t *row, size_t k, size_t whole, size_t d) {
    uint32_t w;
    if (k < whole) memcpy(&w, row + 4 * k, 4);
    else w = last_pair(row, d);
    return w;
}

static inline float high_float(uint32_t w) {
    uint32_t bits = w & 0xFFFF0000u;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float low_float(uint32_t w) {
    uint32_t bits = w << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// 16 vector registers: a block of 6 rows x 16 columns keeps 12 accumulators, two panel vectors
// and a broadcast in registers. Widening a BF16 pair takes two integer ops, which compete with
// the FMAs for the vector pipes: done for each row and pair inside the loop, they held the
// kernel to two thirds of the FMA ceiling. So the rows are widened once per block of k into two
// F32 arrays (odd and even elements) on the stack that the broadcasts read directly, and only
// the panel side is widened in registers, shared by six rows. Per pair every row takes its odd
// product first, then its even one, as vdpbf16ps does; the partial sums are parked in memory
// between blocks of k, so each dot product is still one chain in ascending k.
#define AVX2_ROWS 6
#define AVX2_KPAIRS 128  // pairs per block of k: 6 rows x 2 x 128 floats = 6 KiB, in L1
#define AVX2_COLS 128    // columns per block
__attribute__((target("avx2,fma")))
static void widen_rows_avx2(const uint8_t *const *arow, size_t k0, size_t k1, size_t whole, size_t d,
                            float (*odd)[AVX2_KPAIRS], float (*even)[AVX2_KPAIRS]) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    for (size_t r = 0; r < AVX2_ROWS; r++) {
        size_t k = k0;
        for (; k + 8 <= k1 && k + 8 <= whole; k += 8) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(arow[r] + 4 * k));
            _mm256_storeu_ps(odd[r] + (k - k0), _mm256_castsi256_ps(_mm256_and_si256(w, high)));
            _mm256_storeu_ps(even[r] + (k - k0), _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
        for (; k < k1; k++) {
            uint32_t w = pair_word(arow[r], k, whole, d);
            odd[r][k - k0] = high_float(w);
            even[r][k - k0] = low_float(w);
        }
    }
}

// The same steps for a last half of at most 8 columns, one vector wide: 16-wide blocks would
// spend half their FMAs or more on padding (375 pooled tokens end on 7 columns).
__attribute__((target("avx2,fma")))
static void tail_avx2(float (*odd)[AVX2_KPAIRS], float (*even)[AVX2_KPAIRS], const uint32_t *b, size_t kpairs, int first,
                      float (*partial)[AVX2_COLS], size_t column) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc[AVX2_ROWS];
    for (size_t r = 0; r < AVX2_ROWS; r++) acc[r] = first ? _mm256_setzero_ps() : _mm256_load_ps(partial[r] + column);
    for (size_t k = 0; k < kpairs; k++, b += PANEL) {
        __m256i w = _mm256_loadu_si256((const __m256i *)b);
        __m256 p1 = _mm256_castsi256_ps(_mm256_and_si256(w, high)), p0 = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
        for (size_t r = 0; r < AVX2_ROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(odd[r] + k), p1, acc[r]);
        for (size_t r = 0; r < AVX2_ROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(even[r] + k), p0, acc[r]);
    }
    for (size_t r = 0; r < AVX2_ROWS; r++) {
        _mm256_store_ps(partial[r] + column, acc[r]);
        _mm256_store_ps(partial[r] + column + 8, _mm256_setzero_ps());  // padding, never stored out
    }
}

__attribute__((target("avx2,fma")))
static void block_avx2(const uint8_t *const *arow, size_t k0, size_t k1, size_t whole, size_t d, size_t halves,
                       size_t cols, size_t c0, const uint32_t *packed, size_t pairs, float (*partial)[AVX2_COLS]) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    float odd[AVX2_ROWS][AVX2_KPAIRS] __attribute__((aligned(32)));
    float even[AVX2_ROWS][AVX2_KPAIRS] __attribute__((aligned(32)));
    widen_rows_avx2(arow, k0, k1, whole, d, odd, even);
    for (size_t h = 0; h < halves; h++) {
        size_t j0 = c0 + 16 * h;  // a multiple of 16: half of panel j0 / PANEL
        const uint32_t *b = packed + (j0 / PANEL) * pairs * PANEL + j0 % PANEL + k0 * PANEL;
        if (cols - 16 * h <= 8) {  // a last half of at most 8 columns: 6 x 8 blocks
            tail_avx2(odd, even, b, k1 - k0, k0 == 0, partial, 16 * h);
            continue;
        }
        __m256 acc[AVX2_ROWS][2];
        for (size_t r = 0; r < AVX2_ROWS; r++) {
            if (k0 == 0) {
                acc[r][0] = acc[r][1] = _mm256_setzero_ps();
            } else {
                acc[r][0] = _mm256_load_ps(partial[r] + 16 * h);
                acc[r][1] = _mm256_load_ps(partial[r] + 16 * h + 8);
            }
        }
        // A half reads every other cache line of its panel, a pattern the
        // prefetchers follow poorly: the first half pulls the second's lines into L1.
        size_t sibling = h % 2 == 0 && h + 1 < halves ? 16 : 0;
        for (size_t k = 0; k < k1 - k0; k++, b += PANEL) {
            if (sibling) _mm_prefetch((const char *)(b + sibling), _MM_HINT_T0);
            __m256 p0 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)b), high));
            __m256 p1 = _mm256_castsi256_ps(_mm256_and_si256(_mm256_loadu_si256((const __m256i *)(b + 8)), high));
            for (size_t r = 0; r < AVX2_ROWS; r++) {
                __m256 a = _mm256_broadcast_ss(odd[r] + k);
                acc[r][0] = _mm256_fmadd_ps(a, p0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(a, p1, acc[r][1]);
            }
            // Loaded again rather than kept: the compiler would otherwise hold the
            // raw words across the FMAs and spill them (no register is left).
            const uint32_t *again = b;
            __asm__("" : "+r"(again));
            p0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)again), 16));
            p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(again + 8)), 16));
            for (size_t r = 0; r < AVX2_ROWS; r++) {
                __m256 a = _mm256_broadcast_ss(even[r] + k);
                acc[r][0] = _mm256_fmadd_ps(a, p0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(a, p1, acc[r][1]);
            }
        }
        for (size_t r = 0; r < AVX2_ROWS; r++) {
            _mm256_store_ps(partial[r] + 16 * h, acc[r][0]);
            _mm256_store_ps(partial[r] + 16 * h + 8, acc[r][1]);
        }
    }
}

// Blocks of 6 rows share one slice of k of the panels: a group of AVX2_GROUP rows runs each
// slice (64 KiB of panels) over all its row blocks before the next, so the panels are read
// from L2 or beyond once per group, not once per block of rows (the 128 columns' panels,
// 0.9 MiB, do not stay in a 1 MiB L2 beside the streamed rows, less so with a neighbour core
// sharing L3). Each dot product is still one chain in ascending k.
#define AVX2_GROUP 96  // rows per group, a multiple of AVX2_ROWS: 96 x 128 partial sums, 48 KiB
__attribute__((target("avx2,fma")))
static void max_similarity_avx2(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                const float *row_divisor, float *col_max) {
    size_t pairs = (d + 1) / 2, whole = d / 2;
    float partial[AVX2_GROUP][AVX2_COLS] __attribute__((aligned(32)));
    float best[AVX2_COLS] __attribute__((aligned(32)));
    for (size_t c0 = 0; c0 < n; c0 += AVX2_COLS) {
        size_t cols = n - c0 < AVX2_COLS ? n - c0 : AVX2_COLS;
        size_t halves = (cols + 15) / 16;
        for (size_t c = 0; c < AVX2_COLS; c++) best[c] = c < cols ? col_max[c0 + c] : 0;
        for (size_t g0 = 0; g0 < m; g0 += AVX2_GROUP) {
            size_t g1 = m - g0 < AVX2_GROUP ? m : g0 + AVX2_GROUP;
            for (size_t k0 = 0; k0 < pairs; k0 += AVX2_KPAIRS) {
                size_t k1 = k0 + AVX2_KPAIRS < pairs ? k0 + AVX2_KPAIRS : pairs;
                for (size_t i0 = g0; i0 < g1; i0 += AVX2_ROWS) {
                    size_t nrows = g1 - i0 < AVX2_ROWS ? g1 - i0 : AVX2_ROWS;
                    const uint8_t *arow[AVX2_ROWS];
                    for (size_t r = 0; r < AVX2_ROWS; r++) arow[r] = (const uint8_t *)rows[i0 + (r < nrows ? r : nrows - 1)];
                    block_avx2(arow, k0, k1, whole, d, halves, cols, c0, packed, pairs, partial + (i0 - g0));
                }
            }
            for (size_t i = g0; i < g1; i++) {  // rows ascending, `v > best ? v : best`
                __m256 divisor = _mm256_set1_ps(row_divisor[i]);
                for (size_t h = 0; h < halves; h++) {
                    for (size_t x = 0; x < 16; x += 8) {
                        __m256 v = _mm256_div_ps(_mm256_load_ps(partial[i - g0] + 16 * h + x), divisor);
                        _mm256_store_ps(best + 16 * h + x, _mm256_max_ps(v, _mm256_load_ps(best + 16 * h + x)));
                    }
                }
            }
        }
        for (size_t c = 0; c < cols; c++) col_max[c0 + c] = best[c];
    }
}

// AVX-512F without BF16: 8 rows x 32 columns, as the native kernel blocks.
__attribute__((target("avx512f")))
static void max_similarity_avx512(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                  const float *row_divisor, float *col_max) {
    size_t pairs = (d + 1) / 2, whole = d / 2;
    size_t panels = (n + PANEL - 1) / PANEL;
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
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
            for (size_t k = 0; k < pairs; k++) {
                __m512i w0 = _mm512_loadu_si512(panel + k * PANEL), w1 = _mm512_loadu_si512(panel + k * PANEL + 16);
                __m512 odd0 = _mm512_castsi512_ps(_mm512_and_si512(w0, high)), even0 = _mm512_castsi512_ps(_mm512_slli_epi32(w0, 16));
                __m512 odd1 = _mm512_castsi512_ps(_mm512_and_si512(w1, high)), even1 = _mm512_castsi512_ps(_mm512_slli_epi32(w1, 16));
                for (size_t r = 0; r < ROWS; r++) {
                    uint32_t w = pair_word(arow[r], k, whole, d);
                    __m512 a1 = _mm512_set1_ps(high_float(w)), a0 = _mm512_set1_ps(low_float(w));
                    acc[r][0] = _mm512_fmadd_ps(a0, even0, _mm512_fmadd_ps(a1, odd0, acc[r][0]));
                    acc[r][1] = _mm512_fmadd_ps(a0, even1, _mm512_fmadd_ps(a1, odd1, acc[r][1]));
                }
            }
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
#endif

void omnizip_bf16_max_similarity(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                 const float *row_divisor, float *col_max) {
#if defined(__x86_64__)
    switch (omnizip_isa_now()) {
    case OMNIZIP_AVX512_BF16: max_similarity_avx512bf16(rows, m, d, packed, n, row_divisor, col_max); return;
    case OMNIZIP_AVX512: max_similarity_avx512(rows, m, d, packed, n, row_divisor, col_max); return;
    case OMNIZIP_AVX2: max_similarity_avx2(rows, m, d, packed, n, row_divisor, col_max); return;
    default: break;
    }
#endif
    (void)rows; (void)m; (void)d; (void)packed; (void)n; (void)row_divisor; (void)col_max;
}
