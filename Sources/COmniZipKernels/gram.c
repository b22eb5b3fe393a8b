// Symmetric Gram matrix with one FMA chain per entry (see omnizip_kernels.h). The matrix is
// transposed into column panels so that each vector lane carries an independent (i, j) chain.
#include "omnizip_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PANEL 32  // columns per panel: two 16-float vectors (or four 8-float ones)
#define ROWS 4    // rows per block

// scratch[k * padded + j] = rows[j * d + k], zero-padded to `padded` columns.
static void transpose(const float *rows, size_t p, size_t d, size_t padded, float *scratch) {
    for (size_t k = 0; k < d; k++) {
        float *dst = scratch + k * padded;
        for (size_t j = 0; j < p; j++) dst[j] = rows[j * d + k];
        for (size_t j = p; j < padded; j++) dst[j] = 0;
    }
}

static void mirror(float *out, size_t p) {
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < i; j++) out[i * p + j] = out[j * p + i];
}

static void store_block(float *out, size_t p, size_t i0, size_t rows, size_t j0, float acc[ROWS][PANEL]) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < PANEL && j0 + c < p; c++) out[(i0 + r) * p + j0 + c] = acc[r][c];
}

static void gram_scalar(const float *rows, size_t p, size_t d, float *out, const float *t, size_t padded) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        for (size_t i0 = 0; i0 < p && i0 < j0 + PANEL; i0 += ROWS) {
            size_t nrows = p - i0 < ROWS ? p - i0 : ROWS;
            float acc[ROWS][PANEL] = {{0}};
            for (size_t k = 0; k < d; k++) {
                const float *b = t + k * padded + j0;
                for (size_t r = 0; r < nrows; r++) {
                    float a = rows[(i0 + r) * d + k];
                    for (size_t c = 0; c < PANEL; c++) acc[r][c] = fmaf(a, b[c], acc[r][c]);
                }
            }
            store_block(out, p, i0, nrows, j0, acc);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static void gram_avx2(const float *rows, size_t p, size_t d, float *out, const float *t, size_t padded) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        for (size_t i0 = 0; i0 < p && i0 < j0 + PANEL; i0 += ROWS) {
            size_t nrows = p - i0 < ROWS ? p - i0 : ROWS;
            __m256 acc[ROWS][4];
            for (size_t r = 0; r < ROWS; r++)
                for (size_t v = 0; v < 4; v++) acc[r][v] = _mm256_setzero_ps();
            const float *a0 = rows + i0 * d;
            for (size_t k = 0; k < d; k++) {
                const float *b = t + k * padded + j0;
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                __m256 b2 = _mm256_loadu_ps(b + 16), b3 = _mm256_loadu_ps(b + 24);
                for (size_t r = 0; r < ROWS; r++) {
                    // Rows past p repeat the last row; their results are never stored.
                    size_t rr = r < nrows ? r : nrows - 1;
                    __m256 a = _mm256_broadcast_ss(a0 + rr * d + k);
                    acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
                    acc[r][2] = _mm256_fmadd_ps(a, b2, acc[r][2]);
                    acc[r][3] = _mm256_fmadd_ps(a, b3, acc[r][3]);
                }
            }
            float block[ROWS][PANEL];
            for (size_t r = 0; r < ROWS; r++)
                for (size_t v = 0; v < 4; v++) _mm256_storeu_ps(&block[r][v * 8], acc[r][v]);
            store_block(out, p, i0, nrows, j0, block);
        }
    }
}

__attribute__((target("avx512f")))
static void gram_avx512(const float *rows, size_t p, size_t d, float *out, const float *t, size_t padded) {
    for (size_t j0 = 0; j0 < p; j0 += PANEL) {
        for (size_t i0 = 0; i0 < p && i0 < j0 + PANEL; i0 += ROWS) {
            size_t nrows = p - i0 < ROWS ? p - i0 : ROWS;
            __m512 acc[ROWS][2];
            for (size_t r = 0; r < ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            const float *a0 = rows + i0 * d;
            for (size_t k = 0; k < d; k++) {
                const float *b = t + k * padded + j0;
                __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
                for (size_t r = 0; r < ROWS; r++) {
                    size_t rr = r < nrows ? r : nrows - 1;
                    __m512 a = _mm512_set1_ps(a0[rr * d + k]);
                    acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
                }
            }
            float block[ROWS][PANEL];
            for (size_t r = 0; r < ROWS; r++) {
                _mm512_storeu_ps(&block[r][0], acc[r][0]);
                _mm512_storeu_ps(&block[r][16], acc[r][1]);
            }
            store_block(out, p, i0, nrows, j0, block);
        }
    }
}
#endif

typedef void (*gram_fn)(const float *, size_t, size_t, float *, const float *, size_t);

static gram_fn select_gram(const char **name) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) { *name = "avx512"; return gram_avx512; }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { *name = "avx2"; return gram_avx2; }
#endif
    *name = "scalar";
    return gram_scalar;
}

void omnizip_gram_fma(const float *rows, size_t p, size_t d, float *out, float *scratch) {
    const char *name;
    gram_fn fn = select_gram(&name);
    size_t padded = (p + PANEL - 1) / PANEL * PANEL;
    transpose(rows, p, d, padded, scratch);
    fn(rows, p, d, out, scratch, padded);
    mirror(out, p);
}

const char *omnizip_gram_fma_isa(void) {
    const char *name;
    select_gram(&name);
    return name;
}
