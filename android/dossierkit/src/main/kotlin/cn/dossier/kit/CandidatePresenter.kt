package cn.dossier.kit

import java.io.File
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * The candidate's screens as plain Kotlin: who is signed in, the materials page, the upload queue,
 * the photo being checked before it is stored, the questions asked and the notices shown. The
 * Android view model and the Compose screens only draw [CandidatePresenter.state] and forward taps;
 * the iOS app mirrors this in `DossierKit`. Every decision of substance (what may be uploaded, what
 * a refusal means, whose queue it is) comes from core through [DossierAppInterface]; this keeps
 * what the screens show and asks the candidate before anything is lost.
 */

/** Where a picked photo goes: a material's category, one of its slots, or in place of an image. */
data class PhotoTarget(val category: String, val slot: UInt? = null, val replaces: String? = null)

/** Who is at the screen. */
sealed interface Session {
    /** Reading the session and the cached page from the phone, a moment at start. */
    data object Starting : Session

    data object SignedOut : Session

    /** Entered with a ticket for the first time: activation (账号激活) comes first. */
    data class Activating(val activationToken: String, val name: String) : Session

    /** [account] is the username whose session and queue these are (none only from an old version). */
    data class SignedIn(val account: String?) : Session
}

/** A photo prepared and shown to the candidate, stored in the queue only when they confirm. */
data class PendingPhoto(
    val target: PhotoTarget,
    /** The picked photo, copied into the app's cache: prepared again from it until confirmed or discarded. */
    val source: File,
    val document: Document,
    val prepared: PreparedPhoto,
    /** How [prepared] was framed; while it differs from [outline]'s, a new one is being prepared. */
    val framing: Framing,
    /** The page's outline as the candidate adjusts it ("adjust the page"). */
    val outline: PageOutline,
) {
    /** The prepared photo is the one the outline says: it may be confirmed. */
    val current: Boolean get() = framing == outline.framing
}

/** Something to ask before acting, drawn as a dialog; [CandidatePresenter.dismissQuestion] is "cancel". */
sealed interface Question {
    /** Signing out while [unsent] photos still wait: keep them for this account, or discard them. */
    data class SignOut(val unsent: Int) : Question

    /**
     * A `dossier://enter` link arrived while [account] is signed in: entering with it signs them out
     * (their waiting photos stay theirs, sent when they sign in again).
     */
    data class SwitchAccount(val account: String?, val ticket: String) : Question
}

/**
 * One message for the candidate, drawn as a dialog until dismissed. Codes are core's and the
 * server's machine codes (`count_reached`, `unsupported_format`...): the view words them in the
 * candidate's language, never showing the server's English reason.
 */
sealed interface Notice {
    /** Submitted for review: 上报完成，内容已锁定. */
    data object Submitted : Notice

    /** The server could not be reached; when it asked for a wait (too many sign-ins), how long. */
    data class NoConnection(val retryAfterSecs: ULong?) : Notice

    /** The session ended (expired or revoked): sign in again. */
    data object SessionEnded : Notice

    /** The username or the password is wrong. */
    data object WrongPassword : Notice

    /** The material or dossier cannot change now: `locked`, `window_closed`, `window_not_open`. */
    data class Locked(val code: String) : Notice

    /** Refused for a reason the candidate fixes: `missing_required`, `password_rules`, `ticket_used`... */
    data class Refused(val code: String) : Notice

    /** The photo cannot be used: `unsupported_format`, `not_an_image`, `corrupt`, `invalid_photo`... */
    data class InvalidPhoto(val code: String) : Notice

    /** The picked photo could not be read (the gallery's file gone, no permission, no space to copy). */
    data object PhotoUnreadable : Notice

    /** A queued photo of [material] was refused for good by the server ([code], when it gave one). */
    data class UploadRefused(val material: String, val code: String?) : Notice

    /** The phone's own storage failed. */
    data object StorageFailed : Notice

    /** Anything else: the app's own fault; try again. */
    data object Failed : Notice
}

