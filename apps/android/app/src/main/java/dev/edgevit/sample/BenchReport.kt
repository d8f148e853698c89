package dev.edgevit.sample

import android.os.Build
import org.json.JSONObject
import org.tensorflow.lite.TensorFlowLite
import java.io.File
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.TimeZone

/** How one benchmark was run. */
class BenchConfig(val warmup: Int, val runs: Int, val threads: Int)

/**
 * One results record in edgevit's bench schema (the same keys `edgevit bench` writes on a desktop or a
 * Raspberry Pi), so `edgevit bench report` can put phone numbers beside them. Fields the app cannot
 * measure (accuracy without an eval set, python) are JSON null.
 */
object BenchReport {
    const val RUNTIME_NAME = "litert-android"
    const val DELEGATE = "xnnpack"

    fun build(
        classifier: EdgeVitClassifier,
        config: BenchConfig,
        stats: LatencyStats,
        accuracy: Double?,
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
            .put("delegate", DELEGATE)
        val batch = c.inputShape.firstOrNull() ?: 1
        return JSONObject()
            .put("model", c.modelName)
            .put("artifact", AssetNames.MODEL)
            .put("runtime", runtime)
            .put("precision", c.precision)
            .put("routing", c.routing)
            .put("batch", batch)
            .put("latency_ms", latency)
            .put("throughput_ips", batch * MS_PER_S / stats.mean)
            .put("load_time_ms", classifier.loadTimeMs)
            .put("peak_rss_mb", peakRssMb() ?: JSONObject.NULL)
            .put("size_bytes", classifier.modelSizeBytes)
            .put("accuracy", accuracy ?: JSONObject.NULL)
            .put("machine", machine())
            .put("timestamp", isoNow())
            .put("edgevit_version", c.edgevitVersion)
    }

    fun machine(): JSONObject = JSONObject()
        .put("cpu", socName())
        .put("cores", Runtime.getRuntime().availableProcessors())
        .put("arch", Build.SUPPORTED_ABIS.firstOrNull() ?: "unknown")
        .put("os", "Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})")
        .put("python", JSONObject.NULL)
        .put("hostname", Build.DEVICE)
        .put("device", "${Build.MANUFACTURER} ${Build.MODEL}")

    /** Peak resident set (VmHWM in /proc/self/status), in MiB. */
    fun peakRssMb(): Double? = try {
        File("/proc/self/status").readLines()
            .firstOrNull { it.startsWith("VmHWM:") }
            ?.split(Regex("\\s+"))?.getOrNull(1)?.toDoubleOrNull()
            ?.let { it / KIB_PER_MIB }
    } catch (e: Exception) {
        null
    }

    private fun socName(): String =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE

    private fun isoNow(): String {
        val f = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.US)
        f.timeZone = TimeZone.getTimeZone("UTC")
        return f.format(Date())
    }

    private const val MS_PER_S = 1000.0
    private const val KIB_PER_MIB = 1024.0
}
