package cn.dossier.kit

import java.io.File
import java.time.Instant
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Runnable
import kotlinx.coroutines.awaitCancellation

/**
 * What the presenter's tests drive it with: core in memory ([FakeDossier]), the photo pipeline
 * ([FakePreparer]), the platform's scheduler ([RecordingPlatform]) and a dispatcher the test runs
 * by hand ([ManualDispatcher]), so every step is taken when the test says and nothing is timed.
 */

/** Runs what was dispatched to it only when [runAll] is called, on the test's thread. */
class ManualDispatcher : CoroutineDispatcher() {
    private val tasks = ArrayDeque<Runnable>()

    override fun dispatch(context: CoroutineContext, block: Runnable) {
        synchronized(tasks) { tasks.addLast(block) }
    }

    /** Everything due, including what the tasks run dispatch in turn. */
    fun runAll() {
        while (true) {
            val next = synchronized(tasks) { tasks.removeFirstOrNull() } ?: return
            next.run()
        }
    }
}

class RecordingPlatform : CandidatePlatform {
    var uploadsScheduled = 0
    var pushRegistrations = 0
    override fun uploadNow() { uploadsScheduled++ }
    override fun registerForPush() { pushRegistrations++ }
}

/** Core's pipeline as far as the screens see it: the framing asked for, warnings, a refusal. */
class FakePreparer : PhotoPreparer {
    val framings = mutableListOf<Framing>()
    var warnings = listOf<String>()
    var refusal: DossierException? = null

    override fun prepare(path: String, document: Document, framing: Framing): PreparedPhoto {
        refusal?.let { throw it }
        check(File(path).exists()) { "prepared from a copy that was deleted" }
        framings += framing
        val (page, corners) = when (framing) {
            is Framing.Corners -> "given" to framing.corners
            Framing.FindPage -> "found" to listOf(Corner(0.1f, 0.1f), Corner(0.9f, 0.12f), Corner(0.88f, 0.9f), Corner(0.12f, 0.88f))
            else -> "whole_frame" to emptyList()
        }
        return PreparedPhoto(
            jpeg = ByteArray(150_000) { 7 }, width = 1240u, height = 1754u, quality = 82u, sourceOrientation = 1u,
            sourceBytes = 3_100_000u, warnings = warnings, pageCorners = corners, page = page, pageConfidence = 0.9f,
            turnedDegrees = 0u, frameWidth = 4000u, frameHeight = 3000u,
        )
    }
}

/**
 * Core in memory, as faithful as the presenter needs: candidates with passwords (none until
 * activated), single-use tickets, one session, and a queue that records whose each photo is and
 * lists and sends only the signed-in account's, as `core::queue` does. Errors are the bindings'
 * (a wrong password comes back as `SignedOut`, as the server's 401 does).
 */
class FakeDossier : DossierAppInterface {
    class Candidate(val username: String, val name: String, var password: String?)

    private class Item(var photo: QueuedPhoto, var account: String?)

    val candidates = mutableMapOf<String, Candidate>()
    /** Ticket → username. */
    val tickets = mutableMapOf<String, String>()
    /** The server's materials page of each account. */
    val pages = mutableMapOf<String, DossierPage>()
    val messages = mutableMapOf<String, MutableList<Message>>()
    val images = mutableMapOf<String, ByteArray>()
    var online = true
    /** How the next runs end; with none left a run goes on until it is stopped or cancelled. */
    val outcomes = ArrayDeque<RunOutcome>()
    var runFailure: Throwable? = null
    var stops = 0

    private var session: String? = null
    private var owner: String? = null
    private var cached: DossierPage? = null
    private val items = mutableListOf<Item>()
    private val activations = mutableMapOf<String, String>()
    private val listeners = mutableListOf<QueueEvents>()
    private var nextId = 1L

    fun candidate(username: String, name: String, password: String?) {
        candidates[username] = Candidate(username, name, password)
        pages[username] = page("$name 的报名材料")
    }

    /** The session expired or was revoked at the server: every call now says so. */
    fun endSession() { session = null }

    /** The upload queue's run, as the worker drives it: a photo's state changes. */
    fun change(id: Long, state: QueuedState) {
        val item = items.first { it.photo.id == id }
        item.photo = item.photo.copy(state = state)
        listeners.forEach { it.photoChanged(item.photo) }
    }

    fun progress(id: Long, sent: ULong, total: ULong) = listeners.forEach { it.uploadProgress(id, sent, total) }

    /** The server stored [imageId] in [category]'s first slot; the run's refresh tells of the new page. */
    fun stored(category: String, imageId: String) {
        val user = session!!
        val page = pages.getValue(user)
        pages[user] = page.copy(materials = page.materials.map { m ->
            if (m.category != category) m
            else m.copy(images = m.images + SlotImage(imageId, m.images.size.toUInt(), false, 150_000u))
        })
        images[imageId] = byteArrayOf(1, 2, 3)
        cached = pages[user]
        listeners.forEach { it.dossierChanged(pages.getValue(user)) }
    }

    private fun server() {
        if (!online) throw DossierException.Network("no connection", null)
    }

    private fun user(): String = session ?: throw DossierException.SignedOut("sign in first")

    private fun signedIn(username: String) {
        session = username
        if (owner != username) {
            cached = null
            owner = username
            items.filter { it.account == null }.forEach { it.account = username }
        }
    }

    private fun own(): List<Item> = items.filter { it.account == owner }

