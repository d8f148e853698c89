import Foundation

/// File names of the asset bundle that `edgevit export --app ios` writes into `EdgeVit/Resources/`.
enum BundleFiles {
    /// `Model.mlpackage` in the source tree; Xcode compiles it to `Model.mlmodelc` in the app bundle.
    static let model = "Model"
    static let labels = ("labels", "txt")
    static let contract = ("edgevit", "json")
    static let sample = ("sample", "png")
    static let evalJSON = ("eval", "json")
    static let evalBin = ("eval", "bin")

    /// Bundled resource by name; synchronized folders copy resources to the bundle root.
    static func url(_ name: String, _ ext: String) -> URL? {
        Bundle.main.url(forResource: name, withExtension: ext)
            ?? Bundle.main.url(forResource: name, withExtension: ext, subdirectory: "Resources")
    }
}

/// The parts of `edgevit.json` (the artifact contract, format_version 1) this app uses.
struct EdgeVitContract: Decodable {
    struct ModelInfo: Decodable {
        let name: String
    }

    struct Input: Decodable {
        let name: String
        let shape: [Int]
        let layout: String
    }

    struct Output: Decodable {
        let name: String
        let shape: [Int]
    }

    struct Preprocess: Decodable {
        let size: [Int]
        let channels: Int
        let mean: [Double]
        let std: [Double]
        let resize: String
        let scale: Double
    }

    static let supportedFormatVersion = 1

    let formatVersion: Int?
    let model: ModelInfo
    let labels: [String]
    let input: Input
    let output: Output
    let preprocess: Preprocess
    let precision: String?
    let routing: String?
    let edgevitVersion: String?
    let file: String?
    let target: String?
    /// The exporter's validation report, copied into bench results as is (not decoded).
    private(set) var validation: [String: Any] = [:]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case model, labels, input, output, preprocess, precision, routing, file, target
        case edgevitVersion = "edgevit_version"
    }

    static func load(from url: URL) throws -> EdgeVitContract {
        let data = try Data(contentsOf: url)
        var contract = try JSONDecoder().decode(EdgeVitContract.self, from: data)
        if let v = contract.formatVersion, v > supportedFormatVersion {
            throw EdgeVitError.contract("edgevit.json format_version \(v) is newer than this app")
        }
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        contract.validation = root?["validation"] as? [String: Any] ?? [:]
        return contract
    }
}

/// `labels.txt`: one label per line, in class order. The rule edgevit's Python (`parse_labels`) and the Android
/// app share: lines end at "\n", "\r\n" or "\r" and nothing else; trailing empty lines are dropped; nothing is
/// trimmed. "\r\n" is ONE Character in Swift, so splitting at "\n" alone would not split it (it did, on Linux
/// Foundation: "dog\r\na b" stayed one label).
func parseLabels(_ text: String) -> [String] {
    var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        .map(String.init)
    while let last = lines.last, last.isEmpty { lines.removeLast() }
    return lines
}

enum EdgeVitError: LocalizedError {
    case missing(String)
    case contract(String)
    case model(String)
    case image(String)

    var errorDescription: String? {
        switch self {
        case .missing(let s): return "\(s) is missing from the app bundle. Write one with: edgevit export --checkpoint DIR --target coreml --app ios"
        case .contract(let s), .model(let s), .image(let s): return s
        }
    }
}
