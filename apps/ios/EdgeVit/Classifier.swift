import CoreGraphics
import CoreML
import Foundation

/// One label with its probability.
struct Prediction: Identifiable {
    let label: String
    let probability: Float
    var id: String { label }
}

/// Top-k predictions and where the time went.
struct Classification {
    let top: [Prediction]
    let preprocessMs: Double
    let inferenceMs: Double
}

/// Loads the bundle (`Model.mlmodelc` compiled by Xcode from `Model.mlpackage`, `labels.txt`, `edgevit.json`),
/// checks the model against its contract, and runs it with direct `MLModel` prediction (no Vision: Vision
/// would scale and crop the image its own way; the contract says exactly how).
final class EdgeVitClassifier: @unchecked Sendable {
    let contract: EdgeVitContract
    let labels: [String]
    let model: MLModel
    let preprocessor: Preprocessor
    let computeUnits: MLComputeUnits
    let loadTimeMs: Double
    let modelSizeBytes: Int64
    let isClassifier: Bool

    private let inputName: String
    private let inputShape: [NSNumber]
    private let inputType: MLMultiArrayDataType
    private let outputName: String

    static func load(computeUnits: MLComputeUnits = .all) async throws -> EdgeVitClassifier {
        guard let contractURL = BundleFiles.url(BundleFiles.contract.0, BundleFiles.contract.1) else {
            throw EdgeVitError.missing("edgevit.json")
        }
        let contract = try EdgeVitContract.load(from: contractURL)
        let config = MLModelConfiguration()
        config.computeUnits = computeUnits

        let start = DispatchTime.now().uptimeNanoseconds
        let compiled: URL
        if let url = BundleFiles.url(BundleFiles.model, "mlmodelc") {
            compiled = url
        } else if let package = BundleFiles.url(BundleFiles.model, "mlpackage") {
            compiled = try await MLModel.compileModel(at: package) // the package was copied, not compiled
        } else {
            throw EdgeVitError.missing("Model.mlpackage")
        }
        let model = try MLModel(contentsOf: compiled, configuration: config)
        let loadMs = Double(DispatchTime.now().uptimeNanoseconds - start) / nanosPerMs
        return try EdgeVitClassifier(contract: contract, model: model, computeUnits: computeUnits,
                                     loadTimeMs: loadMs, modelSizeBytes: directorySize(compiled))
    }

    private init(contract: EdgeVitContract, model: MLModel, computeUnits: MLComputeUnits,
                 loadTimeMs: Double, modelSizeBytes: Int64) throws {
        let description = model.modelDescription

        // Labels: the model's classifier metadata when it has some, else labels.txt; both must match the contract.
        let labels: [String]
        if let classLabels = description.classLabels, !classLabels.isEmpty {
            labels = classLabels.map { "\($0)" }
        } else if let url = BundleFiles.url(BundleFiles.labels.0, BundleFiles.labels.1) {
            labels = parseLabels(try String(contentsOf: url, encoding: .utf8))
        } else {
            throw EdgeVitError.missing("labels.txt")
        }
        guard labels == contract.labels else {
            throw EdgeVitError.contract("the model's labels (\(labels.count)) differ from edgevit.json (\(contract.labels.count))")
        }

        let inputs = description.inputDescriptionsByName
        let inputCandidate: String? = inputs[contract.input.name] != nil ? contract.input.name : inputs.keys.sorted().first
        guard let inputName = inputCandidate, let constraint = inputs[inputName]?.multiArrayConstraint else {
            throw EdgeVitError.model("the model has no multi-array input")
        }
        guard constraint.shape.map({ $0.intValue }) == contract.input.shape else {
            throw EdgeVitError.model("model input shape \(constraint.shape) != contract \(contract.input.shape)")
        }

        let outputCandidate: String?
        if let probs = description.predictedProbabilitiesName {
            outputCandidate = probs
        } else {
            let arrays = description.outputDescriptionsByName.filter { $0.value.type == .multiArray }
            outputCandidate = arrays[contract.output.name] != nil ? contract.output.name : arrays.keys.sorted().first
        }
        guard let outputName = outputCandidate else { throw EdgeVitError.model("the model has no multi-array output") }

        self.contract = contract
        self.model = model
        self.computeUnits = computeUnits
        self.loadTimeMs = loadTimeMs
        self.modelSizeBytes = modelSizeBytes
        self.labels = labels
        self.preprocessor = try Preprocessor(spec: PreprocessSpec(contract: contract))
        self.isClassifier = description.predictedProbabilitiesName != nil
        self.inputName = inputName
        self.inputShape = constraint.shape
        self.inputType = constraint.dataType
        self.outputName = outputName
    }

    /// Preprocessed floats (contract layout) -> the model's input features.
    func makeInput(_ x: [Float]) throws -> MLFeatureProvider {
        let array = try MLMultiArray(shape: inputShape, dataType: inputType)
        guard array.count == x.count else {
            throw EdgeVitError.model("model input holds \(array.count) values, preprocessing gave \(x.count)")
        }
        if inputType == .float32 {
            let ptr = array.dataPointer.bindMemory(to: Float.self, capacity: x.count)
            x.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: x.count) }
        } else { // float16 (the iOS 16+ default for converted inputs) or double: let MLMultiArray convert
            for (i, v) in x.enumerated() { array[i] = NSNumber(value: v) }
        }
        return try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(multiArray: array)])
    }

    /// One prediction; returns probabilities in label order.
    func run(_ input: MLFeatureProvider) throws -> [Float] {
        let out = try model.prediction(from: input)
        guard let value = out.featureValue(for: outputName) else {
            throw EdgeVitError.model("the model gave no '\(outputName)' output")
        }
        if isClassifier {
            let dict = value.dictionaryValue
            return labels.map { dict[$0]?.floatValue ?? 0 }
        }
        guard let array = value.multiArrayValue, array.count == labels.count else {
            throw EdgeVitError.model("output '\(outputName)' does not hold \(labels.count) values")
        }
        return softmax((0..<array.count).map { array[$0].floatValue })
    }

    func classify(_ image: CGImage, k: Int = 3) throws -> Classification {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let x = try preprocessor.process(image)
        let input = try makeInput(x)
        let t1 = DispatchTime.now().uptimeNanoseconds
        let probs = try run(input)
        let t2 = DispatchTime.now().uptimeNanoseconds
        let top = probs.indices.sorted { probs[$0] > probs[$1] }.prefix(k).map {
            Prediction(label: labels[$0], probability: probs[$0])
        }
        return Classification(top: Array(top), preprocessMs: Double(t1 - t0) / Self.nanosPerMs,
                              inferenceMs: Double(t2 - t1) / Self.nanosPerMs)
    }

    static let nanosPerMs = 1e6

    private func softmax(_ z: [Float]) -> [Float] {
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    private static func directorySize(_ url: URL) -> Int64 {
        guard let files = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
        var total: Int64 = 0
        for case let file as URL in files {
            total += Int64((try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }
        return total
    }
}
