// Symmetric Gram matrix with one FMA chain per entry (see omnizip_kernels.h). The matrix is
// packed into column panels so that each vector lane carries an independent (i, j) chain; only
// the upper block triangle is computed (fma is commutative, so the matrix is exactly symmetric).
// A band of rows (omnizip_gram_rows_fma) computes every column of its rows: each entry is the
// same chain, so a band's rows are the whole matrix's rows to the bit.
// Each kernel's order of operations is part of its contract: no multiply-add is fused unless
// written as an explicit fma (the compiler may not contract a * b + c).
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#include "omnizip_kernels.h"
#include "dispatch.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PANEL 32  // columns per panel: two 16-float vectors (or four 8-float ones)
#define ROWS 8    // rows per block

size_t omnizip_gram_scratch(size_t p, size_t d) { return ((p + PANEL - 1) / PANEL) * PANEL * d; }

// scratch[panel][k][c] = rows[(panel * PANEL + c) * d + k], zero past p. Blocked over k so
// the panel rows being written stay in L1 while each source row is read sequentially.
#define PACK_K 64
static void pack(const float *rows, size_t p, size_t d, float *scratch) {
    size_t panels = (p + PANEL - 1) / PANEL;
    for (size_t q = 0; q < panels; q++) {
        float *panel = scratch + q * PANEL * d;
        for (size_t k0 = 0; k0 < d; k0 += PACK_K) {
            size_t k1 = k0 + PACK_K < d ? k0 + PACK_K : d;
            for (size_t c = 0; c < PANEL; c++) {
                size_t j = q * PANEL + c;
                if (j >= p) {
                    for (size_t k = k0; k < k1; k++) panel[k * PANEL + c] = 0;
                    continue;
                }
                const float *row = rows + j * d;
                for (size_t k = k0; k < k1; k++) panel[k * PANEL + c] = row[k];
            }
        }
    }
}

// Rows [first, last) of the output, stored from out[0]; `upper` computes only the blocks on or
// above the diagonal (the whole matrix, mirrored afterwards).
struct band {
    size_t first, last;
    int upper;
};

// The last row of the block starting at i0 for panel columns ending at `end`.
static size_t band_end(struct band b, size_t end) { return b.upper && end < b.last ? end : b.last; }

static void mirror(float *out, size_t p) {
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < i; j++) out[i * p + j] = out[j * p + i];
}

static void store_row(float *out, size_t p, size_t i, size_t j0, const float *values) {
    for (size_t c = 0; c < PANEL && j0 + c < p; c++) out[i * p + j0 + c] = values[c];
}

static void gram_scalar(const float *rows, size_t p, size_t d, float *out, const float *packed, struct band b) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        const float *panel = packed + (j0 / PANEL) * PANEL * d;
        size_t last = band_end(b, j0 + PANEL);
        for (size_t i0 = b.first; i0 < last; i0 += ROWS) {
            size_t nrows = b.last - i0 < ROWS ? b.last - i0 : ROWS;
            float acc[ROWS][PANEL] = {{0}};
            for (size_t k = 0; k < d; k++)
                for (size_t r = 0; r < nrows; r++) {
                    float a = rows[(i0 + r) * d + k];
                    for (size_t c = 0; c < PANEL; c++) acc[r][c] = fmaf(a, panel[k * PANEL + c], acc[r][c]);
                }
            for (size_t r = 0; r < nrows; r++) store_row(out, p, i0 - b.first + r, j0, acc[r]);
        }
    }
}

