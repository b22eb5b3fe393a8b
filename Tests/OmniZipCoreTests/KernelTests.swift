import Testing
import COmniZipKernels
import OmniZipTestSupport

/// The C kernels against plain Swift statements of their contracts.
@Suite("Kernels")
struct KernelTests {
    /// numpy's pairwise sum of rounded products, written out independently.
    func numpyDot(_ x: [Float], _ y: [Float]) -> Float {
        let products = zip(x, y).map { $0 * $1 }
        func sum(_ a: ArraySlice<Float>) -> Float {
            if a.count < 8 { return a.reduce(Float(0)) { $0 + $1 } }
            if a.count <= 128 {
                var r = Array(a.prefix(8))
                var i = a.startIndex + 8
                while i + 8 <= a.endIndex {
                    for l in 0..<8 { r[l] += a[i + l] }
                    i += 8
                }
                var s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
                while i < a.endIndex { s += a[i]; i += 1 }
                return s
            }
            var half = a.count / 2
            half -= half % 8
            return sum(a.prefix(half)) + sum(a.dropFirst(half))
        }
        return sum(products[...])
    }

    @Test(
        "pairwise dot matches numpy's summation order bit for bit",
        arguments: [1, 7, 8, 9, 64, 127, 128, 129, 300, 1000, 1288, 3584, 5000, 16384, 16385])
    func pairwiseDot(n: Int) {
        let x = noise(n, seed: UInt64(n)), y = noise(n, seed: UInt64(n) + 99)
        #expect(omnizip_dot_pairwise(x, y, n).bitPattern == numpyDot(x, y).bitPattern)
    }

    @Test("Gram entries are ascending FMA chains, symmetric", arguments: [(1, 5), (7, 3), (33, 17), (40, 35), (16, 48), (120, 64)])
    func gram(p: Int, d: Int) {
        let rows = noise(p * d, seed: UInt64(p * 1000 + d))
        var out = [Float](repeating: .nan, count: p * p)
        // NaN scratch: any slot the packing forgot to write would show in the products.
        var scratch = [Float](repeating: .nan, count: omnizip_gram_scratch(p, d))
        omnizip_gram_fma(rows, p, d, &out, &scratch)
        for i in 0..<p {
            for j in 0..<p {
                var acc: Float = 0
                for k in 0..<d { acc = acc.addingProduct(rows[i * d + k], rows[j * d + k]) }
                #expect(out[i * p + j].bitPattern == acc.bitPattern, "entry (\(i), \(j)) on \(String(cString: omnizip_kernels_isa()))")
                if out[i * p + j].bitPattern != acc.bitPattern { return }
            }
        }
    }

