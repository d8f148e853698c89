import CoreML
import Foundation

/// How one benchmark was run.
struct BenchConfig {
    var warmup = 20
    var runs = 200
}

/// Accuracy of the model on the bundled eval set, through the app's preprocessing.
struct EvalResult {
    let name: String
    let n: Int
    let accuracy: Double
}

/// One result in edgevit's bench schema (`edgevit.bench/1`, the object `edgevit.runtimes.bench.new_result`
/// builds), so `edgevit bench report` reads phone results beside desktop and Raspberry Pi ones. What the app
/// cannot measure is JSON null.
enum BenchReport {
    static let schema = "edgevit.bench/1"
    static let runtimeName = "coreml"
    static let source = "ios-app"

    static func build(classifier: EdgeVitClassifier, config: BenchConfig, stats: LatencyStats,
                      eval: EvalResult?) -> [String: Any] {
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
            "provider": computeUnitsName(classifier.computeUnits),
            "extra": ["api": "MLModel.prediction(from:)", "warmup": config.warmup] as [String: Any],
        ]
        var notes = ["timed MLModel.prediction on the preprocessed sample.png; preprocessing excluded"]
        if eval != nil { notes.append("accuracy through the app's own preprocessing of the bundled eval set") }
        let evalSet: Any = eval.map { ["name": $0.name, "n": $0.n] as [String: Any] } ?? NSNull()
        return [
            "schema": schema,
            "status": "ok",
            "error": NSNull(),
            "model": c.model.name,
            "artifact": "\(BundleFiles.model).mlpackage",
            "format": c.target ?? "coreml",
            "runtime": runtime,
            "precision": c.precision ?? "fp32",
            "routing": c.routing ?? "none",
            "batch": batch,
            "latency_ms": latency,
            "throughput_ips": [String(batch): Double(batch) * msPerSecond / stats.p50],
            "load_time_ms": classifier.loadTimeMs,
            "peak_rss_mb": peakRssMb().map { $0 as Any } ?? NSNull(),
            "size_bytes": classifier.modelSizeBytes,
            "accuracy": eval.map { $0.accuracy as Any } ?? NSNull(),
            "eval_set": evalSet,
            "top1_agreement": NSNull(),
            "max_abs_diff": NSNull(),
            "reference": NSNull(),
            "validation": c.validation,
            "machine": machine(),
            "device": "ios:\(slug(hardwareModel()))",
            "source": source,
            "timestamp": ISO8601DateFormatter().string(from: Date()),
            "edgevit_version": c.edgevitVersion ?? "",
            "notes": notes,
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

    /// The keys of `edgevit.runtimes.machine.machine_facts()` plus `name`.
    static func machine() -> [String: Any] {
        [
            "cpu": hardwareModel(),
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "arch": arch(),
            "os": osVersion(),
            "python": NSNull(),
            "hostname": "Apple \(hardwareModel())",
            "name": slug(hardwareModel()),
        ]
    }

    /// `edgevit.runtimes.machine.slug`: letters, digits, '.', '_'; anything else becomes '-'.
    static func slug(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
        var out = ""
        for ch in text {
            if allowed.contains(ch) { out.append(ch) } else if out.last != "-" { out.append("-") }
        }
        let trimmed = out.trimmingCharacters(in: CharacterSet(charactersIn: "-."))
        return trimmed.isEmpty ? "unknown" : String(trimmed.prefix(slugLimit))
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
    private static let slugLimit = 40
}