#if defined(__x86_64__)
// AVX2 has 16 vector registers: a block of 6 rows x 16 columns keeps its 12 accumulators, two
// panel vectors and the broadcast in registers (a wider block spills every k). Each 32-column
// panel is walked as two halves.
#define AVX2_ROWS 6
// A last half of at most 8 columns (P = 120 ends on one) as blocks of 12 rows x 8 columns: the
// 16-wide blocks would spend half their FMAs on padding.
#define AVX2_TAIL_ROWS 12
__attribute__((target("avx2,fma")))
static void gram_tail_avx2(const float *rows, size_t p, size_t d, float *out, const float *b0, size_t c0, size_t cols, struct band band) {
    size_t last = band_end(band, c0 + cols);
    for (size_t i0 = band.first; i0 < last; i0 += AVX2_TAIL_ROWS) {
        size_t nrows = band.last - i0 < AVX2_TAIL_ROWS ? band.last - i0 : AVX2_TAIL_ROWS;
        const float *arow[AVX2_TAIL_ROWS];
        for (size_t r = 0; r < AVX2_TAIL_ROWS; r++) arow[r] = rows + (i0 + (r < nrows ? r : nrows - 1)) * d;
        __m256 acc[AVX2_TAIL_ROWS];
        for (size_t r = 0; r < AVX2_TAIL_ROWS; r++) acc[r] = _mm256_setzero_ps();
        const float *b = b0;
        for (size_t k = 0; k < d; k++, b += PANEL) {
            __m256 v = _mm256_loadu_ps(b);
            for (size_t r = 0; r < AVX2_TAIL_ROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(arow[r] + k), v, acc[r]);
        }
        for (size_t r = 0; r < nrows; r++) {
            float values[8];
            _mm256_storeu_ps(values, acc[r]);
            for (size_t c = 0; c < cols; c++) out[(i0 - band.first + r) * p + c0 + c] = values[c];
        }
    }
}

__attribute__((target("avx2,fma")))
static void gram_avx2(const float *rows, size_t p, size_t d, float *out, const float *packed, struct band band) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        const float *panel = packed + (j0 / PANEL) * PANEL * d;
        for (size_t half = 0; half < PANEL && j0 + half < p; half += 16) {
            if (p - (j0 + half) <= 8) {
                gram_tail_avx2(rows, p, d, out, panel + half, j0 + half, p - (j0 + half), band);
                continue;
            }
            size_t last = band_end(band, j0 + half + 16);
            for (size_t i0 = band.first; i0 < last; i0 += AVX2_ROWS) {
                size_t nrows = band.last - i0 < AVX2_ROWS ? band.last - i0 : AVX2_ROWS;
                const float *arow[AVX2_ROWS];
                for (size_t r = 0; r < AVX2_ROWS; r++) arow[r] = rows + (i0 + (r < nrows ? r : nrows - 1)) * d;
                __m256 acc[AVX2_ROWS][2];
                for (size_t r = 0; r < AVX2_ROWS; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
                const float *b = panel + half;
                for (size_t k = 0; k < d; k++, b += PANEL) {
                    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                    for (size_t r = 0; r < AVX2_ROWS; r++) {
                        __m256 a = _mm256_broadcast_ss(arow[r] + k);
                        acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                        acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
                    }
                }
                for (size_t r = 0; r < nrows; r++) {
                    float values[16];
                    _mm256_storeu_ps(values, acc[r][0]);
                    _mm256_storeu_ps(values + 8, acc[r][1]);
                    for (size_t c = 0; c < 16 && j0 + half + c < p; c++) out[(i0 - band.first + r) * p + j0 + half + c] = values[c];
                }
            }
        }
    }
}

__attribute__((target("avx512f")))
static void gram_avx512(const float *rows, size_t p, size_t d, float *out, const float *packed, struct band b) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        const float *panel = packed + (j0 / PANEL) * PANEL * d;
        size_t last = band_end(b, j0 + PANEL);
        for (size_t i0 = b.first; i0 < last; i0 += ROWS) {
            size_t nrows = b.last - i0 < ROWS ? b.last - i0 : ROWS;
            const float *arow[ROWS];
            for (size_t r = 0; r < ROWS; r++) arow[r] = rows + (i0 + (r < nrows ? r : nrows - 1)) * d;
            __m512 acc[ROWS][2];
            for (size_t r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (size_t k = 0; k < d; k++) {
                __m512 b0 = _mm512_loadu_ps(panel + k * PANEL), b1 = _mm512_loadu_ps(panel + k * PANEL + 16);
                for (size_t r = 0; r < ROWS; r++) {
                    __m512 a = _mm512_set1_ps(arow[r][k]);
                    acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
                }
            }
            for (size_t r = 0; r < nrows; r++) {
                float values[PANEL];
                _mm512_storeu_ps(values, acc[r][0]);
                _mm512_storeu_ps(values + 16, acc[r][1]);
                store_row(out, p, i0 - b.first + r, j0, values);
            }
        }
    }
}
#endif

