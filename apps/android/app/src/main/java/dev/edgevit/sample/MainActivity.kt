package dev.edgevit.sample

import android.content.Intent
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ColorSpace
import android.graphics.ImageDecoder
import android.graphics.drawable.BitmapDrawable
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.widget.Button
import android.widget.ImageView
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.util.Locale

/** Classifies the bundled `sample.png` (or a picked photo) and shows the top-3 with latency. */
class MainActivity : ComponentActivity() {

    private lateinit var image: ImageView
    private lateinit var result: TextView
    private var classifier: EdgeVitClassifier? = null

    private val pickPhoto = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) lifecycleScope.launch { classify { decodeUri(uri) } }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        image = findViewById(R.id.image)
        result = findViewById(R.id.result)
        findViewById<Button>(R.id.pick).setOnClickListener {
            pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.benchmark).setOnClickListener {
            startActivity(Intent(this, BenchmarkActivity::class.java))
        }
        lifecycleScope.launch {
            try {
                classifier = withContext(Dispatchers.Default) { EdgeVitClassifier.load(this@MainActivity) }
            } catch (e: Exception) {
                result.text = getString(R.string.no_bundle, e.message ?: e.toString())
                return@launch
            }
            classify { assets.open(AssetNames.SAMPLE).use { decodeArgb(BitmapFactory.decodeStream(it, null, argbOptions())) } }
        }
    }

    private suspend fun classify(load: () -> Bitmap) {
        val c = classifier ?: return
        try {
            val (bitmap, out) = withContext(Dispatchers.Default) {
                val bmp = load()
                bmp to c.classify(bmp)
            }
            // Nearest-neighbour display, so an 8x8 digit stays crisp; the model sees the exact pixels.
            image.setImageDrawable(BitmapDrawable(resources, bitmap).apply { isFilterBitmap = false })
            result.text = format(c, bitmap, out)
        } catch (e: Exception) {
            result.text = getString(R.string.failed, e.message ?: e.toString())
        }
    }

    private fun format(c: EdgeVitClassifier, bitmap: Bitmap, out: Classification): String = buildString {
        appendLine("${c.contract.modelName} (${c.contract.precision}, routing ${c.contract.routing})")
        appendLine("image ${bitmap.width}x${bitmap.height} -> input ${c.contract.inputShape.joinToString("x")} ${c.contract.preprocess.layout}")
        appendLine()
        out.top.forEachIndexed { i, p ->
            appendLine(String.format(Locale.US, "%d. %-12s %6.2f%%", i + 1, p.label, p.probability * PERCENT))
        }
        appendLine()
        appendLine(String.format(Locale.US, "preprocess %.2f ms, inference %.2f ms (%d threads)", out.preprocessMs, out.inferenceMs, c.threads))
    }

    private fun decodeUri(uri: Uri): Bitmap =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            // ImageDecoder applies EXIF orientation; a software sRGB bitmap lets getPixels read it.
            ImageDecoder.decodeBitmap(ImageDecoder.createSource(contentResolver, uri)) { decoder, _, _ ->
                decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
                decoder.setTargetColorSpace(ColorSpace.get(ColorSpace.Named.SRGB))
            }
        } else {
            contentResolver.openInputStream(uri).use { decodeArgb(BitmapFactory.decodeStream(it, null, argbOptions())) }
        }

    private fun argbOptions() = BitmapFactory.Options().apply {
        inPreferredConfig = Bitmap.Config.ARGB_8888
        inScaled = false
    }

    private fun decodeArgb(bitmap: Bitmap?): Bitmap = bitmap ?: throw IllegalArgumentException("cannot decode the image")

    override fun onDestroy() {
        classifier?.close()
        super.onDestroy()
    }

    private companion object {
        const val PERCENT = 100f
    }
}
