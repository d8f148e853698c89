package dev.edgevit.sample

import android.content.Context
import android.graphics.Bitmap
import android.os.SystemClock
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import kotlin.math.exp

/** One label with its softmax probability. */
class Prediction(val label: String, val probability: Float)

/** Top-k predictions and where the time went. */
class Classification(val top: List<Prediction>, val preprocessMs: Double, val inferenceMs: Double)

/**
 * Loads the asset bundle (`model.tflite`, `labels.txt`, `edgevit.json`), checks that the model matches its
 * contract, and runs it with the LiteRT interpreter. Not thread-safe: use one instance per thread.
 */
class EdgeVitClassifier private constructor(
    val contract: EdgeVitContract,
    val labels: List<String>,
    private val interpreter: Interpreter,
    val modelSizeBytes: Long,
    val loadTimeMs: Double,
    val threads: Int,
) : Closeable {

    val preprocessor = Preprocessor(contract.preprocess)
    private val input: ByteBuffer = directFloats(contract.preprocess.size)
    private val outputSize = interpreter.getOutputTensor(0).numElements()
    private val output: ByteBuffer = directFloats(outputSize)

    /** Bitmap -> model input, exactly as the contract says (see [Preprocessor]). */
    fun preprocess(bitmap: Bitmap): FloatArray {
        val argbBitmap = if (bitmap.config == Bitmap.Config.ARGB_8888) {
            bitmap
        } else {
            bitmap.copy(Bitmap.Config.ARGB_8888, false) ?: throw IllegalArgumentException("cannot convert the image to ARGB_8888")
        }
        val w = argbBitmap.width
        val h = argbBitmap.height
        val pixels = IntArray(w * h)
        argbBitmap.getPixels(pixels, 0, w, 0, 0, w, h)
        return preprocessor.process(pixels, w, h)
    }

    /** One forward pass on an already preprocessed input; returns the logits. */
    fun run(x: FloatArray): FloatArray {
        input.rewind()
        input.asFloatBuffer().put(x)
        output.rewind()
        interpreter.run(input, output)
        output.rewind()
        val logits = FloatArray(outputSize)
        output.asFloatBuffer().get(logits)
        return logits
    }

    fun classify(bitmap: Bitmap, k: Int = 3): Classification {
        val t0 = SystemClock.elapsedRealtimeNanos()
        val x = preprocess(bitmap)
        val t1 = SystemClock.elapsedRealtimeNanos()
        val logits = run(x)
        val t2 = SystemClock.elapsedRealtimeNanos()
        return Classification(topK(logits, k), (t1 - t0) / NANOS_PER_MS, (t2 - t1) / NANOS_PER_MS)
    }

    fun topK(logits: FloatArray, k: Int): List<Prediction> {
        val maxLogit = logits.maxOrNull() ?: return emptyList()
        val e = FloatArray(logits.size) { exp(logits[it] - maxLogit) }
        val total = e.sum()
        return e.indices.sortedByDescending { e[it] }.take(k).map { Prediction(labels[it], e[it] / total) }
    }

    override fun close() = interpreter.close()

    companion object {
        const val NANOS_PER_MS = 1e6

        fun load(context: Context, threads: Int = Runtime.getRuntime().availableProcessors()): EdgeVitClassifier {
            val assets = context.assets
            val contract = EdgeVitContract.parse(assets.open(AssetNames.CONTRACT).bufferedReader().use { it.readText() })
            val labels = parseLabels(assets.open(AssetNames.LABELS).bufferedReader().use { it.readText() })
            check(labels == contract.labels) { "labels.txt does not match the labels in edgevit.json" }

            val t0 = SystemClock.elapsedRealtimeNanos()
            val (model, size) = mapAsset(context, AssetNames.MODEL)
            val interpreter = Interpreter(model, Interpreter.Options().setNumThreads(threads))
            interpreter.allocateTensors()
            val loadMs = (SystemClock.elapsedRealtimeNanos() - t0) / NANOS_PER_MS

            try {
                val inTensor = interpreter.getInputTensor(0)
                check(inTensor.shape().contentEquals(contract.inputShape)) {
                    "model input shape ${inTensor.shape().contentToString()} != contract ${contract.inputShape.contentToString()}"
                }
                check(inTensor.dataType() == DataType.FLOAT32) { "model input is ${inTensor.dataType()}, expected FLOAT32" }
                check(inTensor.numElements() == contract.preprocess.size) { "model input size does not match preprocess" }
                val outTensor = interpreter.getOutputTensor(0)
                check(outTensor.numElements() == labels.size) {
                    "model has ${outTensor.numElements()} outputs but there are ${labels.size} labels"
                }
                check(outTensor.dataType() == DataType.FLOAT32) { "model output is ${outTensor.dataType()}, expected FLOAT32" }
            } catch (e: IllegalStateException) {
                interpreter.close()
                throw e
            }
            return EdgeVitClassifier(contract, labels, interpreter, size, loadMs, threads)
        }

        /** Memory-maps an uncompressed asset (build.gradle.kts keeps `.tflite` uncompressed). */
        private fun mapAsset(context: Context, name: String): Pair<MappedByteBuffer, Long> =
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).use { stream ->
                    stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) to fd.length
                }
            }

        private fun directFloats(n: Int): ByteBuffer =
            ByteBuffer.allocateDirect(n * java.lang.Float.BYTES).order(ByteOrder.nativeOrder())
    }
}
