import Foundation

// Pure Swift (Foundation only), so it builds and is unit-tested on Linux too: apps/ios/Package.swift.

/// Latency statistics in edgevit's bench schema (`latency_ms`), as `edgevit.runtimes.bench.latency_stats` and
/// the Android app's BenchStats.kt compute them: linear-interpolated percentiles (numpy's default), sample std
/// (ddof = 1; 0 for one run), and a trimmed mean that drops `trimFraction` of the runs at each end
/// (ModelBench-style).
struct LatencyStats {
    static let trimFraction = 0.1

    let p50, p90, p99, mean, trimmedMean, std, min, max: Double
    let runs: Int

    init(samplesMs: [Double]) {
        precondition(!samplesMs.isEmpty, "no timed runs")
        let s = samplesMs.sorted()
        let n = s.count
        let mean = s.reduce(0, +) / Double(n)
        let cut = Int((Double(n) * Self.trimFraction).rounded(.down))
        let kept = n - 2 * cut > 0 ? Array(s[cut..<(n - cut)]) : s
        p50 = Self.percentile(s, 50)
        p90 = Self.percentile(s, 90)
        p99 = Self.percentile(s, 99)
        self.mean = mean
        trimmedMean = kept.reduce(0, +) / Double(kept.count)
        std = n > 1 ? (s.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot() : 0
        min = s[0]
        max = s[n - 1]
        runs = n
    }

    /// `np.percentile(x, q)` with linear interpolation, on a sorted array.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        if sorted.count == 1 { return sorted[0] }
        let pos = q / 100 * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
}
