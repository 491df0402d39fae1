package cn.dossier.kit

import java.io.File
import java.nio.file.Files
import kotlin.math.hypot
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.runningFold
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/**
 * The Kotlin bindings on the desktop JVM, against the real server that `scripts/bindings-tests.sh`
 * starts with the demo district: the binding layer (records, enums, errors as exceptions, foreign
 * traits, suspend functions and their cancellation), not core's logic again.
 */
class DossierKitTest {
    private val base = env("DOSSIER_BASE")
    private val photos = File(env("DOSSIER_PHOTOS"))

    private fun env(name: String): String =
        System.getenv(name) ?: throw IllegalStateException("$name is set by scripts/bindings-tests.sh")

    /** The app's token store: memory here, the Keystore on Android. */
    class MemoryTokens : TokenStorage {
        @Volatile var tokens: StoredTokens? = null
        override fun load(): StoredTokens? = tokens
        override fun save(tokens: StoredTokens) { this.tokens = tokens }
        override fun clear() { tokens = null }
    }

    /** Every event, in order, as the app's screen would see them. */
    class Recorder : QueueEvents {
        val changes = java.util.concurrent.ConcurrentLinkedQueue<QueuedPhoto>()
        val progress = java.util.concurrent.ConcurrentLinkedQueue<Triple<Long, ULong, ULong>>()
        @Volatile var pages = 0
        override fun photoChanged(photo: QueuedPhoto) { changes.add(photo) }
        override fun uploadProgress(id: Long, sent: ULong, total: ULong) { progress.add(Triple(id, sent, total)) }
        override fun dossierChanged(page: DossierPage) { pages++ }
    }

    private fun app(tokens: MemoryTokens = MemoryTokens()): DossierApp =
        DossierApp(base, Files.createTempDirectory("dossier-app").toString(), tokens)

    /** A new candidate of the demo district, entered by ticket and activated through the bindings. */
    private fun activated(ticketVar: String): DossierApp = runBlocking {
        val app = app()
        when (val entry = app.enter(env(ticketVar))) {
            is EntryResult.ActivationNeeded -> app.activate(
                Activation(
                    activationToken = entry.activationToken,
                    password = "Kotlin2026ok",
                    passwordAgain = "Kotlin2026ok",
                    securityQuestion = "我的出生地？",
                    securityAnswer = "北京",
                    pledgeTruthfulness = true,
                    pledgeDiscipline = true,
                )
            )
            is EntryResult.SignedIn -> fail("a first entry needs activation")
        }
        assertTrue(app.isSignedIn())
        app
    }

    /** The orientation photos kept whole: these tests are about EXIF and the queue, not the page. */
    private fun prepared(name: String, document: Document = Document.ID_CARD): PreparedPhoto =
        preparePhoto(File(photos, name).path, document, Framing.WholeFrame)

    @Test
    fun aSidewaysCameraPhotoComesOutUprightAndWithinBudget() {
        val photo = prepared("Landscape_6.jpg")
        assertEquals("orientation tag applied", 6.toUShort(), photo.sourceOrientation)
        assertTrue("within 200 KB: ${photo.jpeg.size}", photo.jpeg.size <= 200 * 1024)
        // Landscape_6 is stored as a portrait frame tagged "rotate 90": upright it is landscape.
        assertTrue("upright: ${photo.width}x${photo.height}", photo.width > photo.height)
        assertEquals(0xFF.toByte(), photo.jpeg[0])
        assertEquals(0xD8.toByte(), photo.jpeg[1])
    }

    @Test
    fun notAPhotoIsATypedException() {
        val text = File.createTempFile("not-a-photo", ".jpg").apply { writeText("hello") }
        try {
            preparePhoto(text.path, Document.A4, Framing.FindPage)
            fail("a text file is not a photo")
        } catch (e: DossierException.InvalidPhoto) {
            assertEquals("not_an_image", e.code)
        }
    }

    /** A fixture's ground truth: the upright photo's size and the page's corners in its pixels, TL, TR, BR, BL. */
    private class Truth(val width: Float, val height: Float, val corners: List<Pair<Float, Float>>)

    /** `{"width":W,"height":H,"corners":[[x,y],[x,y],[x,y],[x,y]]}`, read without a JSON library. */
    private fun truth(file: File): Truth {
        val text = file.readText()
        val number = "-?[0-9]+(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
        fun field(name: String) = Regex("\"$name\"\\s*:\\s*($number)").find(text)!!.groupValues[1].toFloat()
        val corners = Regex(number).findAll(text.substringAfter("\"corners\"").substringBefore("]]"))
            .map { it.value.toFloat() }.toList()
        assertEquals("four corners in $file", 8, corners.size)
        return Truth(field("width"), field("height"), corners.chunked(2).map { (x, y) -> x to y })
    }

