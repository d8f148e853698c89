import Foundation

/// The bundled eval set (`eval.json` + `eval.bin`, optional): same-size RGB images as raw bytes (N, H, W, 3)
/// and their class indices, so the benchmark screen can measure accuracy on the phone through exactly the
/// app's own preprocessing.
struct EvalSet {
    struct Meta: Decodable {
        let name: String
        let n: Int
        let height: Int
        let width: Int
        let channels: Int
        let labels: [Int]
    }

    static let channels = 3

    let meta: Meta
    let rgb: Data

    /// nil when the bundle has no eval set.
    static func loadBundled() throws -> EvalSet? {
        guard let json = BundleFiles.url(BundleFiles.evalJSON.0, BundleFiles.evalJSON.1),
              let bin = BundleFiles.url(BundleFiles.evalBin.0, BundleFiles.evalBin.1) else { return nil }
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: json))
        let rgb = try Data(contentsOf: bin)
        guard meta.channels == channels, meta.labels.count == meta.n,
              rgb.count == meta.n * meta.height * meta.width * channels else {
            throw EdgeVitError.contract("eval.json does not describe eval.bin")
        }
        return EvalSet(meta: meta, rgb: rgb)
    }

    /// Image `i` as RGBX bytes (4 per pixel, alpha 255), what the app's CGContext holds for a decoded image.
    func rgbx(_ i: Int) -> [UInt8] {
        let n = meta.width * meta.height
        let base = i * n * Self.channels
        var out = [UInt8](repeating: UInt8.max, count: n * (Self.channels + 1))
        rgb.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            for p in 0..<n {
                for c in 0..<Self.channels { out[p * (Self.channels + 1) + c] = src[base + p * Self.channels + c] }
            }
        }
        return out
    }

    /// Accuracy of `classifier` on this set: each image through the app's preprocessing and the model.
    func accuracy(of classifier: EdgeVitClassifier) throws -> Double {
        var correct = 0
        for i in 0..<meta.n {
            let x = classifier.preprocessor.process(pixels: rgbx(i), width: meta.width, height: meta.height,
                                                    bytesPerPixel: Self.channels + 1)
            let probs = try classifier.run(classifier.makeInput(x))
            let best = probs.indices.max { probs[$0] < probs[$1] } ?? -1
            if best == meta.labels[i] { correct += 1 }
        }
        return Double(correct) / Double(meta.n)
    }
}