/** What the screens show; no platform types, so it is the same on the JVM, Android and (mirrored) iOS. */
data class CandidateScreen(
    val session: Session = Session.Starting,
    val page: DossierPage? = null,
    /** The last refresh found no connection: [page] is the one cached at its `fetchedAt`. */
    val offline: Boolean = false,
    /** The queue's photos of this account, oldest first, in every state. */
    val photos: List<QueuedPhoto> = emptyList(),
    /** Upload progress of photos being sent, 0..1, by queue id. */
    val progress: Map<Long, Float> = emptyMap(),
    /** The reviewers' messages, unread first, newest first. */
    val messages: List<Message> = emptyList(),
    /** The JPEG bytes of uploaded images' thumbnails, by image id (the view decodes them). */
    val thumbnails: Map<String, ByteArray> = emptyMap(),
    val pending: PendingPhoto? = null,
    /** A call is under way: buttons that would start another wait. */
    val busy: Boolean = false,
    val question: Question? = null,
    val notice: Notice? = null,
) {
    /** Unread messages, for the badge. */
    val unread: Int get() = page?.unreadMessages?.toInt() ?: 0

    /** Photos that still wait to be sent (waiting, uploading, or held until the material opens). */
    val unsent: Int get() = photos.count { it.stillToSend }

    /** The queued photos to show under [category]'s card: all but the uploaded and cancelled. */
    fun queuedFor(category: String): List<QueuedPhoto> =
        photos.filter { it.category == category && it.state !is QueuedState.Uploaded && it.state !is QueuedState.Cancelled }
}

private val QueuedPhoto.stillToSend: Boolean
    get() = state == QueuedState.Waiting || state == QueuedState.Uploading || state is QueuedState.Held

/** What the presenter asks of the platform, beyond the bindings. */
interface CandidatePlatform {
    /** Run the upload queue now, in the background, once there is a network (Android: the "now" work). */
    fun uploadNow()

    /** Signed in: register this phone for push (FCM, APNs). */
    fun registerForPush()
}

/** Core's photo pipeline; a fake in tests, which have no Rust library. */
fun interface PhotoPreparer {
    fun prepare(path: String, document: Document, framing: Framing): PreparedPhoto
}

/**
 * The screens' logic over one [DossierAppInterface]. Actions return at once and run in [scope];
 * the bindings' blocking calls (SQLite with fsync, the photo pipeline) run on [background], never
 * on the caller's thread. A failure of any call ends as a [Notice] at this boundary, and
 * cancellation is passed on, so nothing thrown reaches the platform's main loop.
 */