    @Test(
        "a band of Gram rows is those rows of the whole matrix, bit for bit",
        arguments: [(37, 131, 0, 37), (37, 131, 5, 18), (120, 64, 7, 8), (120, 64, 100, 120), (70, 9, 13, 51)])
    func gramBand(p: Int, d: Int, first: Int, last: Int) {
        let rows = noise(p * d, seed: UInt64(p * 7 + d))
        var whole = [Float](repeating: .nan, count: p * p)
        var scratch = [Float](repeating: .nan, count: omnizip_gram_scratch(p, d))
        omnizip_gram_fma(rows, p, d, &whole, &scratch)
        var packed = [Float](repeating: .nan, count: omnizip_gram_scratch(p, d))
        omnizip_gram_pack(rows, p, d, &packed)
        // Guards past the band: a write outside rows [first, last) would show as a changed guard.
        var band = [Float](repeating: -7, count: (last - first + 1) * p)
        omnizip_gram_rows_fma(rows, p, d, first, last, &band, packed)
        #expect(band[((last - first) * p)...].allSatisfy { $0 == -7 })
        #expect(
            band[..<((last - first) * p)].map(\.bitPattern) == whole[(first * p)..<(last * p)].map(\.bitPattern),
            "on \(String(cString: omnizip_kernels_isa()))")
    }

    @Test("BF16 widening is exact and flags non-finite values")
    func widen() {
        let bits: [UInt16] = (0..<40).map { UInt16(truncatingIfNeeded: $0 &* 2654) } + [0x3F80, 0xBF80]
        var out = [Float](repeating: 0, count: bits.count)
        let finite = omnizip_widen_bf16(bits, bits.count, &out)
        #expect(out.map(\.bitPattern) == bits.map { UInt32($0) << 16 })
        #expect((finite != 0) == out.allSatisfy(\.isFinite))
        var one = [Float](repeating: 0, count: 1)
        #expect(omnizip_widen_bf16([UInt16(0x7F80)], 1, &one) == 0) // +inf
        #expect(omnizip_widen_bf16([UInt16(0x7FC1)], 1, &one) == 0) // NaN
    }

    @Test("F16 widening is exact for every bit pattern and flags non-finite values")
    func widenHalf() {
        let all = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: all.count)
        #expect(omnizip_widen_f16(all, all.count, &out) == 0) // the set includes inf and NaN
        for (bits, value) in zip(all, out) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN { #expect(value.isNaN) } else { #expect(value.bitPattern == expected.bitPattern, "bits \(bits)") }
        }
        let finite: [UInt16] = [0x3C00, 0x0001, 0x8400, 0x7BFF, 0, 0x8000, 0x3555, 0x1234, 0x4321]
        var few = [Float](repeating: 0, count: finite.count)
        #expect(omnizip_widen_f16(finite, finite.count, &few) == 1)
    }

    @Test("F32 copies flag NaN and infinity")
    func copyFloat() {
        var out = [Float](repeating: 0, count: 20)
        let values = noise(20, seed: 1)
        #expect(omnizip_copy_f32(values, 20, &out) == 1 && out == values)
        var bad = values
        bad[7] = -.infinity
        #expect(omnizip_copy_f32(bad, 20, &out) == 0)
        bad[7] = .nan
        #expect(omnizip_copy_f32(bad, 20, &out) == 0)
    }

    /// `rows` BF16 rows of `d` values packed into the kernel's column panels.
    func packedColumns(_ values: [UInt16], rows n: Int, dimension d: Int) -> [UInt32] {
        var packed = [UInt32](repeating: 0, count: omnizip_bf16_packed_size(n, d))
        values.withUnsafeBytes { raw in
            let pointers: [UnsafeRawPointer?] = (0..<n).map { UnsafeRawPointer(raw.baseAddress! + 2 * $0 * d) }
            omnizip_bf16_pack_columns(pointers, n, d, &packed)
        }
        return packed
    }

    @Test(
        "BF16 maximum similarity agrees with a double-precision reference",
        .enabled(if: omnizip_has_bf16_dot() != 0, "the scalar path has no BF16 kernel"))
    func bf16MaxSimilarity() {
        // Odd d exercises the last half pair; n not a multiple of 32 the masked panel edge.
        let m = 19, n = 45, d = 37
        func bf16(_ v: [Float]) -> [UInt16] { v.map { UInt16($0.bitPattern >> 16) } }
        let a = bf16(noise(m * d, seed: 5)), b = bf16(noise(n * d, seed: 6))
        let packed = packedColumns(b, rows: n, dimension: d)
        let divisors = (0..<m).map { Float(1 + $0 % 3) }
        // One column starts above every product: the kernel only ever raises the maxima.
        var maxima = [Float](repeating: -.infinity, count: n)
        maxima[3] = 1e9
        a.withUnsafeBytes { raw in
            let pointers: [UnsafeRawPointer?] = (0..<m).map { UnsafeRawPointer(raw.baseAddress! + 2 * $0 * d) }
            omnizip_bf16_max_similarity(pointers, m, d, packed, n, divisors, &maxima)
        }
        func value(_ h: UInt16) -> Double { Double(Float(bitPattern: UInt32(h) << 16)) }
        for j in 0..<n {
            var best = j == 3 ? 1e9 : -Double.infinity
            for i in 0..<m {
                var s = 0.0
                for k in 0..<d { s += value(a[i * d + k]) * value(b[j * d + k]) }
                best = max(best, s / Double(divisors[i]))
            }
            #expect(abs(Double(maxima[j]) - best) < 1e-5)
        }
    }

    @Test(
        "BF16 maximum similarity gives vdpbf16ps's bits: per pair the odd product then the even, each rounded once",
        .enabled(if: omnizip_has_bf16_dot() != 0, "the scalar path has no BF16 kernel"),
        // The last two cross the AVX2 kernel's blocks of k (128 pairs) and columns (128), with a
        // short last row block and a last half of 7 columns, and its groups of 96 rows (the
        // third group a block and 2 rows).
        arguments: [(m: 19, n: 45, d: 37), (m: 9, n: 70, d: 256), (m: 1, n: 1, d: 1), (m: 13, n: 135, d: 517), (m: 200, n: 40, d: 301)])
    func bf16Bits(m: Int, n: Int, d: Int) {
        func bf16(_ v: [Float]) -> [UInt16] { v.map { UInt16($0.bitPattern >> 16) } }
        func value(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }
        let a = bf16(noise(m * d, seed: 11)), b = bf16(noise(n * d, seed: 12))
        let divisors = (0..<m).map { Float(1 + $0 % 4) / 3 }
        var maxima = [Float](repeating: -.infinity, count: n)
        a.withUnsafeBytes { raw in
            let pointers: [UnsafeRawPointer?] = (0..<m).map { UnsafeRawPointer(raw.baseAddress! + 2 * $0 * d) }
            omnizip_bf16_max_similarity(pointers, m, d, packedColumns(b, rows: n, dimension: d), n, divisors, &maxima)
        }
        for j in 0..<n {
            var best = -Float.infinity
            for i in 0..<m {
                var acc: Float = 0
                for k in stride(from: 0, to: d, by: 2) { // an odd d's last pair is (x[d-1], 0)
                    let odd = k + 1 < d ? value(a[i * d + k + 1]) * value(b[j * d + k + 1]) : 0
                    acc += odd // exact products: one rounding per step
                    acc += value(a[i * d + k]) * value(b[j * d + k])
                }
                let v = acc / divisors[i]
                best = v > best ? v : best
            }
            #expect(maxima[j].bitPattern == best.bitPattern, "column \(j) on \(String(cString: omnizip_kernels_isa()))")
        }
    }

    @Test(
        "BF16 maximum similarity: column tiles and row blocks give the bits of one whole call",
        .enabled(if: omnizip_has_bf16_dot() != 0, "the scalar path has no BF16 kernel"))
    func bf16Tiles() {
        let m = 50, n = 300, d = 37, tile = 128
        func bf16(_ v: [Float]) -> [UInt16] { v.map { UInt16($0.bitPattern >> 16) } }
        let a = bf16(noise(m * d, seed: 8)), b = bf16(noise(n * d, seed: 9))
        let packed = packedColumns(b, rows: n, dimension: d)
        let divisors = (0..<m).map { Float(1 + $0 % 5) / 3 }
        var whole = [Float](repeating: -.infinity, count: n), tiled = whole
        a.withUnsafeBytes { raw in
            let rows: [UnsafeRawPointer?] = (0..<m).map { UnsafeRawPointer(raw.baseAddress! + 2 * $0 * d) }
            omnizip_bf16_max_similarity(rows, m, d, packed, n, divisors, &whole)
            let panelWords = omnizip_bf16_packed_size(32, d)
            for block in [0..<21, 21..<m] {
                for first in stride(from: 0, to: n, by: tile) {
                    Array(rows[block]).withUnsafeBufferPointer { blockRows in
                        divisors.withUnsafeBufferPointer { divisors in
                            tiled.withUnsafeMutableBufferPointer { tiled in
                                packed.withUnsafeBufferPointer { packed in
                                    omnizip_bf16_max_similarity(
                                        blockRows.baseAddress, block.count, d, packed.baseAddress! + (first / 32) * panelWords,
                                        min(tile, n - first), divisors.baseAddress! + block.lowerBound, tiled.baseAddress! + first)
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(tiled.map(\.bitPattern) == whole.map(\.bitPattern))
    }
}
