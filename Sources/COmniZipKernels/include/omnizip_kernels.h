#ifndef OMNIZIP_KERNELS_H
#define OMNIZIP_KERNELS_H

// The hot loops of the OmniZip core, in C so they can use AVX2/AVX-512 chosen at run time
// (the Swift code is compiled for baseline x86-64). Every kernel computes the same bits on every
// CPU: the vector paths only run independent chains side by side, never reassociate one.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[i*p + j] = sum_k rows[i*d + k] * rows[j*d + k] for a P x D row-major matrix, each entry
/// one fused multiply-add chain in ascending k (the order a GEMM micro-kernel uses; the
/// reference's duplicate-token ties hinge on it). `scratch` holds omnizip_gram_scratch(p, d) floats.
void omnizip_gram_fma(const float *rows, size_t p, size_t d, float *out, float *scratch);
size_t omnizip_gram_scratch(size_t p, size_t d);

/// The same matrix a band at a time, so that it need not be held whole: omnizip_gram_pack fills
/// `packed` (omnizip_gram_scratch(p, d) floats) once, then omnizip_gram_rows_fma writes rows
/// [first, last) of the P x P matrix to out[(i - first)*p + j], the same bits as omnizip_gram_fma.
void omnizip_gram_pack(const float *rows, size_t p, size_t d, float *packed);
void omnizip_gram_rows_fma(const float *rows, size_t p, size_t d, size_t first, size_t last, float *out, const float *packed);

/// sum_j x[j] * y[j] with each product rounded, summed pairwise exactly as numpy's add.reduce
/// (blocks of <= 128 in 8 lanes, combined ((0+1)+(2+3))+((4+5)+(6+7)), longer spans halved).
float omnizip_dot_pairwise(const float *x, const float *y, size_t n);

/// dst[j] = src[j] / divisor (true division, as the reference's x / norm).
void omnizip_divide(const float *src, float divisor, float *dst, size_t n);

/// Widens n BF16 values (little-endian, any alignment) exactly to float.
/// Returns 1 when all are finite, 0 when any is NaN or infinite.
int omnizip_widen_bf16(const void *src, size_t n, float *dst);

/// Widens n F16 values (little-endian, any alignment) exactly to float; 0 when any is NaN/inf.
int omnizip_widen_f16(const void *src, size_t n, float *dst);

/// Copies n float32 values (any alignment); 0 when any is NaN/inf.
int omnizip_copy_f32(const void *src, size_t n, float *dst);

/// Whether the kernel path has omnizip_bf16_max_similarity: AVX-512 BF16 natively, AVX-512F and
/// AVX2 with the same bits (two FMAs per BF16 pair, as vdpbf16ps defines it).
int omnizip_has_bf16_dot(void);

/// Packs n rows of d BF16 values into column panels for omnizip_bf16_max_similarity: panels of
/// 32 columns, each holding for every pair of k the 32 columns' (x[2k], x[2k+1]) pairs.
/// `rows[c]` points at row c (any alignment). `packed` holds omnizip_bf16_packed_size(n, d) words.
void omnizip_bf16_pack_columns(const void *const *rows, size_t n, size_t d, uint32_t *packed);
size_t omnizip_bf16_packed_size(size_t n, size_t d);

/// For each of the n packed columns b_j and the m rows a_i (`rows[i]`, d BF16 values, any
/// alignment): col_max[j] = max(col_max[j], max_i dot(a_i, b_j) / row_divisor[i]), i ascending,
/// with the dot products in float32 from exact BF16 products. Needs omnizip_has_bf16_dot().
void omnizip_bf16_max_similarity(const void *const *rows, size_t m, size_t d, const uint32_t *packed, size_t n,
                                 const float *row_divisor, float *col_max);

/// Runs `iterations` rounds of independent FMAs `width` bits wide (256 or 512) on the calling
/// thread and returns the floating-point operations done (a multiply-add counts two), or 0 when
/// the kernel path in use has no such FMAs. `sink` receives a result so the loop is kept.
double omnizip_fma_peak(int width, size_t iterations, float *sink);

/// Makes OpenBLAS run every call on the calling thread and stops its own thread pool.
void omnizip_blas_single_threaded(void);

/// The kernel path in use: "scalar", "avx2", "avx512" or "avx512bf16" (AVX-512 with the BF16
/// dot product). The best this CPU runs, unless the environment variable OMNIZIP_ISA names a
/// lower one (tests and benchmarks of the other paths); read once, at the first kernel call.
const char *omnizip_kernels_isa(void);
/// The best path this CPU runs, whatever OMNIZIP_ISA says.
const char *omnizip_kernels_isa_best(void);
/// 0 when OMNIZIP_ISA is unset or names a path this CPU runs; 1 when it names no path; 2 when
/// it asks for more than this CPU has (the kernels then run the best path: callers refuse it).
int omnizip_kernels_isa_request_status(void);

#ifdef __cplusplus
}
#endif

#endif
