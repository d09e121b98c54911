/// `value` as a whole number for a finding's text: rounded down, saturated at `Int`'s bounds, 0
/// for NaN. `Int(_:)` traps on a value it cannot hold, and rates computed from counters that
/// anyone may send are not to be trusted to fit.
@inlinable
func wholeNumber(_ value: Double) -> Int {
    guard !value.isNaN else { return 0 }
    if value >= 9.2e18 { return .max }
    if value <= -9.2e18 { return .min }
    return Int(value.rounded(.down))
}
