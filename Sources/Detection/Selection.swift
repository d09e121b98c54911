/// The k-th smallest of `values` (0-based), found by selection, not by sorting: the detectors'
/// tables trim their least recently seen tenth when they reach their bound, and at an ISP's
/// scale they reach it again and again (`mamori serve` fed a million subscribers spent a fifth
/// of its time sorting ages for it). Quickselect (Hoare, CACM 1961, algorithm 65 "FIND") with a
/// random pivot: linear on average whatever order the ages come in, so records crafted to
/// arrive in some order cannot make it quadratic. The value is the k-th smallest whichever
/// pivots are drawn, so the trims are those a full sort gave. `values` is reordered.
///
/// Written here because the standard library has sorting but no selection, and no package on
/// this machine offers one.
func kthSmallest(_ values: inout [Int64], _ k: Int) -> Int64 {
    precondition(values.indices.contains(k), "k out of range")
    var generator = SystemRandomNumberGenerator()
    return values.withUnsafeMutableBufferPointer { a in
        var low = 0
        var high = a.count - 1
        while low < high {
            let pivot = a[Int.random(in: low...high, using: &generator)]
            // Three-way partition (Dijkstra): < pivot | == pivot | > pivot. Runs of equal ages
            // (a whole batch of records stamped in one millisecond) then cost one pass.
            var lt = low
            var i = low
            var gt = high
            while i <= gt {
                if a[i] < pivot {
                    a.swapAt(lt, i)
                    lt += 1
                    i += 1
                } else if a[i] > pivot {
                    a.swapAt(i, gt)
                    gt -= 1
                } else {
                    i += 1
                }
            }
            if k < lt {
                high = lt - 1
            } else if k > gt {
                low = gt + 1
            } else {
                return pivot
            }
        }
        return a[k]
    }
}
