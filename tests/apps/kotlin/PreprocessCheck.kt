// JVM driver for tests/apps/test_app_kotlin.py: runs the Android app's Preprocessor.kt and BenchStats.kt on
// cases written by the test (plain text, so no JSON library is needed) and prints the results.
//
// Input, one item per line:  "case" H W C resize layout scale / mean... / std... / width height / argb...
//                            "stats" / samples...
// Output, one line per item: float bits (hex) of the preprocessed input, or the latency stats as doubles.
package dev.edgevit.sample

import java.io.File

fun main(args: Array<String>) {
    val lines = File(args[0]).readLines().filter { it.isNotBlank() }
    var i = 0
    val out = StringBuilder()
    while (i < lines.size) {
        val head = lines[i].trim().split(" ")
        if (head[0] == "case") {
            val spec = PreprocessSpec(
                head[1].toInt(), head[2].toInt(), head[3].toInt(),
                lines[i + 1].trim().split(" ").map { it.toDouble().toFloat() }.toFloatArray(),
                lines[i + 2].trim().split(" ").map { it.toDouble().toFloat() }.toFloatArray(),
                head[4], head[6].toDouble().toFloat(), head[5]
            )
            val wh = lines[i + 3].trim().split(" ").map { it.toInt() }
            val argb = lines[i + 4].trim().split(" ").map { it.toInt() }.toIntArray()
            val x = Preprocessor(spec).process(argb, wh[0], wh[1])
            out.append(x.joinToString(" ") { Integer.toHexString(java.lang.Float.floatToRawIntBits(it)) }).append('\n')
            i += 5
        } else {
            val samples = lines[i + 1].trim().split(" ").map { it.toDouble() }.toDoubleArray()
            val s = LatencyStats.of(samples)
            val v = doubleArrayOf(s.p50, s.p90, s.p99, s.mean, s.trimmedMean, s.std, s.min, s.max, s.runs.toDouble())
            out.append(v.joinToString(" ")).append('\n')
            i += 2
        }
    }
    print(out)
}
