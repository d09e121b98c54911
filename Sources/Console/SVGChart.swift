import Foundation

/// Charts drawn on the server as SVG, so the console needs no script library and no CDN, and
/// a chart is one element an analyst can save or print.
///
/// Every text that reaches the SVG is escaped; every number is finite (NaN and infinities are
/// drawn as 0); each chart has a `role="img"` and an `aria-label` that says what it shows.
/// Times are milliseconds since the Unix epoch, drawn in UTC.
public enum SVGChart {
    /// One line of a time-series chart.
    public struct Series: Sendable {
        public var name: String
        public var points: [(time: Int64, value: Double)]

        public init(name: String, points: [(time: Int64, value: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// The colours of the series, in order (readable on white, distinguishable in grey).
    static let palette = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7f8f", "#57606a"]

    static let width = 640.0
    static let height = 220.0
    static let left = 56.0
    static let right = 12.0
    static let top = 14.0
    static let bottom = 40.0

    /// Lines over time, one per series, with a time axis and a value axis from 0.
    /// More than eight series: the eight with the largest sums are drawn and the legend says how many were left out.
    public static func lines(_ series: [Series], from: Int64, to: Int64, unit: String, label: String, empty: String) -> String {
        let shown = series.sorted { total($0) > total($1) }.prefix(palette.count)
        let maxValue = niceCeiling(shown.flatMap { $0.points.map { finite($0.value) } }.max() ?? 0)
        var svg = open(label: label)
        svg += axes(from: from, to: to, maxValue: maxValue, unit: unit)
        if shown.allSatisfy({ $0.points.isEmpty }) {
            svg += text(x: width / 2, y: height / 2, empty, anchor: "middle", cssClass: "empty")
        }
        for (i, s) in shown.enumerated() where !s.points.isEmpty {
            let colour = palette[i]
            let coordinates = s.points.map { p in
                "\(fmt(x(p.time, from: from, to: to))),\(fmt(y(finite(p.value), maxValue: maxValue)))"
            }
            if coordinates.count == 1 {
                let p = s.points[0]
                svg +=
                    "<circle cx=\"\(fmt(x(p.time, from: from, to: to)))\" cy=\"\(fmt(y(finite(p.value), maxValue: maxValue)))\" r=\"3\" fill=\"\(colour)\"/>"
            } else {
                svg +=
                    "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" points=\"\(coordinates.joined(separator: " "))\"/>"
            }
        }
        svg += legend(shown.enumerated().map { (palette[$0.offset], $0.element.name) }, more: series.count - shown.count)
        return svg + "</svg>"
    }

    /// Bars over equal time buckets (findings or cases per hour), each bar split by category.
    public static func stackedBars(
        buckets: [(start: Int64, counts: [Int])], categories: [String], bucketLength: Int64, label: String, empty: String
    ) -> String {
        let from = buckets.first?.start ?? 0
        let to = (buckets.last?.start ?? 0) + bucketLength
        let maxValue = niceCeiling(Double(buckets.map { $0.counts.reduce(0, +) }.max() ?? 0))
        var svg = open(label: label)
        svg += axes(from: from, to: max(to, from + 1), maxValue: maxValue, unit: "")
        if buckets.allSatisfy({ $0.counts.reduce(0, +) == 0 }) {
            svg += text(x: width / 2, y: height / 2, empty, anchor: "middle", cssClass: "empty")
        }
        let barWidth = max(1, (width - left - right) / Double(max(buckets.count, 1)) - 2)
        for b in buckets {
            var base = 0
            let bx = x(b.start, from: from, to: max(to, from + 1)) + 1
            for (i, c) in b.counts.enumerated() where c > 0 {
                let y0 = y(Double(base), maxValue: maxValue)
                let y1 = y(Double(base + c), maxValue: maxValue)
                svg +=
                    "<rect x=\"\(fmt(bx))\" y=\"\(fmt(y1))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(max(0.5, y0 - y1)))\" fill=\"\(palette[i % palette.count])\"><title>\(escape(categories[safe: i] ?? "")): \(c)</title></rect>"
                base += c
            }
        }
        svg += legend(categories.enumerated().map { (palette[$0.offset % palette.count], $0.element) }, more: 0)
        return svg + "</svg>"
    }

    /// A beacon's contacts: one row per host of the cohort, a tick at every contact, so a
    /// regular heartbeat shows as evenly spaced ticks and a human's browsing does not.
    public static func contacts(_ rows: [(name: String, times: [Int64])], from: Int64, to: Int64, label: String, empty: String) -> String {
        let shown = Array(rows.prefix(12))
        let rowHeight = 18.0
        let h = top + bottom + rowHeight * Double(max(shown.count, 1))
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(h))\" role=\"img\" aria-label=\"\(escape(label))\">"
        let plotLeft = 130.0
        let span = Double(max(to - from, 1))
        func px(_ t: Int64) -> Double { plotLeft + (width - plotLeft - right) * Double(t - from) / span }
        svg += timeTicks(from: from, to: to, x0: plotLeft, y: h - bottom, x: px)
        if shown.isEmpty {
            svg += text(x: width / 2, y: top + rowHeight, empty, anchor: "middle", cssClass: "empty")
        }
        for (i, row) in shown.enumerated() {
            let cy = top + rowHeight * Double(i) + rowHeight / 2
            svg += text(x: plotLeft - 6, y: cy + 4, String(row.name.prefix(18)), anchor: "end", cssClass: "row")
            svg += "<line x1=\"\(fmt(plotLeft))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(cy))\" y2=\"\(fmt(cy))\" class=\"grid\"/>"
            for t in row.times where t >= from && t <= to {
                svg +=
                    "<line x1=\"\(fmt(px(t)))\" x2=\"\(fmt(px(t)))\" y1=\"\(fmt(cy - 6))\" y2=\"\(fmt(cy + 6))\" stroke=\"\(palette[0])\" stroke-width=\"1.5\"/>"
            }
        }
        if rows.count > shown.count {
            svg += text(x: plotLeft, y: h - 6, "+\(rows.count - shown.count)", anchor: "start", cssClass: "legend")
        }
        return svg + "</svg>"
    }

    /// How often each interval between contacts occurs, in seconds (a beacon has one tall bar).
    public static func histogram(_ values: [Double], bins: Int = 24, unit: String, label: String, empty: String) -> String {
        let clean = values.filter { $0.isFinite && $0 >= 0 }
        let hi = niceCeiling(clean.max() ?? 0)
        var counts = [Int](repeating: 0, count: max(1, bins))
        for v in clean {
            let i = hi > 0 ? min(counts.count - 1, Int(v / hi * Double(counts.count))) : 0
            counts[i] += 1
        }
        let maxCount = niceCeiling(Double(counts.max() ?? 0))
        var svg = open(label: label)
        svg += valueAxis(maxValue: maxCount, unit: "")
        let plotWidth = width - left - right
        let barWidth = plotWidth / Double(counts.count)
        if clean.isEmpty {
            svg += text(x: width / 2, y: height / 2, empty, anchor: "middle", cssClass: "empty")
        }
        for (i, c) in counts.enumerated() where c > 0 {
            let y1 = y(Double(c), maxValue: maxCount)
            svg +=
                "<rect x=\"\(fmt(left + barWidth * Double(i) + 1))\" y=\"\(fmt(y1))\" width=\"\(fmt(max(1, barWidth - 2)))\" height=\"\(fmt(height - bottom - y1))\" fill=\"\(palette[0])\"><title>\(fmt(hi * Double(i) / Double(counts.count)))–\(fmt(hi * Double(i + 1) / Double(counts.count))) \(escape(unit)): \(c)</title></rect>"
        }
        for k in 0...4 {
            let v = hi * Double(k) / 4
            svg += text(
                x: left + plotWidth * Double(k) / 4, y: height - bottom + 16, "\(short(v)) \(unit)", anchor: "middle", cssClass: "tick")
        }
        return svg + "</svg>"
    }

    /// The score broken down: each threshold check as a bar of value ÷ limit, with the limit
    /// marked, crossed ones in red. (For checks whose comparison is "<", the bar shows limit ÷ value.)
    public static func thresholds(
        _ checks: [(name: String, value: Double, limit: Double, comparison: String, crossed: Bool)], label: String
    )
        -> String
    {
        let rowHeight = 22.0
        let h = top + 20 + rowHeight * Double(max(checks.count, 1))
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(h))\" role=\"img\" aria-label=\"\(escape(label))\">"
        let plotLeft = 210.0
        let plotWidth = width - plotLeft - 90
        // 0 … 2× the limit; the limit is the middle line.
        let limitX = plotLeft + plotWidth / 2
        svg += "<line x1=\"\(fmt(limitX))\" x2=\"\(fmt(limitX))\" y1=\"\(fmt(top))\" y2=\"\(fmt(h - 8))\" class=\"limit\"/>"
        for (i, c) in checks.enumerated() {
            let cy = top + rowHeight * Double(i)
            let ratio: Double
            if c.comparison.hasPrefix("<") {
                ratio = finite(c.value) > 0 ? finite(c.limit) / finite(c.value) : 2
            } else {
                ratio = finite(c.limit) > 0 ? finite(c.value) / finite(c.limit) : (finite(c.value) > 0 ? 2 : 0)
            }
            let w = plotWidth / 2 * min(2, max(0, ratio))
            svg += text(x: plotLeft - 6, y: cy + 14, String(c.name.prefix(30)), anchor: "end", cssClass: "row")
            svg +=
                "<rect x=\"\(fmt(plotLeft))\" y=\"\(fmt(cy + 3))\" width=\"\(fmt(max(0.5, w)))\" height=\"14\" fill=\"\(c.crossed ? palette[1] : palette[7])\"/>"
            svg += text(
                x: width - 84, y: cy + 14, "\(short(c.value)) \(c.comparison) \(short(c.limit))", anchor: "start", cssClass: "tick")
        }
        return svg + "</svg>"
    }

    // MARK: - Parts

    static func open(label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" role=\"img\" aria-label=\"\(escape(label))\">"
    }

    static func axes(from: Int64, to: Int64, maxValue: Double, unit: String) -> String {
        valueAxis(maxValue: maxValue, unit: unit)
            + timeTicks(from: from, to: to, x0: left, y: height - bottom) { x($0, from: from, to: to) }
    }

    static func valueAxis(maxValue: Double, unit: String) -> String {
        var svg = ""
        for k in 0...4 {
            let v = maxValue * Double(k) / 4
            let yy = y(v, maxValue: maxValue)
            svg += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(yy))\" y2=\"\(fmt(yy))\" class=\"grid\"/>"
            svg += text(x: left - 6, y: yy + 4, short(v), anchor: "end", cssClass: "tick")
        }
        if !unit.isEmpty { svg += text(x: 4, y: top - 2, unit, anchor: "start", cssClass: "unit") }
        return svg
    }

