package cn.dossier.app

import android.content.ContentResolver
import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.graphics.Matrix
import android.net.Uri
import android.os.Build
import androidx.annotation.RequiresApi
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.asImageBitmap
import cn.dossier.kit.PickedPhoto
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException
import java.io.InputStream

/**
 * The app's copies of picked photos, in `cache/photos` (where the camera writes through the
 * FileProvider too), and the bitmaps the screens draw. Everything here blocks: the presenter runs
 * the copy on its background dispatcher, the screens decode on `Dispatchers.Default`.
 */
object PhotoFiles {
    /** Long edge of a converted HEIC: core scales down further; a 50 MP photo whole would not fit in memory. */
    private const val MAX_CONVERTED_EDGE = 4096

    fun dir(context: Context): File = File(context.cacheDir, "photos").apply { mkdirs() }

    /** An empty file for the camera to write its photo into. */
    fun forCamera(context: Context): File = File.createTempFile("camera", ".jpg", dir(context))

    /**
     * Copy the picked photo at [uri] into the cache. A HEIC (or AVIF, WebP), which core refuses, is
     * decoded by the system and written as JPEG first; [PickedPhoto.needsJpeg] decides, by the
     * first bytes. Before Android 9 there is no `ImageDecoder`: such a photo is copied as it is and
     * core's refusal names the format.
     */
    fun copy(context: Context, uri: Uri): File {
        val resolver = context.contentResolver
        val head = open(resolver, uri).use { it.head(PickedPhoto.HEAD_BYTES) }
        val file = File.createTempFile("pick", ".img", dir(context))
        try {
            if (PickedPhoto.needsJpeg(resolver.getType(uri), head) && Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                writeJpeg(resolver, uri, file)
            } else {
                open(resolver, uri).use { input -> file.outputStream().use { input.copyTo(it) } }
            }
            return file
        } catch (e: Throwable) {
            file.delete()
            throw e
        }
    }

    /** Copies older than a day: left by a process that ended while a photo was being checked. */
    fun deleteStale(context: Context) {
        val dayAgo = System.currentTimeMillis() - 24 * 60 * 60 * 1000L
        dir(context).listFiles()?.filter { it.lastModified() < dayAgo }?.forEach { it.delete() }
    }

    private fun open(resolver: ContentResolver, uri: Uri): InputStream =
        resolver.openInputStream(uri) ?: throw FileNotFoundException(uri.toString())

    @RequiresApi(Build.VERSION_CODES.P)
    private fun writeJpeg(resolver: ContentResolver, uri: Uri, file: File) {
        // ImageDecoder turns the photo upright by its orientation tag, so the JPEG needs none.
        val bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri)) { decoder, info, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            var sample = 1
            while (maxOf(info.size.width, info.size.height) / sample > MAX_CONVERTED_EDGE) sample *= 2
            decoder.setTargetSampleSize(sample)
        }
        try {
            file.outputStream().use { out ->
                if (!bitmap.compress(Bitmap.CompressFormat.JPEG, 95, out)) throw IOException("JPEG encoding failed")
            }
        } finally {
            bitmap.recycle()
        }
    }

    private fun InputStream.head(count: Int): ByteArray {
        val bytes = ByteArray(count)
        var read = 0
        while (read < count) {
            val n = read(bytes, read, count - read)
            if (n < 0) break
            read += n
        }
        return bytes.copyOf(read)
    }
}

/** An uploaded image's thumbnail (≤200 KB JPEG), at a quarter of its size; none if it does not decode. */
fun decodeThumbnail(jpeg: ByteArray): ImageBitmap? =
    BitmapFactory.decodeByteArray(jpeg, 0, jpeg.size, BitmapFactory.Options().apply { inSampleSize = 4 })?.asImageBitmap()

/** The prepared photo, as it will be uploaded. */
fun decodePrepared(jpeg: ByteArray): ImageBitmap? = BitmapFactory.decodeByteArray(jpeg, 0, jpeg.size)?.asImageBitmap()

/**
 * The photo at [file] upright and at most about 2048 px a side, to draw the outline over. Core's
 * corners are fractions of the photo with its EXIF [orientation] (1-8) applied; BitmapFactory
 * ignores the tag, so the same turn and mirror are applied here.
 */
fun uprightFrame(file: File, orientation: Int): ImageBitmap? {
    val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
    BitmapFactory.decodeFile(file.path, bounds)
    var sample = 1
    while (maxOf(bounds.outWidth, bounds.outHeight) / sample > 2048) sample *= 2
    val bitmap = BitmapFactory.decodeFile(file.path, BitmapFactory.Options().apply { inSampleSize = sample }) ?: return null
    val matrix = Matrix().apply {
        when (orientation) {
            2 -> setScale(-1f, 1f)
            3 -> setRotate(180f)
            4 -> setScale(1f, -1f)
            5 -> { setRotate(90f); postScale(-1f, 1f) }
            6 -> setRotate(90f)
            7 -> { setRotate(-90f); postScale(-1f, 1f) }
            8 -> setRotate(-90f)
        }
    }
    return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, true).asImageBitmap()
}
