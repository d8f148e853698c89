import PhotosUI
import SwiftUI
import UIKit

/// Classifies the bundled `sample.png` (or a picked photo) and shows the top-3 with latency.
struct ClassifyView: View {
    @EnvironmentObject private var store: ModelStore
    @State private var image: UIImage?
    @State private var result: Classification?
    @State private var message: String?
    @State private var picked: PhotosPickerItem?

    var body: some View {
        NavigationStack {
            List {
                if let image {
                    Image(uiImage: image)
                        .resizable()
                        .interpolation(.none) // an 8x8 digit stays crisp; the model sees the exact pixels
                        .scaledToFit()
                        .frame(maxWidth: .infinity, minHeight: 160, maxHeight: 240)
                }
                if let c = store.classifier {
                    Section("Model") {
                        Text("\(c.contract.model.name) (\(c.contract.precision ?? "fp32"), routing \(c.contract.routing ?? "none"))")
                        Text("input \(c.contract.input.shape.map(String.init).joined(separator: "x")) \(c.contract.input.layout)")
                            .font(.footnote.monospaced())
                    }
                }
                if let result {
                    Section("Top 3") {
                        ForEach(Array(result.top.enumerated()), id: \.offset) { i, p in
                            HStack {
                                Text("\(i + 1). \(p.label)")
                                Spacer()
                                Text(String(format: "%.2f%%", p.probability * 100)).monospacedDigit()
                            }
                        }
                        Text(String(format: "preprocess %.2f ms, inference %.2f ms", result.preprocessMs, result.inferenceMs))
                            .font(.footnote.monospaced())
                    }
                }
                if let text = message ?? store.error {
                    Text(text).foregroundStyle(.red)
                }
            }
            .navigationTitle("edgevit")
            .toolbar {
                PhotosPicker(selection: $picked, matching: .images) { Label("Pick photo", systemImage: "photo.on.rectangle") }
            }
        }
        .task(id: store.classifier != nil) { await classifySample() }
        .onChange(of: picked) { item in
            Task { await classifyPicked(item) }
        }
    }

    private func classifySample() async {
        guard let url = BundleFiles.url(BundleFiles.sample.0, BundleFiles.sample.1),
              let sample = UIImage(contentsOfFile: url.path) else {
            if store.classifier != nil { message = "sample.png is missing from the app bundle" }
            return
        }
        await classify(sample)
    }

    private func classifyPicked(_ item: PhotosPickerItem?) async {
        guard let item else { return }
        do {
            guard let data = try await item.loadTransferable(type: Data.self), let picked = UIImage(data: data) else {
                message = "cannot decode the picked image"
                return
            }
            await classify(picked)
        } catch {
            message = error.localizedDescription
        }
    }

    private func classify(_ uiImage: UIImage) async {
        image = uiImage
        guard let classifier = store.classifier else { return }
        guard let cgImage = upright(uiImage) else {
            message = "cannot read the image's pixels"
            return
        }
        do {
            result = try await Task.detached(priority: .userInitiated) { try classifier.classify(cgImage) }.value
            message = nil
        } catch {
            message = error.localizedDescription
        }
    }

    /// The pixels as the user sees them: photos carry an EXIF orientation that CGImage ignores.
    private func upright(_ image: UIImage) -> CGImage? {
        if image.imageOrientation == .up, let cg = image.cgImage { return cg }
        let format = UIGraphicsImageRendererFormat()
        format.scale = image.scale
        format.preferredRange = .standard
        return UIGraphicsImageRenderer(size: image.size, format: format).image { _ in
            image.draw(in: CGRect(origin: .zero, size: image.size))
        }.cgImage
    }
}
