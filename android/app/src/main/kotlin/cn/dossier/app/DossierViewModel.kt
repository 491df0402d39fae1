package cn.dossier.app

import android.app.Application
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.asImageBitmap
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import cn.dossier.kit.Activation
import cn.dossier.kit.Document
import cn.dossier.kit.DossierException
import cn.dossier.kit.DossierPage
import cn.dossier.kit.EntryResult
import cn.dossier.kit.Framing
import cn.dossier.kit.Message
import cn.dossier.kit.PageOutline
import cn.dossier.kit.PreparedPhoto
import cn.dossier.kit.QueueEvent
import cn.dossier.kit.QueuedPhoto
import cn.dossier.kit.events
import cn.dossier.kit.preparePhotoInBackground
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** A photo prepared and shown to the candidate, stored only when they confirm. */
data class PendingPhoto(
    val category: String,
    val slot: UInt?,
    val replaces: String?,
    /** The picked photo, kept in the cache to prepare again until it is confirmed or discarded. */
    val source: File,
    val document: Document,
    val prepared: PreparedPhoto,
    /** How [prepared] was framed; while it differs from [outline]'s, a new one is being prepared. */
    val framing: Framing,
    val preview: ImageBitmap,
    /** The whole photo upright, scaled down, for the outline; none for a photo of a person. */
    val frame: ImageBitmap?,
    /** The page's outline as the candidate adjusts it ("adjust the page"). */
    val outline: PageOutline,
) {
    /** The prepared photo is the one the screen's outline says: it may be confirmed. */
    val current: Boolean get() = framing == outline.framing
}

data class UiState(
    val signedIn: Boolean = false,
    val activation: EntryResult.ActivationNeeded? = null,
    val page: DossierPage? = null,
    val photos: List<QueuedPhoto> = emptyList(),
    /** Upload progress of queued photos, 0..1. */
    val progress: Map<Long, Float> = emptyMap(),
    val messages: List<Message> = emptyList(),
    val thumbnails: Map<String, ImageBitmap> = emptyMap(),
    val pending: PendingPhoto? = null,
    val busy: Boolean = false,
    /** One message for the candidate (a refusal's reason, "上报完成，内容已锁定"). */
    val notice: String? = null,
)

/**
 * The screens' state over the one `DossierApp`. Every decision (may this upload, what is missing,
 * what a refusal means) comes from core through the bindings; this only keeps what the screens show.
 */
class DossierViewModel(application: Application) : AndroidViewModel(application) {
    private val app = application as DossierApplication
    private val dossier = app.dossier
    private val _state = MutableStateFlow(UiState(signedIn = dossier.isSignedIn(), page = runCatching { dossier.cachedPage() }.getOrNull()))
    val state: StateFlow<UiState> = _state

    init {
        viewModelScope.launch {
            dossier.events().collect { event ->
                when (event) {
                    is QueueEvent.PhotoChanged -> _state.update { it.copy(photos = dossier.photos()) }
                    is QueueEvent.Progress -> _state.update {
                        it.copy(progress = it.progress + (event.id to event.sent.toFloat() / event.total.coerceAtLeast(1u).toFloat()))
                    }
                    is QueueEvent.PageChanged -> showPage(event.page)
                }
            }
        }
        if (dossier.isSignedIn()) refresh()
    }

    fun refresh() = act {
        showPage(dossier.refresh())
        val messages = dossier.messages().sortedWith(compareBy<Message> { it.read }.thenByDescending { it.createdAt })
        _state.update { it.copy(messages = messages, photos = dossier.photos()) }
    }

    fun signIn(username: String, password: String) = act {
        dossier.signIn(username, password)
        signedIn()
    }

    /** The registration site's link (dossier://enter?ticket=…) or its ticket pasted. */
    fun enter(ticket: String) = act {
        when (val entry = dossier.enter(ticket.substringAfter("ticket=").trim())) {
            is EntryResult.ActivationNeeded -> _state.update { it.copy(activation = entry) }
            is EntryResult.SignedIn -> signedIn()
        }
    }

    fun activate(activation: Activation) = act {
        dossier.activate(activation)
        _state.update { it.copy(activation = null) }
        signedIn()
    }

    fun signOut() = act {
        dossier.signOut()
        _state.value = UiState()
    }

    /**
     * Prepare the photo the picker or the camera gave, its page found (a photo of a person kept
     * whole); the candidate sees it, and may adjust the page, before it is stored.
     */
    fun prepare(uri: Uri, category: String, slot: UInt?, replaces: String?) = act {
        val file = withContext(Dispatchers.IO) { copyToCache(uri) }
        var kept = false
        try {
            val document = if (category == "id_card") Document.ID_CARD else Document.A4
            val wholeFrame = _state.value.page?.materials?.firstOrNull { it.category == category }?.wholeFrame == true
            val prepared = preparePhotoInBackground(file.path, document, PageOutline.firstFraming(wholeFrame))
            val outline = PageOutline.of(prepared, wholeFrame)
            val preview = withContext(Dispatchers.Default) { imageOf(prepared.jpeg) }
            val frame = if (wholeFrame) null else withContext(Dispatchers.Default) { uprightFrame(file, prepared.sourceOrientation.toInt()) }
            val pending = PendingPhoto(category, slot, replaces, file, document, prepared, outline.framing, preview, frame, outline)
            _state.update { it.copy(pending = pending) }
            kept = true
        } finally {
            if (!kept) file.delete()
        }
    }