    static func timeTicks(from: Int64, to: Int64, x0: Double, y: Double, x: (Int64) -> Double) -> String {
        var svg = "<line x1=\"\(fmt(x0))\" x2=\"\(fmt(width - right))\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" class=\"axis\"/>"
        let span = max(to - from, 1)
        let steps: [Int64] = [1_000, 10_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 86_400_000]
        let step = steps.first { span / $0 <= 6 } ?? (span / 6)
        var t = (from / step + 1) * step
        var n = 0
        while t < to && n < 12 {
            svg += text(x: x(t), y: y + 16, timeLabel(t, step: step), anchor: "middle", cssClass: "tick")
            t += step
            n += 1
        }
        svg += text(x: width - right, y: y + 32, "UTC", anchor: "end", cssClass: "unit")
        return svg
    }

    static func legend(_ items: [(String, String)], more: Int) -> String {
        var svg = ""
        var lx = left
        let ly = height - 8
        for (colour, name) in items {
            let n = String(name.prefix(24))
            svg += "<rect x=\"\(fmt(lx))\" y=\"\(fmt(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(colour)\"/>"
            svg += text(x: lx + 14, y: ly, n, anchor: "start", cssClass: "legend")
            lx += 24 + Double(n.count) * 6.5
            if lx > width - 60 { break }
        }
        if more > 0 { svg += text(x: width - right, y: ly, "+\(more)", anchor: "end", cssClass: "legend") }
        return svg
    }