    @Test
    fun aPageAtAnAngleIsFoundThenPreparedWithMovedCornersOrWhole() {
        val fixtures = File(env("DOSSIER_FIXTURES"))
        val path = File(fixtures, "page-at-angle.jpg").path
        val truth = truth(File(fixtures, "page-at-angle.json"))

        val found = preparePhoto(path, Document.A4, Framing.FindPage)
        assertEquals("confidence ${found.pageConfidence}", "found", found.page)
        assertEquals("the frame the truth is in", truth.width, found.frameWidth.toFloat(), 0.5f)
        assertEquals("the frame the truth is in", truth.height, found.frameHeight.toFloat(), 0.5f)
        assertEquals(4, found.pageCorners.size)
        val diagonal = hypot(truth.width, truth.height)
        found.pageCorners.zip(truth.corners).forEachIndexed { i, (corner, expected) ->
            val off = hypot(corner.x * truth.width - expected.first, corner.y * truth.height - expected.second)
            assertTrue("corner $i off by $off px of a $diagonal px diagonal", off <= 0.02f * diagonal)
        }

        // The candidate drags the top-left handle 20 px inwards in a 1000 px view: prepared with
        // the corners as the screen shows them.
        val outline = PageOutline.of(found, wholeFrame = false)
        assertEquals(Framing.FindPage, outline.framing)
        val fit = outline.fit(1000f, 1000f)
        val handle = outline.points(fit)[0]
        val moved = outline.startDrag(handle, fit, 40f).dragTo(ViewPoint(handle.x + 20f, handle.y + 20f), fit).endDrag()
        val framing = moved.framing
        assertTrue("$framing", framing is Framing.Corners)
        val given = preparePhoto(path, Document.A4, framing)
        assertEquals("given", given.page)
        // The same four corners (core may name another one top-left when the page lies at a slant).
        for (corner in moved.corners) {
            assertTrue("$corner in ${given.pageCorners}", given.pageCorners.any { hypot(it.x - corner.x, it.y - corner.y) < 1e-3f })
        }

        // "Use whole photo": nothing cut away, the frame's shape kept (turned, if its text said so).
        val whole = preparePhoto(path, Document.A4, moved.usingWholePhoto(true).framing)
        assertEquals("whole_frame", whole.page)
        val frameAspect = found.frameWidth.toFloat() / found.frameHeight.toFloat()
        val expected = if (whole.turnedDegrees.toInt() % 180 == 90) 1 / frameAspect else frameAspect
        assertEquals(expected, whole.width.toFloat() / whole.height.toFloat(), 0.01f)
    }

    @Test
    fun threeQueuedPhotosUploadOnceWithEventsThenLockAsTypedErrors() = runBlocking {
        val app = activated("DOSSIER_TICKET_1")
        val recorder = Recorder()
        val subscription = app.subscribe(recorder)
        val names = listOf("Landscape_1.jpg", "Portrait_6.jpg", "Landscape_8.jpg")
        val queued = names.map { app.enqueue("other", prepared(it, Document.A4).jpeg, null, null) }
        assertTrue(queued.all { it.state is QueuedState.Waiting })

        assertEquals(RunOutcome.Done, app.runQueue(Connection.UNMETERED, false))
        val uploaded = app.photos().map { it.state }.filterIsInstance<QueuedState.Uploaded>()
        assertEquals(3, uploaded.size)
        // The listener saw each photo go up, and its bytes reach the total.
        for (photo in queued) {
            assertTrue(recorder.changes.any { it.id == photo.id && it.state is QueuedState.Uploading })
            assertTrue(recorder.changes.any { it.id == photo.id && it.state is QueuedState.Uploaded })
            assertTrue(recorder.progress.any { it.first == photo.id && it.second == it.third && it.third == photo.bytes })
        }
        assertTrue("a refresh after the uploads", recorder.pages >= 1)

        val page = app.refresh()
        val other = page.materials.first { it.category == "other" }
        assertEquals(uploaded.map { it.imageId }.toSet(), other.images.map { it.id }.toSet())
        assertEquals(DossierStatus.DRAFT, page.status)
        // The slots as the list draws them, each uploaded image's thumbnail fetched.
        assertEquals(other.maxImages.toInt(), other.slots().size)
        assertEquals(3, other.slots().count { it != null })
        val thumbnail = app.image(other.images.first().id)
        assertEquals(other.images.first().bytes, thumbnail.size.toULong())
        assertEquals(0xD8.toByte(), thumbnail[1])
        // The ID card's two named slots, and its example image's URL on the server.
        val idCard = page.materials.first { it.category == "id_card" }
        assertEquals(2, idCard.slots().size)
        assertTrue(idCard.slotLabel(0) != idCard.slotLabel(1))
        assertTrue("${idCard.exampleUrl}", idCard.exampleUrl?.startsWith(base) == true)

        // Submitting with required materials missing: refused, the missing ones named.
        try {
            app.submit()
            fail("required materials are missing")
        } catch (e: DossierException.Refused) {
            assertEquals("missing_required", e.code)
        }
        // Fill the required ones, submit: everything locks, and a delete is a Locked exception.
        for ((category, n) in listOf("id_card" to 2, "diploma" to 1, "probation" to 1, "work_proof" to 1)) {
            repeat(n) { app.enqueue(category, prepared("Portrait_1.jpg").jpeg, null, null) }
        }
        assertEquals(RunOutcome.Done, app.runQueue(Connection.UNMETERED, false))
        assertTrue(app.submit().isNotEmpty())
        try {
            app.deleteImage(other.images.first().id)
            fail("a submitted material is locked")
        } catch (e: DossierException.Locked) {
            assertEquals("locked", e.code)
        }
        // After close, no more events.
        subscription.close()
        val before = recorder.changes.size
        app.enqueue("other", prepared("Landscape_0.jpg", Document.A4).jpeg, null, null)
        assertEquals(before, recorder.changes.size)
    }

