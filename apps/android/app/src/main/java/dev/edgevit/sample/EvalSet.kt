package dev.edgevit.sample

import org.json.JSONObject

/**
 * The bundled eval set (`eval.json` + `eval.bin`, optional): same-size RGB images as raw bytes
 * (N, H, W, 3) and their class indices, so the benchmark screen can measure accuracy on the phone through
 * exactly the app's own preprocessing.
 */
class EvalSet(
    val name: String,
    val width: Int,
    val height: Int,
    val labels: IntArray,
    private val rgb: ByteArray,
) {
    val size: Int get() = labels.size

    init {
        require(rgb.size == size * width * height * CHANNELS) { "eval.bin does not hold $size RGB images of ${width}x$height" }
    }

    /** Image `i` as ARGB_8888 ints, as `Bitmap.getPixels` would return it for the decoded image. */
    fun argb(i: Int): IntArray {
        val n = width * height
        val base = i * n * CHANNELS
        return IntArray(n) { p ->
            val o = base + p * CHANNELS
            val r = rgb[o].toInt() and 0xFF
            val g = rgb[o + 1].toInt() and 0xFF
            val b = rgb[o + 2].toInt() and 0xFF
            (0xFF shl 24) or (r shl 16) or (g shl 8) or b
        }
    }

    companion object {
        const val CHANNELS = 3

        fun parse(json: String, rgb: ByteArray): EvalSet {
            val meta = JSONObject(json)
            require(meta.getInt("channels") == CHANNELS) { "eval.json: images must be RGB" }
            val labels = meta.getJSONArray("labels")
            require(labels.length() == meta.getInt("n")) { "eval.json: n does not match the labels" }
            return EvalSet(
                name = meta.getString("name"),
                width = meta.getInt("width"),
                height = meta.getInt("height"),
                labels = IntArray(labels.length()) { labels.getInt(it) },
                rgb = rgb,
            )
        }
    }
}

/** Accuracy of [classifier] on [eval]: each image through the app's preprocessing and the model. */
fun accuracy(classifier: EdgeVitClassifier, eval: EvalSet): Double {
    var correct = 0
    for (i in 0 until eval.size) {
        val logits = classifier.run(classifier.preprocessor.process(eval.argb(i), eval.width, eval.height))
        var best = 0
        for (k in logits.indices) if (logits[k] > logits[best]) best = k
        if (best == eval.labels[i]) correct++
    }
    return correct.toDouble() / eval.size
}
