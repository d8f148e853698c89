import ImageIO
import SwiftUI

/// Benchmark screen: warm-up runs, then N timed predictions on the preprocessed sample image, then accuracy on
/// the bundled eval set (if any) through the app's own preprocessing; shows the percentiles, trimmed mean and
/// accuracy, and writes a results JSON in edgevit's bench schema to Documents/bench/.
struct BenchmarkView: View {
    @EnvironmentObject private var store: ModelStore
    @State private var config = BenchConfig()
    @State private var stats: LatencyStats?
    @State private var evalResult: EvalResult?
    @State private var written: URL?
    @State private var running = false
    @State private var message: String?

    var body: some View {
        NavigationStack {
            Form {
                Section("Protocol") {
                    Stepper("Warm-up runs: \(config.warmup)", value: $config.warmup, in: 0...1000, step: 10)
                    Stepper("Timed runs: \(config.runs)", value: $config.runs, in: 10...10000, step: 50)
                    Button(running ? "Running…" : "Run benchmark") { Task { await run() } }
                        .disabled(running || store.classifier == nil)
                }
                if let s = stats {
                    Section("Latency (ms)") {
                        row("p50", s.p50)
                        row("p90", s.p90)
                        row("p99", s.p99)
                        row("trimmed mean", s.trimmedMean)
                        row("mean ± std", s.mean, s.std)
                        row("min / max", s.min, s.max)
                    }
                    Section("Accuracy") {
                        if let e = evalResult {
                            Text("\(String(format: "%.4f", e.accuracy)) on \(e.name) (\(e.n) images)")
                        } else {
                            Text("no eval set bundled: not measured")
                        }
                    }
                }
                if let url = written {
                    Section("Results JSON") {
                        Text(url.lastPathComponent).font(.footnote.monospaced())
                        ShareLink(item: url)
                    }
                }
                if let text = message ?? store.error {
                    Text(text).foregroundStyle(.red)
                }
            }
            .navigationTitle("Benchmark")
        }
    }

    private func row(_ name: String, _ a: Double, _ b: Double? = nil) -> some View {
        HStack {
            Text(name)
            Spacer()
            Text(b.map { String(format: "%.3f / %.3f", a, $0) } ?? String(format: "%.3f", a)).monospacedDigit()
        }
    }

    private func run() async {
        guard let classifier = store.classifier else { return }
        running = true
        defer { running = false }
        let config = self.config
        do {
            let (s, e, record) = try await Task.detached(priority: .userInitiated) { () throws -> (LatencyStats, EvalResult?, [String: Any]) in
                guard let url = BundleFiles.url(BundleFiles.sample.0, BundleFiles.sample.1),
                      let source = CGImageSourceCreateWithURL(url as CFURL, nil),
                      let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
                    throw EdgeVitError.missing("sample.png")
                }
                let input = try classifier.makeInput(try classifier.preprocessor.process(image))
                for _ in 0..<config.warmup { _ = try classifier.run(input) }
                var samples = [Double]()
                samples.reserveCapacity(config.runs)
                for _ in 0..<config.runs {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = try classifier.model.prediction(from: input)
                    samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / EdgeVitClassifier.nanosPerMs)
                }
                let stats = LatencyStats(samplesMs: samples)
                let eval = try EvalSet.loadBundled().map {
                    EvalResult(name: $0.meta.name, n: $0.meta.n, accuracy: try $0.accuracy(of: classifier))
                }
                let record = BenchReport.build(classifier: classifier, config: config, stats: stats, eval: eval)
                return (stats, eval, record)
            }.value
            stats = s
            evalResult = e
            written = try BenchReport.write(record)
            message = nil
        } catch {
            message = error.localizedDescription
        }
    }
}