    @Test
    fun aCancelledRunLeavesEveryPhotoToUploadOnce() = runBlocking {
        val app = activated("DOSSIER_TICKET_2")
        val photos = listOf("Portrait_1.jpg", "Portrait_2.jpg", "Portrait_6.jpg", "Portrait_8.jpg")
            .map { path -> preparePhotoInBackground(File(this@DossierKitTest.photos, path).path, Document.A4, Framing.WholeFrame) }
            .map { app.enqueue("other", it.jpeg, null, null) }
        // The screen's view: the Flow of events until each photo is up, then the collector ends.
        val uploadedEvents = async {
            app.events()
                .filterIsInstance<QueueEvent.PhotoChanged>()
                .filter { it.photo.state is QueuedState.Uploaded }
                .runningFold(emptySet<Long>()) { seen, event -> seen + event.photo.id }
                .first { it.size == photos.size }
        }
        // On runBlocking's one thread: let the collector start and subscribe before the run.
        repeat(3) { yield() }
        val run = launch {
            app.runQueue(Connection.UNMETERED, false)
        }
        delay(5)
        run.cancel()
        run.join()
        assertTrue(run.isCancelled)
        assertTrue("the run stopped before finishing", app.photos().any { it.state !is QueuedState.Uploaded })
        // A new run (as WorkManager would start) finishes the job; each photo is stored once.
        assertEquals(RunOutcome.Done, app.runQueue(Connection.UNMETERED, false))
        val ids = app.photos().map { it.state }.filterIsInstance<QueuedState.Uploaded>().map { it.imageId }
        assertEquals(photos.size, ids.toSet().size)
        val other = app.refresh().materials.first { it.category == "other" }
        assertEquals(ids.toSet(), other.images.map { it.id }.toSet())
        // The Flow saw every photo uploaded, then ended (and so unsubscribed).
        assertEquals(photos.map { it.id }.toSet(), withTimeout(10_000) { uploadedEvents.await() })
    }

    @Test
    fun stopQueueEndsTheRunAtOnceAndAPhotoCutOffWaitsAgain() = runBlocking {
        // The demo's candidate who is activated already, signed in by password.
        val app = app()
        app.signIn(env("DOSSIER_USER"), env("DOSSIER_PASSWORD"))
        val photos = listOf("Portrait_3.jpg", "Portrait_4.jpg", "Portrait_5.jpg")
            .map { prepared(it, Document.A4) }
            .map { app.enqueue("other", it.jpeg, null, null) }
        // What the app does when its time is up: stop, here as soon as the first upload is under
        // way (on the thread that reports its progress).
        val stopper = object : QueueEvents {
            @Volatile var stopped = false
            override fun photoChanged(photo: QueuedPhoto) {}
            override fun uploadProgress(id: Long, sent: ULong, total: ULong) {
                if (!stopped) {
                    stopped = true
                    app.stopQueue()
                }
            }
            override fun dossierChanged(page: DossierPage) {}
        }
        val subscription = app.subscribe(stopper)
        assertEquals(RunOutcome.Stopped, app.runQueue(Connection.UNMETERED, false))
        subscription.close()
        assertTrue("nothing is left uploading", app.photos().none { it.state is QueuedState.Uploading })
        assertTrue("what was cut off waits again", app.photos().any { it.state is QueuedState.Waiting })
        // A later run (the next background task) sends the rest; each photo is stored once.
        assertEquals(RunOutcome.Done, app.runQueueStoppable(Connection.UNMETERED, false))
        val ids = app.photos().map { it.state }.filterIsInstance<QueuedState.Uploaded>().map { it.imageId }
        assertEquals(photos.size, ids.toSet().size)
        val other = app.refresh().materials.first { it.category == "other" }
        assertEquals(ids.toSet(), other.images.map { it.id }.toSet())
    }

    @Test
    fun offlineTheQueueWaitsAndSaysSo() = runBlocking {
        val app = app()
        app.enqueue("other", prepared("Portrait_0.jpg", Document.A4).jpeg, null, null)
        assertEquals(RunOutcome.WaitingForNetwork, app.runQueue(Connection.OFFLINE, false))
        assertTrue(app.photos().single().state is QueuedState.Waiting)
    }
}
