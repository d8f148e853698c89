package dev.edgevit.sample

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * Golden cases written by edgevit's Python mirror of this preprocessing (apps/reference_preprocess.py,
 * regenerated and checked by tests/apps): the Kotlin code must give the same floats, bit for bit.
 */
class PreprocessorTest {

    private val golden: JSONObject by lazy {
        val stream = javaClass.classLoader!!.getResourceAsStream("preprocess_golden.json")
        JSONObject(stream.bufferedReader().use { it.readText() })
    }

    @Test
    fun matchesPythonMirrorBitForBit() {
        val cases = golden.getJSONArray("cases")
        assertTrue(cases.length() > 0)
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            val contract = EdgeVitContract.parse(case.getJSONObject("contract").toString())
            val argb = ints(case.getJSONArray("argb"))
            val out = Preprocessor(contract.preprocess).process(argb, case.getInt("width"), case.getInt("height"))
            val expected = case.getJSONArray("expected")
            assertEquals(case.getString("name"), expected.length(), out.size)
            for (j in out.indices) {
                val want = expected.getDouble(j).toFloat()
                assertEquals("${case.getString("name")}[$j]", want.toRawBits(), out[j].toRawBits())
            }
        }
    }

    @Test
    fun latencyStatsMatchNumpy() {
        val cases = golden.getJSONArray("stats")
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            val samples = case.getJSONArray("samples").let { a -> DoubleArray(a.length()) { a.getDouble(it) } }
            val want = case.getJSONObject("expected")
            val s = LatencyStats.of(samples)
            val tol = 1e-9
            assertEquals(want.getDouble("p50"), s.p50, tol)
            assertEquals(want.getDouble("p90"), s.p90, tol)
            assertEquals(want.getDouble("p99"), s.p99, tol)
            assertEquals(want.getDouble("mean"), s.mean, tol)
            assertEquals(want.getDouble("trimmed_mean"), s.trimmedMean, tol)
            assertEquals(want.getDouble("std"), s.std, tol)
            assertEquals(want.getDouble("min"), s.min, tol)
            assertEquals(want.getDouble("max"), s.max, tol)
            assertEquals(want.getInt("runs"), s.runs)
        }
    }

    @Test
    fun labelsParseOnePerLine() {
        assertEquals(listOf("cat", "dog", "a b"), parseLabels("cat\ndog\r\na b\n"))
    }

    private fun ints(a: JSONArray) = IntArray(a.length()) { a.getInt(it) }
}
