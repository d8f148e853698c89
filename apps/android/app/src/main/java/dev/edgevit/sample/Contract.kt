package dev.edgevit.sample

import org.json.JSONArray
import org.json.JSONObject

/** File names of the asset bundle that `edgevit export --app android` writes into `assets/`. */
object AssetNames {
    const val MODEL = "model.tflite"
    const val LABELS = "labels.txt"
    const val CONTRACT = "edgevit.json"
    const val SAMPLE = "sample.png"
    const val EVAL_JSON = "eval.json"
    const val EVAL_BIN = "eval.bin"
}

/** The parts of `edgevit.json` (the artifact contract, format_version 1) this app uses. */
class EdgeVitContract(
    val modelName: String,
    val labels: List<String>,
    val inputShape: IntArray,
    val outputShape: IntArray,
    val preprocess: PreprocessSpec,
    val precision: String,
    val routing: String,
    val edgevitVersion: String,
    val file: String,
    val target: String,
    /** The exporter's validation report, copied into bench results as is. */
    val validation: JSONObject,
) {
    val numClasses: Int get() = labels.size

    companion object {
        const val FORMAT_VERSION = 1

        fun parse(text: String): EdgeVitContract {
            val root = JSONObject(text)
            val version = root.optInt("format_version", FORMAT_VERSION)
            require(version <= FORMAT_VERSION) { "edgevit.json format_version $version is newer than this app" }
            val input = root.getJSONObject("input")
            val output = root.getJSONObject("output")
            val pre = root.getJSONObject("preprocess")
            val size = pre.getJSONArray("size")
            val channels = pre.getInt("channels")
            val spec = PreprocessSpec(
                height = size.getInt(0),
                width = size.getInt(1),
                channels = channels,
                mean = floats(pre.getJSONArray("mean")),
                std = floats(pre.getJSONArray("std")),
                resize = pre.getString("resize"),
                scale = pre.getDouble("scale").toFloat(),
                layout = input.getString("layout"),
            )
            val labels = root.getJSONArray("labels")
            return EdgeVitContract(
                modelName = root.getJSONObject("model").optString("name", "model"),
                labels = List(labels.length()) { labels.getString(it) },
                inputShape = ints(input.getJSONArray("shape")),
                outputShape = ints(output.getJSONArray("shape")),
                preprocess = spec,
                precision = root.optString("precision", "fp32"),
                routing = root.optString("routing", "none"),
                edgevitVersion = root.optString("edgevit_version", ""),
                file = root.optString("file", AssetNames.MODEL),
                target = root.optString("target", "tflite"),
                validation = root.optJSONObject("validation") ?: JSONObject(),
            )
        }

        private fun floats(a: JSONArray) = FloatArray(a.length()) { a.getDouble(it).toFloat() }

        private fun ints(a: JSONArray) = IntArray(a.length()) { a.getInt(it) }
    }
}

/**
 * `labels.txt`: one label per line, in class order. The rule edgevit's Python (`parse_labels`) and the iOS app
 * share: lines end at "\n", "\r\n" or "\r" (exactly what [lines] splits at), trailing empty lines are
 * dropped, nothing else is trimmed.
 */
fun parseLabels(text: String): List<String> = text.lines().dropLastWhile { it.isEmpty() }