    static func text(x: Double, y: Double, _ s: String, anchor: String, cssClass: String) -> String {
        "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" text-anchor=\"\(anchor)\" class=\"\(cssClass)\">\(escape(s))</text>"
    }

    static func x(_ t: Int64, from: Int64, to: Int64) -> Double {
        left + (width - left - right) * Double(t - from) / Double(max(to - from, 1))
    }

    static func y(_ v: Double, maxValue: Double) -> Double {
        let plot = height - top - bottom
        return height - bottom - (maxValue > 0 ? plot * min(1, max(0, v / maxValue)) : 0)
    }

    static func total(_ s: Series) -> Double { s.points.reduce(0) { $0 + finite($1.value) } }

    static func finite(_ v: Double) -> Double { v.isFinite ? v : 0 }

    /// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `v` (0 stays 0).
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 0 }
        let magnitude = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * magnitude >= v { return m * magnitude }
        return 10 * magnitude
    }

    /// 1234567 → "1.2M", 0.25 → "0.25".
    static func short(_ value: Double) -> String {
        let v = finite(value)
        let a = abs(v)
        if a >= 1_000_000_000 { return trimmed(v / 1_000_000_000) + "G" }
        if a >= 1_000_000 { return trimmed(v / 1_000_000) + "M" }
        if a >= 10_000 { return trimmed(v / 1_000) + "k" }
        return trimmed(v)
    }

    static func trimmed(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: abs(v) < 1 ? "%.2f" : "%.1f", v)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", finite(v)) }

    static func timeLabel(_ t: Int64, step: Int64) -> String {
        let seconds = t / 1000
        let day = 86_400 as Int64
        let secondOfDay = ((seconds % day) + day) % day
        let h = secondOfDay / 3600
        let m = (secondOfDay % 3600) / 60
        let s = secondOfDay % 60
        if step < 60_000 { return String(format: "%02d:%02d:%02d", h, m, s) }
        return String(format: "%02d:%02d", h, m)
    }

    /// XML text and attribute escaping.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case _ where c.value < 0x20 && c != "\t" && c != "\n": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