    override suspend fun activate(activation: Activation) {
        server()
        val username = activations[activation.activationToken] ?: throw DossierException.Refused("ticket_invalid", "this link is not valid")
        if (activation.password != activation.passwordAgain) throw DossierException.Refused("password_rules", "the two passwords differ")
        if (!activation.pledgeTruthfulness || !activation.pledgeDiscipline) {
            throw DossierException.Refused("pledges_required", "both pledges must be accepted")
        }
        candidates.getValue(username).password = activation.password
        activations.remove(activation.activationToken)
        signedIn(username)
    }

    override fun account(): String? = owner

    override fun cachedPage(): DossierPage? = cached

    override fun cancel(id: Long) {
        val item = own().firstOrNull { it.photo.id == id && it.photo.state !is QueuedState.Uploaded }
            ?: throw DossierException.Bug("no queued item $id")
        change(item.photo.id, QueuedState.Cancelled)
    }

    override suspend fun deleteImage(imageId: String) {
        server()
        val user = user()
        val page = pages.getValue(user)
        pages[user] = page.copy(materials = page.materials.map { m -> m.copy(images = m.images.filter { it.id != imageId }) })
    }

    override fun enqueue(category: String, jpeg: ByteArray, slot: UInt?, replaces: String?): QueuedPhoto {
        val photo = QueuedPhoto(nextId++, category, slot, jpeg.size.toULong(), QueuedState.Waiting, 0u)
        items += Item(photo, owner)
        listeners.forEach { it.photoChanged(photo) }
        return photo
    }

    override suspend fun enter(ticket: String): EntryResult {
        server()
        val username = tickets.remove(ticket) ?: throw DossierException.Refused("ticket_used", "this link was used already")
        val candidate = candidates.getValue(username)
        if (candidate.password == null) {
            val token = "activation-of-$username"
            activations[token] = username
            return EntryResult.ActivationNeeded(token, candidate.name)
        }
        signedIn(username)
        return EntryResult.SignedIn(username)
    }

    override suspend fun image(imageId: String): ByteArray {
        server()
        user()
        return images[imageId] ?: throw DossierException.Refused("not_found", "not found")
    }

    override fun isSignedIn(): Boolean = session != null

    override suspend fun markRead(messageId: String) {
        server()
        val user = user()
        val list = messages.getOrPut(user) { mutableListOf() }
        val index = list.indexOfFirst { it.id == messageId }
        if (index >= 0 && !list[index].read) {
            list[index] = list[index].copy(read = true)
            val page = pages.getValue(user)
            pages[user] = page.copy(unreadMessages = page.unreadMessages - 1u)
        }
    }

    override suspend fun messages(): List<Message> {
        server()
        return messages[user()].orEmpty().toList()
    }

    override fun photos(): List<QueuedPhoto> = own().map { it.photo }

    override suspend fun refresh(): DossierPage {
        server()
        val page = pages.getValue(user()).copy(fetchedAt = Instant.now())
        cached = page
        listeners.forEach { it.dossierChanged(page) }
        return page
    }

    override suspend fun registerPush(platform: String, token: String) {
        server()
        user()
    }

    override fun retryNow(): UInt = 0u

    override suspend fun runQueue(connection: Connection, wifiOnly: Boolean): RunOutcome {
        runFailure?.let { throw it }
        return outcomes.removeFirstOrNull() ?: awaitCancellation()
    }

    override suspend fun signIn(username: String, password: String) {
        server()
        val candidate = candidates[username]
        if (candidate?.password == null || candidate.password != password) {
            throw DossierException.SignedOut("wrong_password")
        }
        signedIn(username)
    }

    /** As core: signed out on the phone first, the server told after (its failure returned then). */
    override suspend fun signOut(keepQueue: Boolean) {
        if (!keepQueue) items.removeAll { it.account == owner }
        cached = null
        owner = null
        session = null
        server()
    }

    override fun stopQueue() { stops++ }

    override suspend fun submit(): String {
        server()
        val user = user()
        val page = pages.getValue(user)
        if (page.missing.isNotEmpty()) throw DossierException.Refused("missing_required", "required materials are missing")
        pages[user] = page.copy(status = DossierStatus.SUBMITTED, canSubmit = false)
        return "上报完成，内容已锁定"
    }

    override fun subscribe(events: QueueEvents): Subscription {
        listeners += events
        return object : Subscription(NoHandle) {
            override fun close() {
                listeners.remove(events)
                super.close()
            }
        }
    }

    companion object {
        fun material(category: String, name: String, document: Document = Document.A4, wholeFrame: Boolean = false) =
            MaterialCard(
                category = category, name = name, description = "", status = MaterialStatus.OPEN, locked = false,
                required = true, canUpload = true, condition = null, minImages = 1u, maxImages = 2u,
                slotLabels = emptyList(), exampleUrl = null, images = emptyList(), note = null,
                document = document, wholeFrame = wholeFrame,
            )

        fun page(district: String) = DossierPage(
            districtName = district, status = DossierStatus.DRAFT, window = WindowStatus.OPEN,
            uploadClosesAt = Instant.parse("2026-11-20T09:00:00Z"), canSubmit = false, missing = listOf("diploma"),
            materials = listOf(
                material("id_card", "身份证", Document.ID_CARD),
                material("diploma", "毕业证书"),
                material("photo_with_id", "本人手持身份证照片", wholeFrame = true),
            ),
            unreadMessages = 0u, fetchedAt = Instant.now(),
        )
    }
}