class CandidatePresenter(
    private val dossier: DossierAppInterface,
    private val scope: CoroutineScope,
    private val background: CoroutineDispatcher,
    private val platform: CandidatePlatform,
    private val preparer: PhotoPreparer = PhotoPreparer(::preparePhoto),
    /** An activation under way when the process was ended (Android keeps it in SavedStateHandle). */
    resumedActivation: Session.Activating? = null,
) {
    private val screen = MutableStateFlow(CandidateScreen())
    val state: StateFlow<CandidateScreen> = screen.asStateFlow()

    private val calls = AtomicInteger()

    /** Thumbnails asked for and not answered yet, so a page shown twice fetches each once. */
    private val fetching: MutableSet<String> = ConcurrentHashMap.newKeySet()

    /** Reading the session at start; an entry link that arrives meanwhile waits for it. */
    private val started: Job

    init {
        // The queue's events: pure state changes, and what they fetch is guarded on its own.
        launchGuarded({}) { dossier.events().collect(::on) }
        started = act(failed = ::startFailed) {
            loadSession(resumedActivation)
            refresh()
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Session

    fun signIn(username: String, password: String) {
        act(failed = ::signInFailed) {
            dossier.signIn(username.trim(), password)
            signedIn()
        }
    }

    /**
     * The registration site's link (`dossier://enter?ticket=…`) or its ticket pasted. While someone
     * is signed in it asks first ([Question.SwitchAccount]), since entering signs them out.
     */
    fun enter(linkOrTicket: String) {
        val ticket = ticketIn(linkOrTicket) ?: return
        act {
            // A link that opened the app comes before the session is read: it must not be
            // answered by the sign-in screen's state, nor overwritten by it.
            started.join()
            if (io { dossier.isSignedIn() }) {
                val account = io { dossier.account() }
                screen.update { it.copy(question = Question.SwitchAccount(account, ticket)) }
            } else {
                enterWith(ticket)
            }
        }
    }

    /** "Enter with the link" confirmed: core signs the current account out as the new one enters. */
    fun confirmSwitchAccount() {
        val question = state.value.question as? Question.SwitchAccount ?: return
        screen.update { it.copy(question = null) }
        act { enterWith(question.ticket) }
    }

    /** Activation (账号激活) with the form's fields; the server checks the rules and says which failed. */
    fun activate(
        password: String,
        passwordAgain: String,
        securityQuestion: String,
        securityAnswer: String,
        pledgeTruthfulness: Boolean,
        pledgeDiscipline: Boolean,
    ) {
        val activating = state.value.session as? Session.Activating ?: return
        act {
            dossier.activate(
                Activation(
                    activating.activationToken, password, passwordAgain, securityQuestion, securityAnswer,
                    pledgeTruthfulness, pledgeDiscipline,
                )
            )
            signedIn()
        }
    }

    /** Back from activation: to the sign-in screen, or to the account still signed in. */
    fun cancelActivation() {
        if (state.value.session !is Session.Activating) return
        act { loadSession() }
    }

    /**
     * Sign out. With photos still to send it asks first ([Question.SignOut]); without, the
     * account's queue and cached page go at once.
     */
    fun signOut() {
        val unsent = state.value.unsent
        if (unsent > 0) {
            screen.update { it.copy(question = Question.SignOut(unsent)) }
        } else {
            signOutNow(keepPhotos = false)
        }
    }

    /** The answer to [Question.SignOut]: keep the photos for this account's next sign-in, or discard them. */
    fun confirmSignOut(keepPhotos: Boolean) {
        if (state.value.question !is Question.SignOut) return
        screen.update { it.copy(question = null) }
        signOutNow(keepPhotos)
    }

    fun dismissQuestion() = screen.update { it.copy(question = null) }

    fun dismissNotice() = screen.update { it.copy(notice = null) }

    // ---------------------------------------------------------------------------------------------
    // The materials page

    /** The page, messages and queue from the server (on start, on return to the app, on a push). */
    fun refresh() {
        if (state.value.session !is Session.SignedIn) return
        act(failed = ::refreshFailed) { refreshNow() }
    }

    fun deleteImage(imageId: String) {
        act {
            dossier.deleteImage(imageId)
            showPage(dossier.refresh())
        }
    }

    fun cancelUpload(id: Long) {
        act {
            io { dossier.cancel(id) }
            val photos = io { dossier.photos() }
            screen.update { it.copy(photos = photos) }
        }
    }

    /** Submit for review (上报); everything locks. */
    fun submit() {
        act {
            dossier.submit()
            screen.update { it.copy(notice = Notice.Submitted) }
            showPage(dossier.refresh())
        }
    }

    fun markRead(message: Message) {
        if (message.read) return
        act {
            dossier.markRead(message.id)
            screen.update { s ->
                val wasUnread = s.messages.any { it.id == message.id && !it.read }
                val page = s.page
                s.copy(
                    messages = s.messages.map { if (it.id == message.id) it.copy(read = true) else it },
                    // The badge follows at once; the next page from the server says the same.
                    page = if (wasUnread && page != null && page.unreadMessages > 0u) {
                        page.copy(unreadMessages = page.unreadMessages - 1u)
                    } else {
                        page
                    },
                )
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // A photo, from the picker or the camera to the queue

    /**
     * Prepare a picked photo for [target]: [copy] brings it into the app's cache (the platform's
     * content-URI copy, HEIC converted), run off the main thread; the photo is then prepared (its
     * page found, a photo of a person kept whole) and shown with its warnings. It is stored only on
     * [confirmPending]. The copied file is the presenter's from then on, deleted when done with.
     */
    fun pickPhoto(target: PhotoTarget, copy: () -> File) {
        act {
            val source = try {
                io(copy)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Throwable) {
                screen.update { it.copy(notice = Notice.PhotoUnreadable) }
                return@act
            }
            var kept = false
            try {
                val material = state.value.page?.materials?.firstOrNull { it.category == target.category }
                val document = material?.document ?: Document.A4
                val wholeFrame = material?.wholeFrame == true
                val prepared = io { preparer.prepare(source.path, document, PageOutline.firstFraming(wholeFrame)) }
                val outline = PageOutline.of(prepared, wholeFrame)
                val replaced = state.value.pending
                screen.update { it.copy(pending = PendingPhoto(target, source, document, prepared, outline.framing, outline)) }
                replaced?.source?.delete()
                kept = true
            } finally {
                if (!kept) source.delete()
            }
        }
    }

    /**
     * The outline settled (a handle let go, "use whole photo" switched): kept, and the photo
     * prepared again when its framing changed. A result the outline has moved on from is dropped.
     */
    fun reframe(outline: PageOutline) {
        val pending = state.value.pending ?: return
        screen.update { s -> s.copy(pending = s.pending?.copy(outline = outline)) }
        val framing = outline.framing
        if (framing == pending.framing) return
        act {
            val prepared = io { preparer.prepare(pending.source.path, pending.document, framing) }
            screen.update { s ->
                val now = s.pending
                if (now == null || now.source != pending.source || now.outline.framing != framing) s
                else s.copy(pending = now.copy(prepared = prepared, framing = framing))
            }
        }
    }

    /** Confirmed: stored in the queue on the phone, then uploaded in the background. */
    fun confirmPending() {
        val pending = state.value.pending?.takeIf { it.current } ?: return
        // Off the screen at once, so a second tap cannot queue it twice; back if it was not stored.
        screen.update { it.copy(pending = null) }
        act(failed = { e -> restore(pending); tell(e) }) {
            val target = pending.target
            val queued = io { dossier.enqueue(target.category, pending.prepared.jpeg, target.slot, target.replaces) }
            screen.update { it.copy(photos = it.photos.upsert(queued)) }
            pending.source.delete()
            platform.uploadNow()
        }
    }

    private fun restore(pending: PendingPhoto) {
        if (state.value.pending == null) screen.update { it.copy(pending = pending) } else pending.source.delete()
    }

    /** "Choose another": the prepared photo is dropped, nothing stored. */
    fun discardPending() {
        val pending = state.value.pending ?: return
        screen.update { it.copy(pending = null) }
        pending.source.delete()
    }

    /** The screen is gone for good: the photo being checked is not kept. */
    fun close() {
        state.value.pending?.source?.delete()
    }

    // ---------------------------------------------------------------------------------------------

    private fun on(event: QueueEvent) {
        when (event) {
            is QueueEvent.PhotoChanged -> photoChanged(event.photo)
            is QueueEvent.Progress -> screen.update {
                it.copy(progress = it.progress + (event.id to event.sent.toFloat() / event.total.coerceAtLeast(1u).toFloat()))
            }
            is QueueEvent.PageChanged -> {
                // A run that ends after a sign-out still tells of the page it fetched: not shown.
                if (state.value.session !is Session.SignedIn) return
                showPage(event.page)
                // New messages came with the page (a reviewer returned a material): fetch them.
                val s = state.value
                if (s.unread != s.messages.count { !it.read }) launchGuarded({}) { loadMessages() }
            }
        }
    }

    private fun photoChanged(photo: QueuedPhoto) {
        val before = state.value.photos.firstOrNull { it.id == photo.id }
        screen.update { s ->
            s.copy(
                photos = s.photos.upsert(photo),
                progress = if (photo.state == QueuedState.Uploading) s.progress else s.progress - photo.id,
            )
        }
        val refused = photo.state as? QueuedState.NeedsAttention ?: return
        if (before?.state is QueuedState.NeedsAttention) return
        val material = state.value.page?.materials?.firstOrNull { it.category == photo.category }?.name ?: photo.category
        screen.update { it.copy(notice = Notice.UploadRefused(material, refused.code)) }
    }

    private suspend fun enterWith(ticket: String) {
        when (val entry = dossier.enter(ticket)) {
            is EntryResult.ActivationNeeded ->
                screen.update { it.copy(session = Session.Activating(entry.activationToken, entry.name)) }
            is EntryResult.SignedIn -> signedIn()
        }
    }

    /** Signed in, by password, link or activation: this account's page and queue, not the last one's. */
    private suspend fun signedIn() {
        screen.update { CandidateScreen(session = it.session, busy = it.busy, notice = it.notice) }
        loadSession()
        platform.registerForPush()
        // Photos this account left waiting at its last sign-out go now.
        platform.uploadNow()
        refresh()
    }

    private fun signOutNow(keepPhotos: Boolean) {
        act {
            state.value.pending?.source?.delete()
            val failure = try {
                dossier.signOut(keepPhotos)
                null
            } catch (e: CancellationException) {
                throw e
            } catch (e: Throwable) {
                e
            }
            screen.update { CandidateScreen(session = it.session, busy = it.busy) }
            loadSession()
            // Core signs out on the phone even when the server cannot be told; the server's
            // session then lapses by itself. Only a sign-out that did not happen here needs a word.
            if (failure != null && state.value.session is Session.SignedIn) tell(failure)
        }
    }

    /** The session, queue and cached page as core has them on the phone. */
    private suspend fun loadSession(activating: Session.Activating? = null) {
        val signedIn = io { dossier.isSignedIn() }
        val account = if (signedIn) io { dossier.account() } else null
        val photos = io { dossier.photos() }
        val page = if (signedIn) io { dossier.cachedPage() } else null
        screen.update {
            it.copy(
                session = activating ?: if (signedIn) Session.SignedIn(account) else Session.SignedOut,
                photos = photos,
                page = page,
            )
        }
        page?.let(::fetchThumbnails)
    }

    private suspend fun refreshNow() {
        showPage(dossier.refresh())
        loadMessages()
        val photos = io { dossier.photos() }
        screen.update { it.copy(photos = photos) }
    }

    private suspend fun loadMessages() {
        val messages = dossier.messages().sortedWith(compareBy<Message> { it.read }.thenByDescending { it.createdAt })
        screen.update { it.copy(messages = messages) }
    }

    /** A page fresh from the server. */
    private fun showPage(page: DossierPage) {
        screen.update { it.copy(page = page, offline = false) }
        fetchThumbnails(page)
    }

    /** Thumbnails of images not fetched yet (each ≤200 KB, fetched once); one that fails stays empty. */
    private fun fetchThumbnails(page: DossierPage) {
        // `fetching.add` claims each id, so an image asked for already is not asked again.
        val wanted = page.materials.flatMap { it.images }.map { it.id }
            .filter { it !in state.value.thumbnails && fetching.add(it) }
        if (wanted.isEmpty()) return
        launchGuarded({}) {
            for (id in wanted) {
                try {
                    val bytes = dossier.image(id)
                    screen.update { it.copy(thumbnails = it.thumbnails + (id to bytes)) }
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Throwable) {
                    // Offline or gone: the slot shows its frame; the next page asks again.
                } finally {
                    fetching.remove(id)
                }
            }
        }
    }

    private fun startFailed(e: Throwable) {
        // The phone's own storage could not be read: the sign-in screen rather than a blank one.
        screen.update { if (it.session == Session.Starting) it.copy(session = Session.SignedOut) else it }
        tell(e)
    }

    private fun refreshFailed(e: Throwable) {
        // Offline is a state of the page (shown with its age), not a dialog on every return.
        if (e is DossierException.Network) screen.update { it.copy(offline = true) } else tell(e)
    }

    private fun signInFailed(e: Throwable) {
        // A wrong password comes back as "not signed in", like any refused session.
        if (e is DossierException.SignedOut) screen.update { it.copy(notice = Notice.WrongPassword) } else tell(e)
    }

    /** A failure as the candidate sees it; a session that ended takes them to the sign-in screen. */
    private fun tell(e: Throwable) {
        if (e is DossierException.SignedOut) {
            state.value.pending?.source?.delete()
            screen.update { CandidateScreen(session = Session.SignedOut, busy = it.busy, notice = Notice.SessionEnded) }
        } else {
            screen.update { it.copy(notice = noticeFor(e)) }
        }
    }

    /** Runs an action in [scope], marked busy while it lasts; its failure goes to [failed]. */
    private fun act(failed: (Throwable) -> Unit = ::tell, block: suspend () -> Unit): Job = launchGuarded(failed) {
        busy(+1)
        try {
            block()
        } finally {
            busy(-1)
        }
    }

    /** The boundary: cancellation passes on; anything else thrown goes to [failed], never further. */
    private fun launchGuarded(failed: (Throwable) -> Unit, block: suspend () -> Unit): Job = scope.launch {
        try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Throwable) {
            failed(e)
        }
    }

    private fun busy(change: Int) {
        calls.addAndGet(change)
        screen.update { it.copy(busy = calls.get() > 0) }
    }

    private suspend fun <T> io(block: () -> T): T = withContext(background) { block() }

    companion object {
        /** The ticket in a `dossier://enter?ticket=…` link, or the ticket itself pasted; none if blank. */
        fun ticketIn(linkOrTicket: String): String? =
            linkOrTicket.trim().substringAfter("ticket=").substringBefore('&').trim().takeIf { it.isNotEmpty() }

        /** The notice for a failed call. */
        fun noticeFor(e: Throwable): Notice = when (e) {
            is DossierException.Network -> Notice.NoConnection(e.retryAfterSecs)
            is DossierException.SignedOut -> Notice.SessionEnded
            is DossierException.Locked -> Notice.Locked(e.code)
            is DossierException.Refused -> Notice.Refused(e.code)
            is DossierException.InvalidPhoto -> Notice.InvalidPhoto(e.code)
            is DossierException.Storage -> Notice.StorageFailed
            else -> Notice.Failed
        }
    }
}

/** [photo] in place of the one with its id, or added at the end. */
private fun List<QueuedPhoto>.upsert(photo: QueuedPhoto): List<QueuedPhoto> =
    if (any { it.id == photo.id }) map { if (it.id == photo.id) photo else it } else this + photo
