import CoreML
import Foundation

/// Latency statistics in edgevit's bench schema (`latency_ms`), computed exactly as the Android app's
/// BenchStats.kt: linear-interpolated percentiles (numpy's default), population std, and a trimmed mean that
/// drops `trimFraction` of the runs at each end (ModelBench-style).
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
        std = (s.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
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

/// How one benchmark was run.
struct BenchConfig {
    var warmup = 20
    var runs = 200
}

/// One results record in edgevit's bench schema (the keys `edgevit bench` writes on a desktop or a Raspberry
/// Pi), so `edgevit bench report` can put phone numbers beside them. Unknown fields are JSON null.
enum BenchReport {
    static let runtimeName = "coreml-ios"

    static func build(classifier: EdgeVitClassifier, stats: LatencyStats, accuracy: Double?) -> [String: Any] {
        let c = classifier.contract
        let batch = c.input.shape.first ?? 1
        let latency: [String: Any] = [
            "p50": stats.p50, "p90": stats.p90, "p99": stats.p99, "mean": stats.mean,
            "trimmed_mean": stats.trimmedMean, "std": stats.std, "min": stats.min, "max": stats.max,
            "runs": stats.runs,
        ]
        let runtime: [String: Any] = [
            "name": runtimeName,
            "version": osVersion(), // Core ML ships with the OS and has no version of its own
            "threads": NSNull(),
            "delegate": computeUnitsName(classifier.computeUnits),
        ]
        return [
            "model": c.model.name,
            "artifact": "\(BundleFiles.model).mlpackage",
            "runtime": runtime,
            "precision": c.precision ?? "fp32",
            "routing": c.routing ?? "none",
            "batch": batch,
            "latency_ms": latency,
            "throughput_ips": Double(batch) * msPerSecond / stats.mean,
            "load_time_ms": classifier.loadTimeMs,
            "peak_rss_mb": peakRssMb().map { $0 as Any } ?? NSNull(),
            "size_bytes": classifier.modelSizeBytes,
            "accuracy": accuracy.map { $0 as Any } ?? NSNull(),
            "machine": machine(),
            "timestamp": ISO8601DateFormatter().string(from: Date()),
            "edgevit_version": c.edgevitVersion ?? "",
        ]
    }

    /// Writes the record atomically to Documents/bench/ (visible in the Files app) and returns its URL.
    static func write(_ record: [String: Any]) throws -> URL {
        let docs = try FileManager.default.url(for: .documentDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let dir = docs.appendingPathComponent("bench", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let stamp = Int(Date().timeIntervalSince1970 * msPerSecond)
        let url = dir.appendingPathComponent("edgevit-bench-\(stamp).json")
        let data = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
        return url
    }

    static func machine() -> [String: Any] {
        [
            "cpu": hardwareModel(),
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "arch": arch(),
            "os": osVersion(),
            "python": NSNull(),
            "hostname": ProcessInfo.processInfo.hostName,
            "device": "Apple \(hardwareModel())",
        ]
    }

    /// Peak resident set of this process (mach `resident_size_max`), in MiB.
    static func peakRssMb() -> Double? {
        var info = mach_task_basic_info()
        var count = mach_msg_type_number_t(MemoryLayout<mach_task_basic_info>.size / MemoryLayout<integer_t>.size)
        let kr = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(MACH_TASK_BASIC_INFO), $0, &count)
            }
        }
        return kr == KERN_SUCCESS ? Double(info.resident_size_max) / bytesPerMiB : nil
    }

    static func computeUnitsName(_ units: MLComputeUnits) -> String {
        switch units {
        case .cpuOnly: return "cpuOnly"
        case .cpuAndGPU: return "cpuAndGPU"
        case .cpuAndNeuralEngine: return "cpuAndNeuralEngine"
        case .all: return "all"
        @unknown default: return "unknown"
        }
    }

    /// e.g. "iPhone16,1" (the simulator reports the Mac's model through SIMULATOR_MODEL_IDENTIFIER).
    static func hardwareModel() -> String {
        if let sim = ProcessInfo.processInfo.environment["SIMULATOR_MODEL_IDENTIFIER"] { return sim }
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    static func osVersion() -> String {
        let v = ProcessInfo.processInfo.operatingSystemVersion
        #if os(iOS)
        let name = "iOS"
        #else
        let name = "macOS"
        #endif
        return "\(name) \(v.majorVersion).\(v.minorVersion).\(v.patchVersion)"
    }

    static func arch() -> String {
        #if arch(arm64)
        return "arm64"
        #elseif arch(x86_64)
        return "x86_64"
        #else
        return "unknown"
        #endif
    }

    private static let msPerSecond = 1000.0
    private static let bytesPerMiB = 1048576.0
}
