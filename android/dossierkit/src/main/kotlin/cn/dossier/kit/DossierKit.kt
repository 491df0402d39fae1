package cn.dossier.kit

import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.withContext

/**
 * The idiomatic layer over the generated bindings (`dossier_ffi.kt`): a Flow of the queue's events,
 * a queue run that stops with its coroutine, and the photo pipeline off the caller's thread (the
 * page's outline is in `PageOutline.kt`, the screens' logic in `CandidatePresenter.kt`). Written
 * against `DossierAppInterface`, so a fake of it drives the same code in the presenter's tests.
 * Plain Kotlin and coroutines, no Android API, so the JVM tests compile and run it as the app does.
 */

/**
 * Run the upload queue; when the calling coroutine is cancelled (WorkManager stopped the worker,
 * the screen went away) the Rust run is stopped as well ([DossierAppInterface.stopQueue]): the
 * upload under way is cut off and waits again, sent under its key by a later run, instead of going
 * on unseen.
 */
suspend fun DossierAppInterface.runQueueStoppable(connection: Connection, wifiOnly: Boolean): RunOutcome =
    try {
        runQueue(connection, wifiOnly)
    } catch (e: CancellationException) {
        stopQueue()
        throw e
    }

/** One change of the upload queue, as a screen or the worker's notification shows it. */
sealed interface QueueEvent {
    data class PhotoChanged(val photo: QueuedPhoto) : QueueEvent
    data class Progress(val id: Long, val sent: ULong, val total: ULong) : QueueEvent
    data class PageChanged(val page: DossierPage) : QueueEvent
}

/**
 * The queue's events while collected: collecting subscribes, and the collector's cancellation
 * closes the subscription. Events come on the thread that made them; the buffer is unbounded so
 * none is lost while the collector is busy (a few per photo and one progress event per 16 KB
 * sent, about 13 for a 200 KB photo).
 */
fun DossierAppInterface.events(): Flow<QueueEvent> = callbackFlow {
    val subscription = subscribe(object : QueueEvents {
        override fun photoChanged(photo: QueuedPhoto) {
            trySend(QueueEvent.PhotoChanged(photo))
        }

        override fun uploadProgress(id: Long, sent: ULong, total: ULong) {
            trySend(QueueEvent.Progress(id, sent, total))
        }

        override fun dossierChanged(page: DossierPage) {
            trySend(QueueEvent.PageChanged(page))
        }
    })
    awaitClose { subscription.close() }
}.buffer(Channel.UNLIMITED)

/**
 * Prepare the photo at [path] (its page found and flattened as [framing] says, upright,
 * metadata-free, within 200 KB) on a background thread: a 12-megapixel photo takes about a tenth
 * of a second of CPU on a desktop, longer on a phone. [PageOutline] gives the framing.
 */
suspend fun preparePhotoInBackground(path: String, document: Document, framing: Framing): PreparedPhoto =
    withContext(Dispatchers.Default) { preparePhoto(path, document, framing) }

/** The slots of a material in order, each with its image or empty, as the materials list draws them. */
fun MaterialCard.slots(): List<SlotImage?> =
    (0 until maxImages.toInt()).map { slot -> images.firstOrNull { it.slot.toInt() == slot } }

/** The label of a slot: its own name when the category has them (ID card: 正面, 反面). */
fun MaterialCard.slotLabel(slot: Int): String = slotLabels.getOrNull(slot) ?: "${slot + 1}"
