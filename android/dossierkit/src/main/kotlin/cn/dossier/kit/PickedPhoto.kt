package cn.dossier.kit

/**
 * A photo the system picker gave, before core sees it. Core accepts JPEG and PNG only and refuses
 * HEIC, which is how many phones (and every iPhone photo shared over) store pictures; the phone
 * itself decodes those, so the app converts them to JPEG first (Android: `ImageDecoder`, API 28+)
 * rather than showing the candidate a refusal. This file holds the decision, the app the decoding.
 */
object PickedPhoto {
    /** How many first bytes [needsJpeg] reads: an ISO-BMFF `ftyp` box's size, type and brand. */
    const val HEAD_BYTES = 12

    /** ISO-BMFF brands of HEIF (HEIC) and AVIF, the formats core names and refuses. */
    private val convertedBrands = setOf(
        "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis",
    )

    /** MIME types the picker reports for those formats (and WebP, which core refuses as well). */
    private val convertedTypes = setOf(
        "image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence", "image/avif", "image/webp",
    )

    /**
     * Whether the photo whose first bytes are [head] (at least [HEAD_BYTES] when the file has them)
     * and whose reported type is [mimeType] must become a JPEG before core prepares it. The bytes
     * decide when they name a format, as core itself decides (a JPEG labelled HEIC is kept); the
     * reported type only when they do not. Anything else is left to core, which names what it
     * refuses.
     */
    fun needsJpeg(mimeType: String?, head: ByteArray): Boolean {
        when {
            head.startsWith(0xFF, 0xD8, 0xFF) -> return false // JPEG
            head.startsWith(0x89, 'P'.code, 'N'.code, 'G'.code) -> return false
            head.ascii(4, 8) == "ftyp" && head.ascii(8, 12) in convertedBrands -> return true
            head.ascii(0, 4) == "RIFF" && head.ascii(8, 12) == "WEBP" -> return true
        }
        return mimeType?.lowercase()?.substringBefore(';')?.trim() in convertedTypes
    }

    private fun ByteArray.startsWith(vararg bytes: Int): Boolean =
        size >= bytes.size && bytes.indices.all { this[it] == bytes[it].toByte() }

    private fun ByteArray.ascii(from: Int, to: Int): String? =
        if (size >= to) String(this, from, to - from, Charsets.ISO_8859_1) else null
}
