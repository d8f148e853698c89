package dev.edgevit.sample

import kotlin.math.floor
import kotlin.math.sqrt

/**
 * Latency statistics in edgevit's bench schema (`latency_ms`), as `edgevit.runtimes.bench.latency_stats`
 * computes them: percentiles interpolate linearly between order statistics (numpy's default), std is the
 * sample std (ddof = 1; 0 for one run), and the trimmed mean drops [TRIM_FRACTION] of the runs at each end
 * (ModelBench-style).
 */
class LatencyStats(
    val p50: Double,
    val p90: Double,
    val p99: Double,
    val mean: Double,
    val trimmedMean: Double,
    val std: Double,
    val min: Double,
    val max: Double,
    val runs: Int,
) {
    companion object {
        const val TRIM_FRACTION = 0.1

        fun of(samplesMs: DoubleArray): LatencyStats {
            require(samplesMs.isNotEmpty()) { "no timed runs" }
            val s = samplesMs.sortedArray()
            val n = s.size
            val mean = s.sum() / n
            var sq = 0.0
            for (v in s) sq += (v - mean) * (v - mean)
            val cut = floor(n * TRIM_FRACTION).toInt()
            val kept = if (n - 2 * cut > 0) s.copyOfRange(cut, n - cut) else s
            return LatencyStats(
                p50 = percentile(s, 50.0),
                p90 = percentile(s, 90.0),
                p99 = percentile(s, 99.0),
                mean = mean,
                trimmedMean = kept.sum() / kept.size,
                std = if (n > 1) sqrt(sq / (n - 1)) else 0.0,
                min = s.first(),
                max = s.last(),
                runs = n,
            )
        }

        /** `np.percentile(x, q)` with linear interpolation, on an already sorted array. */
        fun percentile(sorted: DoubleArray, q: Double): Double {
            if (sorted.size == 1) return sorted[0]
            val pos = q / 100.0 * (sorted.size - 1)
            val lo = floor(pos).toInt()
            val hi = minOf(lo + 1, sorted.size - 1)
            val frac = pos - lo
            return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}
