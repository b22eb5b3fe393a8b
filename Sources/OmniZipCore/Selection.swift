/// Top-k and arg-extremum helpers with the service's tie rule: equal values go to the lower index.
enum Selection {
    /// Indices of the `k` largest values, returned ascending.
    static func largest(_ count: Int, _ k: Int, value: (Int) -> Float) -> [Int] {
        if k >= count { return Array(0..<count) }
        return ranked(count, k, value: value).sorted()
    }

    /// Indices of the `k` largest values, largest first (equal values: lower index first), as
    /// `torch.topk` orders them.
    static func ranked(_ count: Int, _ k: Int, value: (Int) -> Float) -> [Int] {
        precondition(k >= 0)
        if k == 0 { return [] }
        var order = Array(0..<count)
        order.sort { a, b in
            let va = value(a), vb = value(b)
            return va != vb ? va > vb : a < b
        }
        return Array(order.prefix(k))
    }

    /// Indices of the `k` smallest values, returned ascending.
    static func smallest(_ count: Int, _ k: Int, value: (Int) -> Float) -> [Int] {
        if k >= count { return Array(0..<count) }
        if k == 0 { return [] }
        var order = Array(0..<count)
        order.sort { a, b in
            let va = value(a), vb = value(b)
            return va != vb ? va < vb : a < b
        }
        var picked = Array(order[0..<k])
        picked.sort()
        return picked
    }

    /// First index of the maximum (strict `>` keeps the lower index on ties).
    static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<values.count where values[i] > values[best] { best = i }
        return best
    }
}
