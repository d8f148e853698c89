import Foundation
import XCTest

@testable import EdgeVitCore

/// The golden cases edgevit's Python writes (apps/android/app/src/test/resources/preprocess_golden.json, read
/// by the Android app's unit tests too): contract + ARGB pixels -> the floats `preprocess_images` gives, bit
/// for bit; latency samples -> numpy's statistics; labels.txt text -> labels.
final class GoldenTests: XCTestCase {
    static let goldenURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../android/app/src/test/resources/preprocess_golden.json").standardized

    static func golden() throws -> [String: Any] {
        let data = try Data(contentsOf: goldenURL)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func array(_ v: Any?) throws -> [Any] { try XCTUnwrap(v as? [Any]) }

    func testPreprocessingMatchesPythonBitForBit() throws {
        let cases = try Self.array(try Self.golden()["cases"])
        XCTAssertFalse(cases.isEmpty)
        for item in cases {
            let c = try XCTUnwrap(item as? [String: Any])
            let name = try XCTUnwrap(c["name"] as? String)
            let contractData = try JSONSerialization.data(withJSONObject: try XCTUnwrap(c["contract"]))
            let contract = try JSONDecoder().decode(EdgeVitContract.self, from: contractData)
            let spec = try PreprocessSpec(contract: contract)
            let width = try XCTUnwrap(c["width"] as? Int)
            let height = try XCTUnwrap(c["height"] as? Int)
            let argb = try Self.array(c["argb"]).map { try XCTUnwrap(($0 as? NSNumber)?.int64Value) }
            let expected = try Self.array(c["expected"]).map { Float(try XCTUnwrap(($0 as? NSNumber)?.doubleValue)) }
            // The ARGB ints as the app's RGBX bytes (alpha dropped by the preprocessor).
            var rgba = [UInt8]()
            for p in argb {
                let v = UInt32(truncatingIfNeeded: p)
                rgba += [UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF), UInt8(v >> 24)]
            }
            let pre = Preprocessor(spec: spec)
            var inputs = [("rgba", pre.process(pixels: rgba, width: width, height: height, bytesPerPixel: 4))]
            let firsts = Array(stride(from: 0, to: rgba.count, by: 4))
            let grey = firsts.allSatisfy { (i: Int) -> Bool in rgba[i] == rgba[i + 1] && rgba[i] == rgba[i + 2] }
            if grey { // how a grey CGImage arrives: one byte per pixel
                let bytes = firsts.map { (i: Int) -> UInt8 in rgba[i] }
                inputs.append(("grey", pre.process(pixels: bytes, width: width, height: height, bytesPerPixel: 1)))
            }
            for (path, got) in inputs {
                XCTAssertEqual(got.count, expected.count, "\(name) \(path)")
                XCTAssertEqual(got.count, spec.count, "\(name) \(path)")
                let diff = zip(got, expected).enumerated().first { $0.element.0.bitPattern != $0.element.1.bitPattern }
                XCTAssertNil(diff, "\(name) \(path): first differing float at \(diff?.offset ?? -1)")
            }
        }
    }

    func testLatencyStatsMatchNumpy() throws {
        let cases = try Self.array(try Self.golden()["stats"])
        XCTAssertFalse(cases.isEmpty)
        for item in cases {
            let c = try XCTUnwrap(item as? [String: Any])
            let samples = try Self.array(c["samples"]).map { try XCTUnwrap(($0 as? NSNumber)?.doubleValue) }
            let want = try XCTUnwrap(c["expected"] as? [String: Any])
            func w(_ k: String) throws -> Double { try XCTUnwrap((want[k] as? NSNumber)?.doubleValue) }
            let s = LatencyStats(samplesMs: samples)
            let tol = 1e-9
            XCTAssertEqual(s.p50, try w("p50"), accuracy: tol)
            XCTAssertEqual(s.p90, try w("p90"), accuracy: tol)
            XCTAssertEqual(s.p99, try w("p99"), accuracy: tol)
            XCTAssertEqual(s.mean, try w("mean"), accuracy: tol)
            XCTAssertEqual(s.trimmedMean, try w("trimmed_mean"), accuracy: tol)
            XCTAssertEqual(s.std, try w("std"), accuracy: tol)
            XCTAssertEqual(s.min, try w("min"), accuracy: tol)
            XCTAssertEqual(s.max, try w("max"), accuracy: tol)
            XCTAssertEqual(Double(s.runs), try w("runs"))
        }
    }

    func testLabelsFollowTheSharedRule() throws {
        let cases = try Self.array(try Self.golden()["labels"])
        XCTAssertFalse(cases.isEmpty)
        for item in cases {
            let c = try XCTUnwrap(item as? [String: Any])
            let text = try XCTUnwrap(c["text"] as? String)
            let want = try XCTUnwrap(c["expected"] as? [String])
            XCTAssertEqual(parseLabels(text), want, "parseLabels(\(text.debugDescription))")
        }
    }

    func testContractRejectsUnknownRules() throws {
        let cases = try Self.array(try Self.golden()["cases"])
        var contract = try XCTUnwrap((cases.first as? [String: Any])?["contract"] as? [String: Any])
        var input = try XCTUnwrap(contract["input"] as? [String: Any])
        input["layout"] = "CHW"
        contract["input"] = input
        let data = try JSONSerialization.data(withJSONObject: contract)
        let decoded = try JSONDecoder().decode(EdgeVitContract.self, from: data)
        XCTAssertThrowsError(try PreprocessSpec(contract: decoded))
    }
}