    /**
     * The outline settled (a handle let go, "use whole photo" switched): kept, and the photo
     * prepared again when its framing changed. A result the outline has moved on from is dropped.
     */
    fun reframe(outline: PageOutline) {
        val pending = _state.value.pending ?: return
        _state.update { s -> s.copy(pending = s.pending?.copy(outline = outline)) }
        val framing = outline.framing
        if (framing == pending.framing) return
        act {
            val prepared = preparePhotoInBackground(pending.source.path, pending.document, framing)
            val preview = withContext(Dispatchers.Default) { imageOf(prepared.jpeg) }
            _state.update { s ->
                val now = s.pending
                if (now == null || now.source != pending.source || now.outline.framing != framing) s
                else s.copy(pending = now.copy(prepared = prepared, framing = framing, preview = preview))
            }
        }
    }

    /** Confirmed: stored in the queue on the phone, then uploaded by the worker (at once). */
    fun confirmPending() = act {
        val pending = _state.value.pending?.takeIf { it.current } ?: return@act
        dossier.enqueue(pending.category, pending.prepared.jpeg, pending.slot, pending.replaces)
        _state.update { it.copy(pending = null, photos = dossier.photos()) }
        pending.source.delete()
        UploadWorker.schedule(app, expedited = true)
    }

    fun discardPending() {
        _state.value.pending?.source?.delete()
        _state.update { it.copy(pending = null) }
    }

    override fun onCleared() {
        _state.value.pending?.source?.delete()
    }

    fun delete(imageId: String) = act {
        dossier.deleteImage(imageId)
        showPage(dossier.refresh())
    }

    fun cancelUpload(id: Long) = act {
        dossier.cancel(id)
        _state.update { it.copy(photos = dossier.photos()) }
    }

    fun submit() = act {
        val receipt = dossier.submit()
        showPage(dossier.refresh())
        _state.update { it.copy(notice = receipt.ifEmpty { app.getString(R.string.submit_done) }) }
    }

    fun markRead(message: Message) = act {
        if (!message.read) dossier.markRead(message.id)
        _state.update { s -> s.copy(messages = s.messages.map { if (it.id == message.id) it.copy(read = true) else it }) }
    }

    fun dismissNotice() = _state.update { it.copy(notice = null) }

    private fun signedIn() {
        _state.update { it.copy(signedIn = true) }
        PushService.registerCurrentToken(app)
        UploadWorker.schedule(app, expedited = false)
        refresh()
    }

    private suspend fun showPage(page: DossierPage) {
        _state.update { it.copy(page = page) }
        // Thumbnails of images not fetched yet (each ≤200 KB, fetched once).
        for (image in page.materials.flatMap { it.images }) {
            if (image.id in _state.value.thumbnails) continue
            val bytes = runCatching { dossier.image(image.id) }.getOrNull() ?: continue
            val bitmap = withContext(Dispatchers.Default) {
                BitmapFactory.decodeByteArray(bytes, 0, bytes.size, BitmapFactory.Options().apply { inSampleSize = 4 })
            } ?: continue
            _state.update { it.copy(thumbnails = it.thumbnails + (image.id to bitmap.asImageBitmap())) }
        }
    }

    private fun imageOf(jpeg: ByteArray): ImageBitmap = BitmapFactory.decodeByteArray(jpeg, 0, jpeg.size).asImageBitmap()

    /**
     * The photo at [file] upright and at most about 2048 px a side, to draw the outline over. Core's
     * corners are fractions of the photo with its EXIF [orientation] (1-8) applied; BitmapFactory
     * ignores the tag, so the same turn and mirror are applied here.
     */
    private fun uprightFrame(file: File, orientation: Int): ImageBitmap? {
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

    private fun copyToCache(uri: Uri): File {
        val dir = File(app.cacheDir, "photos").apply { mkdirs() }
        val file = File.createTempFile("pick", ".img", dir)
        val input = runCatching { app.contentResolver.openInputStream(uri) }.getOrNull()
            ?: throw DossierException.InvalidPhoto("not_an_image", app.getString(R.string.error_storage))
        input.use { stream -> file.outputStream().use { stream.copyTo(it) } }
        return file
    }

    /** Runs a call; a refusal becomes the notice, a lost session the sign-in screen. */
    private fun act(block: suspend () -> Unit) {
        viewModelScope.launch {
            _state.update { it.copy(busy = true) }
            try {
                block()
            } catch (e: DossierException) {
                _state.update { it.copy(notice = describe(e), signedIn = e !is DossierException.SignedOut && it.signedIn) }
            } finally {
                _state.update { it.copy(busy = false) }
            }
        }
    }

    private fun describe(e: DossierException): String = when (e) {
        is DossierException.Network -> app.getString(R.string.error_network)
        is DossierException.SignedOut -> app.getString(R.string.error_signed_out)
        is DossierException.Locked -> e.reason.ifEmpty { app.getString(R.string.error_locked) }
        is DossierException.Refused -> e.reason
        is DossierException.InvalidPhoto -> e.reason
        is DossierException.Storage -> app.getString(R.string.error_storage)
        is DossierException.Bug -> e.reason
    }
}
