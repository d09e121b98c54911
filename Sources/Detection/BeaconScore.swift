/// How machine-like one host's contacts with one endpoint are.
///
/// Follows the idea of RITA's beacon analysis (activecm/rita, "beacon" scoring): connection
/// intervals of a bot are regular, so their distribution is narrow (small median absolute
/// deviation relative to the median) and symmetric (Bowley skewness near 0); its payloads are
/// small and near-constant. Each sub-score is in [0, 1]; 1 is perfectly regular.
public struct BeaconScore: Sendable, Hashable {
    /// Contacts scored.
    public var contacts: Int
    /// Median interval between contacts, ms.
    public var medianInterval: Double
    /// 1 − |Bowley skewness| of the intervals (damped for very narrow distributions).
    public var intervalSymmetry: Double
    /// 1 − MADM / median of the intervals.
    public var intervalDispersion: Double
    /// 1 − coefficient of variation of the upstream bytes per contact.
    public var sizeUniformity: Double
    /// Mean upstream bytes per contact.
    public var meanBytes: Double

    /// Timing score: the mean of symmetry and dispersion.
    public var timing: Double { (intervalSymmetry + intervalDispersion) / 2 }
    /// Combined score: timing weighs 2/3, payload 1/3.
    public var combined: Double { timing * 2 / 3 + sizeUniformity / 3 }

    /// Scores contact times (ascending, ms) and the bytes sent at each contact.
    /// Nil with fewer than 4 intervals.
    public init?(times: [Int64], bytes: ByteStatistics) {
        guard times.count >= 5 else { return nil }
        var intervals: [Double] = []
        intervals.reserveCapacity(times.count - 1)
        for i in 1..<times.count { intervals.append(Double(times[i] - times[i - 1])) }
        intervals.sort()
        guard quantile(intervals, 0.5) > 0 else { return nil }
        Self.foldMissedCheckIns(&intervals)
        let q1 = quantile(intervals, 0.25)
        let q2 = quantile(intervals, 0.5)
        let q3 = quantile(intervals, 0.75)
        guard q2 > 0 else { return nil }
        let skew = q3 - q1 > 0 ? (q1 + q3 - 2 * q2) / (q3 - q1) : 0
        var deviations = intervals.map { abs($0 - q2) }
        deviations.sort()
        let madm = quantile(deviations, 0.5)
        contacts = times.count
        medianInterval = q2
        // Skewness of a very narrow distribution is timer noise (milliseconds), not irregularity:
        // it counts fully only once the interquartile range reaches 20 % of the median.
        intervalSymmetry = max(0, 1 - abs(skew) * min(1, (q3 - q1) / (0.2 * q2)))
        intervalDispersion = max(0, 1 - madm / q2)
        meanBytes = bytes.mean
        sizeUniformity = bytes.count > 1 && bytes.mean > 0 ? max(0, 1 - bytes.standardDeviation / bytes.mean) : 0
    }
}

extension BeaconScore {
    /// A beacon that misses check-ins (the host asleep, a contact lost to sampling, a cycle the
    /// bot skipped) shows intervals of two or three periods: an interval within 5 % of a whole
    /// multiple k ≥ 2 of the median is counted as k − 1 missed check-ins and scored as one
    /// period. A real HTTP beacon in the corpus checks in on a 6-hour grid with gaps of 12 and
    /// 18 hours. Only when at least half the intervals are within 5 % of the median. Sorted on return.
    static func foldMissedCheckIns(_ intervals: inout [Double]) {
        let m = quantile(intervals, 0.5)
        guard m > 0 else { return }
        // Only a rigid timer is corrected: at least half the intervals already within 5 % of the
        // median. Irregular traffic is left as it is (folding it would make it look periodic).
        guard intervals.count(where: { abs($0 - m) <= 0.05 * m }) * 2 >= intervals.count else { return }
        var folded = false
        for i in intervals.indices where intervals[i] > 1.5 * m {
            let k = (intervals[i] / m).rounded()
            if k >= 2, abs(intervals[i] / k - m) <= 0.05 * m {
                intervals[i] /= k
                folded = true
            }
        }
        if folded { intervals.sort() }
    }
}

/// Running count, mean and variance (Welford) of bytes per contact.
public struct ByteStatistics: Sendable, Hashable {
    public private(set) var count = 0
    private var moments = Moments()

    public init() {}

    /// Statistics kept apart as ``Moments`` and a count.
    init(count: Int, _ moments: Moments) {
        self.count = count
        self.moments = moments
    }

    public var mean: Double { moments.mean }

    public mutating func add(_ x: Double) {
        count += 1
        moments.add(x, count: count)
    }

    public var standardDeviation: Double { count > 1 ? (moments.m2 / Double(count - 1)).squareRoot() : 0 }
}

/// Welford's running mean and sum of squared deviations, without the count: ``ByteStatistics``
/// keeps them with a 64-bit count, a pair (``PairState``) with 32-bit counts beside its other
/// counters (three `ByteStatistics` were a third of a pair).
struct Moments: Sendable, Hashable {
    var mean = 0.0
    var m2 = 0.0

    /// Adds `x` as the `count`-th value (its count after this one).
    @inline(__always)
    mutating func add(_ x: Double, count: some BinaryInteger) {
        let d = x - mean
        mean += d / Double(count)
        m2 += d * (x - mean)
    }
}

/// Linear-interpolated quantile of sorted values.
func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let pos = q * Double(sorted.count - 1)
    let i = Int(pos)
    let f = pos - Double(i)
    return i + 1 < sorted.count ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i]
}
