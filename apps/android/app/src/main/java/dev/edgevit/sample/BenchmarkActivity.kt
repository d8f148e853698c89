package dev.edgevit.sample

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.os.Bundle
import android.os.SystemClock
import android.util.Log
import android.widget.Button
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File
import java.util.Locale

/**
 * Benchmark screen: warm-up runs, then N timed runs of the interpreter on the preprocessed sample image,
 * then accuracy on the bundled eval set (if any) through the app's own preprocessing; shows p50/p90/p99,
 * the trimmed mean and the accuracy, and writes a results JSON in edgevit's bench schema to
 * `<external files>/bench/` (pull it with `adb pull`, see README). Also logs the JSON on one line under
 * the tag [TAG].
 *
 * Drive it from a computer:
 * `adb shell am start -n dev.edgevit.sample/.BenchmarkActivity --ei runs 200 --ei warmup 20 --ei threads 4 --ez autostart true`
 */
class BenchmarkActivity : ComponentActivity() {

    private lateinit var output: TextView
    private lateinit var start: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_benchmark)
        output = findViewById(R.id.bench_output)
        start = findViewById(R.id.bench_start)
        val config = BenchConfig(
            warmup = intent.getIntExtra(EXTRA_WARMUP, DEFAULT_WARMUP),
            runs = intent.getIntExtra(EXTRA_RUNS, DEFAULT_RUNS),
            threads = intent.getIntExtra(EXTRA_THREADS, Runtime.getRuntime().availableProcessors()),
        )
        output.text = getString(R.string.bench_ready, config.warmup, config.runs, config.threads)
        start.setOnClickListener { runBenchmark(config) }
        if (intent.getBooleanExtra(EXTRA_AUTOSTART, false) && savedInstanceState == null) runBenchmark(config)
    }

    private fun runBenchmark(config: BenchConfig) {
        start.isEnabled = false
        output.text = getString(R.string.bench_running)
        lifecycleScope.launch {
            val text = try {
                withContext(Dispatchers.Default) { benchmark(config) }
            } catch (e: Exception) {
                Log.e(TAG, "benchmark failed", e)
                getString(R.string.failed, e.message ?: e.toString())
            }
            output.text = text
            start.isEnabled = true
        }
    }

    /** Runs on a background thread; returns the text to show. */
    private fun benchmark(config: BenchConfig): String {
        require(config.runs > 0 && config.warmup >= 0) { "runs must be > 0 and warmup >= 0" }
        EdgeVitClassifier.load(this, config.threads).use { classifier ->
            val options = BitmapFactory.Options().apply {
                inPreferredConfig = Bitmap.Config.ARGB_8888
                inScaled = false
            }
            val sample = assets.open(AssetNames.SAMPLE).use { BitmapFactory.decodeStream(it, null, options) }
                ?: throw IllegalStateException("cannot decode ${AssetNames.SAMPLE}")
            val x = classifier.preprocess(sample)
            repeat(config.warmup) { classifier.run(x) }
            val samples = DoubleArray(config.runs)
            for (i in 0 until config.runs) {
                val t0 = SystemClock.elapsedRealtimeNanos()
                classifier.run(x)
                samples[i] = (SystemClock.elapsedRealtimeNanos() - t0) / EdgeVitClassifier.NANOS_PER_MS
            }
            val stats = LatencyStats.of(samples)
            val eval = loadEvalSet()?.let { EvalResult(it.name, it.size, accuracy(classifier, it)) }
            val json = BenchReport.build(classifier, config, stats, eval)
            val dir = File(getExternalFilesDir(null) ?: filesDir, BENCH_DIR).apply { mkdirs() }
            val file = File(dir, "edgevit-bench-${System.currentTimeMillis()}.json")
            val tmp = File(dir, file.name + ".tmp")
            tmp.writeText(json.toString(2))
            check(tmp.renameTo(file)) { "cannot write ${file.path}" }
            Log.i(TAG, json.toString())
            return String.format(
                Locale.US,
                "%s, %d threads, %d warm-up + %d runs\n\np50 %.3f ms\np90 %.3f ms\np99 %.3f ms\n" +
                    "trimmed mean %.3f ms (mean %.3f, std %.3f)\nmin %.3f / max %.3f ms\nload %.1f ms\n%s\n\nwrote %s",
                classifier.contract.modelName, config.threads, config.warmup, stats.runs,
                stats.p50, stats.p90, stats.p99, stats.trimmedMean, stats.mean, stats.std, stats.min, stats.max,
                classifier.loadTimeMs,
                eval?.let { String.format(Locale.US, "accuracy %.4f on %s (%d images)", it.accuracy, it.name, it.n) }
                    ?: "no eval set bundled: accuracy not measured",
                file.path,
            )
        }
    }

    /** The bundled eval set, or null when the bundle has none. */
    private fun loadEvalSet(): EvalSet? {
        val names = assets.list("")?.toSet() ?: emptySet()
        if (AssetNames.EVAL_JSON !in names || AssetNames.EVAL_BIN !in names) return null
        val json = assets.open(AssetNames.EVAL_JSON).bufferedReader().use { it.readText() }
        val rgb = assets.open(AssetNames.EVAL_BIN).use { it.readBytes() }
        return EvalSet.parse(json, rgb)
    }

    companion object {
        const val TAG = "EdgeVitBench"
        const val BENCH_DIR = "bench"
        const val EXTRA_WARMUP = "warmup"
        const val EXTRA_RUNS = "runs"
        const val EXTRA_THREADS = "threads"
        const val EXTRA_AUTOSTART = "autostart"
        const val DEFAULT_WARMUP = 20
        const val DEFAULT_RUNS = 200
    }
}