#if defined(__x86_64__)
// The same layout through 16 x 16 register transposes: the scalar pack's strided 4-byte
// stores cost as much as the Gram products themselves.
__attribute__((target("avx512f")))
static void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), e = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
    }
    // u[4i + j], 128-bit lane L: element 4L + j of rows 4i..4i+3.
    for (int j = 0; j < 4; j++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88), v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
        r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
        r[12 + j] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
    }
}

__attribute__((target("avx512f")))
static void pack_avx512(const float *rows, size_t p, size_t d, float *scratch) {
    size_t panels = (p + PANEL - 1) / PANEL;
    size_t whole = d - d % 16;
    for (size_t q = 0; q < panels; q++) {
        float *panel = scratch + q * PANEL * d;
        for (size_t half = 0; half < PANEL; half += 16) {
            size_t first = q * PANEL + half;
            for (size_t k0 = 0; k0 < whole; k0 += 16) {
                __m512 r[16];
                for (size_t c = 0; c < 16; c++)
                    r[c] = first + c < p ? _mm512_loadu_ps(rows + (first + c) * d + k0) : _mm512_setzero_ps();
                transpose16(r);
                for (size_t t = 0; t < 16; t++) _mm512_storeu_ps(panel + (k0 + t) * PANEL + half, r[t]);
            }
            for (size_t k = whole; k < d; k++)
                for (size_t c = 0; c < 16; c++) panel[k * PANEL + half + c] = first + c < p ? rows[(first + c) * d + k] : 0;
        }
    }
}
#endif

#if defined(__x86_64__)
// The AVX2 path's packing through 8 x 8 register transposes, for the same reason.
__attribute__((target("avx2")))
static void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
        r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
    }
}

__attribute__((target("avx2")))
static void pack_avx2(const float *rows, size_t p, size_t d, float *scratch) {
    size_t panels = (p + PANEL - 1) / PANEL;
    size_t whole = d - d % 8;
    for (size_t q = 0; q < panels; q++) {
        float *panel = scratch + q * PANEL * d;
        for (size_t part = 0; part < PANEL; part += 8) {
            size_t first = q * PANEL + part;
            for (size_t k0 = 0; k0 < whole; k0 += 8) {
                __m256 r[8];
                for (size_t c = 0; c < 8; c++)
                    r[c] = first + c < p ? _mm256_loadu_ps(rows + (first + c) * d + k0) : _mm256_setzero_ps();
                transpose8(r);
                for (size_t t = 0; t < 8; t++) _mm256_storeu_ps(panel + (k0 + t) * PANEL + part, r[t]);
            }
            for (size_t k = whole; k < d; k++)
                for (size_t c = 0; c < 8; c++) panel[k * PANEL + part + c] = first + c < p ? rows[(first + c) * d + k] : 0;
        }
    }
}
#endif

void omnizip_gram_pack(const float *rows, size_t p, size_t d, float *scratch) {
#if defined(__x86_64__)
    enum omnizip_isa isa = omnizip_isa_now();
    if (isa >= OMNIZIP_AVX512) pack_avx512(rows, p, d, scratch);
    else if (isa == OMNIZIP_AVX2) pack_avx2(rows, p, d, scratch);
    else pack(rows, p, d, scratch);
#else
    pack(rows, p, d, scratch);
#endif
}

static void gram_band(const float *rows, size_t p, size_t d, float *out, const float *packed, struct band b) {
#if defined(__x86_64__)
    enum omnizip_isa isa = omnizip_isa_now();
    if (isa >= OMNIZIP_AVX512) gram_avx512(rows, p, d, out, packed, b);
    else if (isa == OMNIZIP_AVX2) gram_avx2(rows, p, d, out, packed, b);
    else gram_scalar(rows, p, d, out, packed, b);
#else
    gram_scalar(rows, p, d, out, packed, b);
#endif
}

void omnizip_gram_fma(const float *rows, size_t p, size_t d, float *out, float *scratch) {
    omnizip_gram_pack(rows, p, d, scratch);
    gram_band(rows, p, d, out, scratch, (struct band){0, p, 1});
    mirror(out, p);
}

void omnizip_gram_rows_fma(const float *rows, size_t p, size_t d, size_t first, size_t last, float *out, const float *packed) {
    gram_band(rows, p, d, out, packed, (struct band){first, last, 0});
}
