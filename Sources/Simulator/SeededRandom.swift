import MamoriCore

/// The simulator's draws on MamoriCore's ``SplitMix64`` (Steele, Lea, Flood 2014).
///
/// Every random choice of the simulator comes from one of these, seeded from ``StableHash`` of
/// the simulation seed and the identity of what is being decided (a subscriber, a device and an
/// event number …). Decisions therefore do not depend on the order in which they are made, and
/// any time window can be generated without generating the ones before it.
extension SplitMix64 {
    /// A uniform double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniform integer in 0..<n (n > 0; the modulo bias is below 2⁻⁴⁰ for the sizes used here).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// A uniform integer in `range` (non-empty).
    mutating func int64(in range: Range<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound))
    }

    /// `true` with probability `p`.
    mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// A Poisson-distributed count with mean `lambda` (Knuth's method; lambda is small here).
    mutating func poisson(_ lambda: Double) -> Int {
        guard lambda > 0 else { return 0 }
        if lambda > 60 { // normal approximation, rounded; large means only occur for scanners
            let z = (unit() + unit() + unit() + unit() + unit() + unit() - 3) * 1.4142135623730951
            return max(0, Int((lambda + z * lambda.squareRoot()).rounded()))
        }
        let limit = deterministicExp(-lambda)
        var k = 0
        var p = 1.0
        repeat {
            k += 1
            p *= unit()
        } while p > limit
        return k - 1
    }

    /// A Pareto(α = 2) value with minimum `minimum`, capped at `maximum`: a heavy tail of flow sizes.
    mutating func pareto(minimum: Double, maximum: Double) -> Double {
        let u = 1 - unit() // (0, 1]
        return min(maximum, minimum / u.squareRoot())
    }
}

/// Order-independent hashing of identities to 64-bit values (SplitMix64's finaliser, chained).
///
/// Unlike `Hasher`, the result is the same in every process, which is what makes a seed
/// reproduce the same packets.
public enum StableHash {
    @inlinable public static func finalize(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Hash of up to five words.
    @inlinable public static func of(_ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0) -> UInt64 {
        var h = finalize(a &+ 0x9E37_79B9_7F4A_7C15)
        h = finalize(h ^ (b &+ 0x632B_E59B_D9B4_E019))
        h = finalize(h ^ (c &+ 0x8CB9_2BA7_2F3D_8DD7))
        h = finalize(h ^ (d &+ 0xD6E8_FEB8_6659_FD93))
        h = finalize(h ^ (e &+ 0xA076_1D64_78BD_642F))
        return h
    }

    /// A generator seeded from the hash of the given words.
    @inlinable public static func generator(_ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0) -> SplitMix64 {
        SplitMix64(seed: of(a, b, c, d, e))
    }
}

/// e^x computed with only +, × and ÷ (IEEE-exact on every platform), so that the same seed gives
/// the same packets whatever the C library's `exp`. Accurate to ~1e-12 for x in [-700, 0].
func deterministicExp(_ x: Double) -> Double {
    if x < -700 { return 0 }
    // e^x = (e^(x/1024))^1024; Taylor series for the small argument, then square ten times.
    let y = x / 1024
    var term = 1.0
    var sum = 1.0
    for n in 1...10 {
        term *= y / Double(n)
        sum += term
    }
    for _ in 0..<10 { sum *= sum }
    return sum
}

/// Floor division for possibly negative numerators.
@inlinable func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
