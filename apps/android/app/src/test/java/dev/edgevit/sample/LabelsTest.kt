package dev.edgevit.sample

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The labels.txt rule, on the cases edgevit's Python writes into preprocess_golden.json (the same cases the
 * iOS app's tests and Python's `parse_labels` test read).
 */
class LabelsTest {

    @Test
    fun parseLabelsFollowsTheSharedRule() {
        val stream = javaClass.classLoader!!.getResourceAsStream("preprocess_golden.json")
        val cases = JSONObject(stream.bufferedReader().use { it.readText() }).getJSONArray("labels")
        assertTrue(cases.length() > 0)
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            val expected = case.getJSONArray("expected").let { a -> List(a.length()) { a.getString(it) } }
            val text = case.getString("text")
            assertEquals("parseLabels(${JSONObject.quote(text)})", expected, parseLabels(text))
        }
    }
}
