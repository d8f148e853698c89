package dev.edgevit.sample

import android.os.Build
import org.json.JSONArray
import org.json.JSONObject
import org.tensorflow.lite.TensorFlowLite
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone

/** How one benchmark was run. */
class BenchConfig(val warmup: Int, val runs: Int, val threads: Int)

/** Accuracy of the model on the bundled eval set, through the app's preprocessing. */
class EvalResult(val name: String, val n: Int, val accuracy: Double)

/**
 * One result in edgevit's bench schema (`edgevit.bench/1`, the object `edgevit.runtimes.bench.new_result`
 * builds), so `edgevit bench report` reads phone results beside desktop and Raspberry Pi ones.
 * What the app cannot measure is JSON null.
 */
object BenchReport {
    const val SCHEMA = "edgevit.bench/1"
    const val RUNTIME_NAME = "tflite"
    const val PROVIDER = "xnnpack"
    const val SOURCE = "android-app"

    fun build(
        classifier: EdgeVitClassifier,
        config: BenchConfig,
        stats: LatencyStats,
        eval: EvalResult?,
    ): JSONObject {
        val c = classifier.contract
        val latency = JSONObject()
            .put("p50", stats.p50)
            .put("p90", stats.p90)
            .put("p99", stats.p99)
            .put("mean", stats.mean)
            .put("trimmed_mean", stats.trimmedMean)
            .put("std", stats.std)
            .put("min", stats.min)
            .put("max", stats.max)
            .put("runs", stats.runs)
        val runtime = JSONObject()
            .put("name", RUNTIME_NAME)
            .put("version", TensorFlowLite.runtimeVersion())
            .put("threads", config.threads)
            .put("provider", PROVIDER)
            .put("extra", JSONObject().put("api", "org.tensorflow.lite.Interpreter").put("warmup", config.warmup))
        val batch = c.inputShape.firstOrNull() ?: 1
        val notes = JSONArray()
            .put("timed Interpreter.run on the preprocessed sample.png; preprocessing excluded")
        if (eval != null) notes.put("accuracy through the app's own preprocessing of the bundled eval set")
        return JSONObject()
            .put("schema", SCHEMA)
            .put("status", "ok")
            .put("error", JSONObject.NULL)
            .put("model", c.modelName)
            .put("artifact", AssetNames.MODEL)
            .put("format", c.target)
            .put("runtime", runtime)
            .put("precision", c.precision)
            .put("routing", c.routing)
            .put("batch", batch)
            .put("latency_ms", latency)
            .put("throughput_ips", JSONObject().put(batch.toString(), batch * MS_PER_S / stats.p50))
            .put("load_time_ms", classifier.loadTimeMs)
            .put("peak_rss_mb", peakRssMb() ?: JSONObject.NULL)
            .put("size_bytes", classifier.modelSizeBytes)
            .put("accuracy", eval?.accuracy ?: JSONObject.NULL)
            .put("eval_set", eval?.let { JSONObject().put("name", it.name).put("n", it.n) } ?: JSONObject.NULL)
            .put("top1_agreement", JSONObject.NULL)
            .put("max_abs_diff", JSONObject.NULL)
            .put("reference", JSONObject.NULL)
            .put("validation", c.validation)
            .put("machine", machine())
            .put("device", "android:${slug(Build.MODEL)}")
            .put("source", SOURCE)
            .put("timestamp", isoNow())
            .put("edgevit_version", c.edgevitVersion)
            .put("notes", notes)
    }

    /** The keys of `edgevit.runtimes.machine.machine_facts()` plus `name`, as the adb harness fills them. */
    fun machine(): JSONObject = JSONObject()
        .put("cpu", socName())
        .put("cores", Runtime.getRuntime().availableProcessors())
        .put("arch", Build.SUPPORTED_ABIS.firstOrNull() ?: "unknown")
        .put("os", "Android ${Build.VERSION.RELEASE} (SDK ${Build.VERSION.SDK_INT})")
        .put("python", JSONObject.NULL)
        .put("hostname", "${Build.MANUFACTURER} ${Build.MODEL}")
        .put("name", slug(Build.MODEL))

    /** Peak resident set (VmHWM in /proc/self/status), in MB. */
    fun peakRssMb(): Double? = try {
        File("/proc/self/status").readLines()
            .firstOrNull { it.startsWith("VmHWM:") }
            ?.split(Regex("\\s+"))?.getOrNull(1)?.toDoubleOrNull()
            ?.let { it / KIB_PER_MIB }
    } catch (e: Exception) {
        null
    }

    /** `edgevit.runtimes.machine.slug`: letters, digits, '.', '_'; anything else becomes '-'. */
    fun slug(text: String): String =
        Regex("[^A-Za-z0-9._]+").replace(text, "-").trim('-', '.').take(SLUG_LIMIT).ifEmpty { "unknown" }

    private fun socName(): String =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE

    private fun isoNow(): String {
        val f = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ssXXX", Locale.US)
        f.timeZone = TimeZone.getTimeZone("UTC")
        return f.format(Date())
    }

    private const val MS_PER_S = 1000.0
    private const val KIB_PER_MIB = 1024.0
    private const val SLUG_LIMIT = 40
}
