import SwiftUI

@main
struct EdgeVitApp: App {
    @StateObject private var store = ModelStore()

    var body: some Scene {
        WindowGroup {
            TabView {
                ClassifyView()
                    .tabItem { Label("Classify", systemImage: "photo") }
                BenchmarkView()
                    .tabItem { Label("Benchmark", systemImage: "speedometer") }
            }
            .environmentObject(store)
            .task { await store.load() }
        }
    }
}

/// Loads the bundled model once; both screens share it.
@MainActor
final class ModelStore: ObservableObject {
    @Published private(set) var classifier: EdgeVitClassifier?
    @Published private(set) var error: String?

    func load() async {
        guard classifier == nil else { return }
        do {
            classifier = try await EdgeVitClassifier.load()
        } catch {
            self.error = error.localizedDescription
        }
    }
}
