package dev.edgevit.sample

import kotlin.math.floor

/**
 * Everything the app needs to turn pixels into model input, read from `assets/edgevit.json`
 * (its `preprocess` block and `input.layout`). No size, mean or scale is written in app code.
 */
class PreprocessSpec(
    val height: Int,
    val width: Int,
    val channels: Int,
    val mean: FloatArray,
    val std: FloatArray,
    val resize: String,
    val scale: Float,
    val layout: String,
) {
    init {
        require(height > 0 && width > 0) { "preprocess.size must be positive, got [$height, $width]" }
        require(channels == 1 || channels == 3) { "preprocess.channels must be 1 or 3, got $channels" }
        require(mean.size == channels && std.size == channels) { "mean/std need one value per channel" }
        require(resize == RESIZE_BILINEAR || resize == RESIZE_NEAREST) { "unknown resize rule '$resize'" }
        require(layout == LAYOUT_NCHW || layout == LAYOUT_NHWC) { "unknown input layout '$layout'" }
    }

    /** Number of floats in one preprocessed image. */
    val size: Int get() = channels * height * width

    companion object {
        const val RESIZE_BILINEAR = "bilinear"
        const val RESIZE_NEAREST = "nearest"
        const val LAYOUT_NCHW = "NCHW"
        const val LAYOUT_NHWC = "NHWC"
    }
}

/**
 * The contract's preprocessing, step for step as `edgevit.runtimes.contract.preprocess_images` does it
 * (mirrored in Python by `apps/reference_preprocess.py`, which a test feeds to a real exported model):
 *
 * 1. ARGB pixels -> float planes (alpha dropped; an image with R == G == B everywhere is one grey plane);
 * 2. resize each plane: bilinear with half-pixel centres and no antialias (torch's align_corners=False),
 *    rows first then columns, in float32; or nearest. `Bitmap.createScaledBitmap` is NOT used: its filter
 *    is a different bilinear;
 * 3. grey -> repeated to 3 channels, or RGB -> (r + g + b) / 3 when the model wants 1;
 * 4. v * scale, then (v - mean[c]) / std[c];
 * 5. packed for batch 1 in the contract's layout (NCHW or NHWC).
 *
 * Pure Kotlin (no android.*) so it runs in JVM unit tests.
 */
class Preprocessor(val spec: PreprocessSpec) {

    /** `argb` is row-major ARGB_8888, as `Bitmap.getPixels(argb, 0, width, 0, 0, width, height)` fills it. */
    fun process(argb: IntArray, width: Int, height: Int): FloatArray {
        require(argb.size == width * height) { "expected ${width * height} pixels, got ${argb.size}" }
        val planes = unpack(argb)
        val resized = Array(planes.size) { resizePlane(planes[it], height, width) }
        val channels = matchChannels(resized)
        return normalizeAndPack(channels)
    }

    /** Step 1: ARGB ints -> one grey plane or R, G, B planes. */
    fun unpack(argb: IntArray): Array<FloatArray> {
        val n = argb.size
        val r = FloatArray(n)
        val g = FloatArray(n)
        val b = FloatArray(n)
        var grey = true
        for (i in 0 until n) {
            val p = argb[i]
            val ri = (p shr 16) and 0xFF
            val gi = (p shr 8) and 0xFF
            val bi = p and 0xFF
            if (ri != gi || gi != bi) grey = false
            r[i] = ri.toFloat()
            g[i] = gi.toFloat()
            b[i] = bi.toFloat()
        }
        return if (grey) arrayOf(r) else arrayOf(r, g, b)
    }

    /** Step 2: one plane (inH x inW, row-major) -> spec.height x spec.width. */
    fun resizePlane(plane: FloatArray, inH: Int, inW: Int): FloatArray {
        val outH = spec.height
        val outW = spec.width
        if (inH == outH && inW == outW) return plane
        val out = FloatArray(outH * outW)
        if (spec.resize == PreprocessSpec.RESIZE_NEAREST) {
            val ys = nearestTaps(inH, outH)
            val xs = nearestTaps(inW, outW)
            for (oy in 0 until outH) for (ox in 0 until outW) out[oy * outW + ox] = plane[ys[oy] * inW + xs[ox]]
            return out
        }
        val ty = BilinearTaps(inH, outH)
        val tx = BilinearTaps(inW, outW)
        val rows = FloatArray(outH * inW) // pass 1: rows
        for (oy in 0 until outH) {
            val a = ty.i0[oy] * inW
            val b = ty.i1[oy] * inW
            val w1 = ty.w1[oy]
            val w0 = 1f - w1
            for (x in 0 until inW) rows[oy * inW + x] = plane[a + x] * w0 + plane[b + x] * w1
        }
        for (oy in 0 until outH) { // pass 2: columns
            val base = oy * inW
            for (ox in 0 until outW) {
                val w1 = tx.w1[ox]
                val w0 = 1f - w1
                out[oy * outW + ox] = rows[base + tx.i0[ox]] * w0 + rows[base + tx.i1[ox]] * w1
            }
        }
        return out
    }

    /** Step 3: as many planes as the model wants. */
    fun matchChannels(planes: Array<FloatArray>): Array<FloatArray> {
        if (spec.channels == 3 && planes.size == 1) return arrayOf(planes[0], planes[0], planes[0])
        if (spec.channels == 1 && planes.size == 3) {
            val r = planes[0]
            val g = planes[1]
            val b = planes[2]
            return arrayOf(FloatArray(r.size) { (r[it] + g[it] + b[it]) / 3f })
        }
        return planes
    }

    /** Steps 4 and 5: scale, mean/std, layout. */
    fun normalizeAndPack(planes: Array<FloatArray>): FloatArray {
        val c = spec.channels
        val hw = spec.height * spec.width
        val out = FloatArray(c * hw)
        val nhwc = spec.layout == PreprocessSpec.LAYOUT_NHWC
        for (ch in 0 until c) {
            val plane = planes[ch]
            val mean = spec.mean[ch]
            val std = spec.std[ch]
            for (i in 0 until hw) {
                val v = (plane[i] * spec.scale - mean) / std
                if (nhwc) out[i * c + ch] = v else out[ch * hw + i] = v
            }
        }
        return out
    }

    /** Half-pixel bilinear taps (double coordinates, float weights), as torch's align_corners=False. */
    private class BilinearTaps(inSize: Int, outSize: Int) {
        val i0 = IntArray(outSize)
        val i1 = IntArray(outSize)
        val w1 = FloatArray(outSize)

        init {
            val scale = inSize.toDouble() / outSize.toDouble()
            for (o in 0 until outSize) {
                val src = maxOf((o + 0.5) * scale - 0.5, 0.0)
                val lo = minOf(floor(src).toInt(), inSize - 1)
                i0[o] = lo
                i1[o] = minOf(lo + 1, inSize - 1)
                w1[o] = (src - lo).toFloat()
            }
        }
    }

    private fun nearestTaps(inSize: Int, outSize: Int): IntArray {
        val ratio = inSize.toDouble() / outSize.toDouble()
        return IntArray(outSize) { minOf(floor(it * ratio).toInt(), inSize - 1) }
    }
}
