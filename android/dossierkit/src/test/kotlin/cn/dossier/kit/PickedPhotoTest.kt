package cn.dossier.kit

import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * Which picked photos the Android app turns into JPEG before core sees them (`PickedPhoto`): the
 * formats core refuses and the phone decodes, judged by their first bytes as core judges them.
 */
class PickedPhotoTest {
    /** An ISO-BMFF file's first box: size, `ftyp`, the major brand, then a minor version. */
    private fun ftyp(brand: String) = byteArrayOf(0, 0, 0, 0x18) + "ftyp$brand".toByteArray() + ByteArray(8)

    private val jpeg = byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte(), 0xE1.toByte()) + ByteArray(8)
    private val png = byteArrayOf(0x89.toByte(), 'P'.code.toByte(), 'N'.code.toByte(), 'G'.code.toByte(), 0x0D, 0x0A, 0x1A, 0x0A) + ByteArray(4)

    @Test
    fun anIphonePhotoIsConvertedWhateverTheGallerySaysItIs() {
        assertTrue(PickedPhoto.needsJpeg("image/heic", ftyp("heic")))
        assertTrue("shared without a type", PickedPhoto.needsJpeg(null, ftyp("heic")))
        assertTrue("labelled as a JPEG by a file manager", PickedPhoto.needsJpeg("image/jpeg", ftyp("heic")))
        assertTrue("an Android camera's HEIF", PickedPhoto.needsJpeg("image/heif", ftyp("mif1")))
        assertTrue(PickedPhoto.needsJpeg("image/avif", ftyp("avif")))
    }

    @Test
    fun aWebpIsConverted() {
        val webp = "RIFF".toByteArray() + byteArrayOf(0x24, 0, 0, 0) + "WEBPVP8 ".toByteArray()
        assertTrue(PickedPhoto.needsJpeg(null, webp))
    }

    @Test
    fun jpegAndPngGoToCoreAsTheyAre() {
        assertFalse(PickedPhoto.needsJpeg("image/jpeg", jpeg))
        assertFalse("a JPEG mislabelled HEIC is still a JPEG", PickedPhoto.needsJpeg("image/heic", jpeg))
        assertFalse(PickedPhoto.needsJpeg("image/png", png))
    }

    @Test
    fun theReportedTypeDecidesOnlyWhenTheBytesNameNothing() {
        assertTrue("a HEIF brand not listed", PickedPhoto.needsJpeg("image/heif; charset=binary", ftyp("MiHE")))
        assertTrue("too short to tell", PickedPhoto.needsJpeg("IMAGE/HEIC", byteArrayOf(0, 0)))
        assertFalse("a video's ftyp is core's to refuse", PickedPhoto.needsJpeg("video/mp4", ftyp("isom")))
        assertFalse("not an image: core names it", PickedPhoto.needsJpeg("text/plain", "hello, world".toByteArray()))
        assertFalse(PickedPhoto.needsJpeg(null, ByteArray(0)))
    }
}
