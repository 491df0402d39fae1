package cn.dossier.kit

import java.io.File
import java.io.IOException
import java.nio.file.Files
import java.time.Instant
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The candidate's screens (`CandidatePresenter`) as the candidate meets them, over a fake core
 * ([FakeDossier]): what the screen shows, what it asks and what it says after each tap or queue
 * event. The real bindings against the real server are `DossierKitTest`'s.
 */
class CandidatePresenterTest {
    private val dispatcher = ManualDispatcher()
    private var scope = CoroutineScope(SupervisorJob() + dispatcher)
    private val core = FakeDossier().apply {
        candidate(ZHANG, "张三", "Secret2026")
        candidate(WANG, "王五", "Wang2026ok")
        candidate(LI, "李四", password = null)
        tickets["ticket-li"] = LI
        tickets["ticket-wang"] = WANG
    }
    private val platform = RecordingPlatform()
    private val preparer = FakePreparer()
    private val cache: File = Files.createTempDirectory("picked").toFile()

    @After
    fun end() {
        scope.cancel()
        dispatcher.runAll()
        cache.deleteRecursively()
    }

    private fun presenter(resumed: Session.Activating? = null) =
        CandidatePresenter(core, scope, dispatcher, platform, preparer, resumed).also { dispatcher.runAll() }

    /** Taps, then lets everything they started run; the screen as the candidate then sees it. */
    private fun CandidatePresenter.tap(action: CandidatePresenter.() -> Unit): CandidateScreen {
        action()
        dispatcher.runAll()
        return state.value
    }

    private fun signedIn(username: String = ZHANG, password: String = "Secret2026"): CandidatePresenter =
        presenter().apply { tap { signIn(username, password) } }

    /** A photo the picker gave, copied into the cache. */
    private fun picked(): File = File.createTempFile("pick", ".img", cache).apply { writeBytes(byteArrayOf(1, 2, 3)) }

    /** A photo picked for [category], checked and confirmed: its queue id. */
    private fun CandidatePresenter.queue(category: String = "diploma"): Long {
        tap { pickPhoto(PhotoTarget(category, slot = 0u)) { picked() } }
        return tap { confirmPending() }.photos.last().id
    }

    @Test
    fun signingInShowsTheAccountsOwnPageAndAWrongPasswordSaysSo() {
        val screen = presenter()
        assertEquals(Session.SignedOut, screen.state.value.session)

        val refused = screen.tap { signIn(ZHANG, "wrong") }
        assertEquals(Notice.WrongPassword, refused.notice)
        assertEquals(Session.SignedOut, refused.session)

        screen.tap { dismissNotice() }
        val shown = screen.tap { signIn(" $ZHANG ", "Secret2026") }
        assertEquals(Session.SignedIn(ZHANG), shown.session)
        assertEquals("张三 的报名材料", shown.page?.districtName)
        assertNull(shown.notice)
        assertFalse(shown.busy)
        assertEquals(1, platform.pushRegistrations)
        assertEquals("signing in runs what this account left waiting", 1, platform.uploadsScheduled)
    }

    @Test
    fun aSessionThatEndsTakesTheCandidateBackToSignIn() {
        val screen = signedIn()
        core.endSession()
        val after = screen.tap { refresh() }
        assertEquals(Session.SignedOut, after.session)
        assertEquals(Notice.SessionEnded, after.notice)
        assertNull("the page is not left on the sign-in screen", after.page)
    }

    @Test
    fun aFirstEntryByLinkAsksForActivationAndSaysWhichRuleFailed() {
        val screen = presenter()
        val activating = screen.tap { enter("dossier://enter?ticket=ticket-li") }
        val session = activating.session as Session.Activating
        assertEquals("李四", session.name)

        val mismatch = screen.tap { activate("Li2026okay", "Li2026okey", "我的出生地？", "北京", true, true) }
        assertEquals(Notice.Refused("password_rules"), mismatch.notice)
        assertTrue(mismatch.session is Session.Activating)

        screen.tap { dismissNotice() }
        val active = screen.tap { activate("Li2026okay", "Li2026okay", "我的出生地？", "北京", true, true) }
        assertEquals(Session.SignedIn(LI), active.session)
        assertEquals("李四 的报名材料", active.page?.districtName)
    }

    @Test
    fun anActivationUnderWayOutlivesTheProcess() {
        val token = (presenter().tap { enter("ticket-li") }.session as Session.Activating).activationToken
        // The process ends; Android gives the view model its SavedStateHandle back.
        scope.cancel()
        scope = CoroutineScope(SupervisorJob() + dispatcher)
        val again = presenter(resumed = Session.Activating(token, "李四"))
        assertEquals(Session.Activating(token, "李四"), again.state.value.session)
        val active = again.tap { activate("Li2026okay", "Li2026okay", "我的出生地？", "北京", true, true) }
        assertEquals(Session.SignedIn(LI), active.session)
    }

    @Test
    fun aLinkWhileSignedInAsksFirstAndCancelKeepsTheSession() {
        val screen = signedIn()
        val asked = screen.tap { enter("dossier://enter?ticket=ticket-wang") }
        assertEquals(Question.SwitchAccount(ZHANG, "ticket-wang"), asked.question)
        assertEquals(Session.SignedIn(ZHANG), asked.session)

        val kept = screen.tap { dismissQuestion() }
        assertNull(kept.question)
        assertEquals(Session.SignedIn(ZHANG), kept.session)
        assertEquals("张三 的报名材料", kept.page?.districtName)
        assertTrue("the ticket was not used", "ticket-wang" in core.tickets)
    }

    @Test
    fun confirmingTheLinkEntersAsTheOtherAccountWhoNeverSeesTheFirstOnesPhotos() {
        val screen = signedIn()
        val zhangs = screen.queue()
        screen.tap { enter("dossier://enter?ticket=ticket-wang") }

        val wang = screen.tap { confirmSwitchAccount() }
        assertNull(wang.question)
        assertEquals(Session.SignedIn(WANG), wang.session)
        assertEquals("王五 的报名材料", wang.page?.districtName)
        assertTrue("another account's photos are not listed", wang.photos.isEmpty())

        // 王五 signs out (nothing of theirs waits, so nothing is asked) and 张三 is back: the photo too.
        assertEquals(Session.SignedOut, screen.tap { signOut() }.session)
        val zhang = screen.tap { signIn(ZHANG, "Secret2026") }
        assertEquals(listOf(zhangs), zhang.photos.map { it.id })
    }

    @Test
    fun aPickedPhotoIsShownWithItsWarningsAndStoredOnlyWhenConfirmed() {
        val screen = signedIn()
        preparer.warnings = listOf("blurry")
        val copy = picked()
        val checking = screen.tap { pickPhoto(PhotoTarget("diploma", slot = 0u)) { copy } }
        val pending = checking.pending!!
        assertEquals(listOf("blurry"), pending.prepared.warnings)
        assertTrue("the page found is outlined to adjust", pending.outline.showsOutline)
        assertTrue(pending.current)
        assertTrue("nothing is stored before the candidate confirms", checking.photos.isEmpty())

        val scheduled = platform.uploadsScheduled
        val stored = screen.tap { confirmPending() }
        assertNull(stored.pending)
        assertEquals(QueuedState.Waiting, stored.queuedFor("diploma").single().state)
        assertEquals(1, stored.unsent)
        assertEquals(scheduled + 1, platform.uploadsScheduled)
        assertFalse("the copy is deleted once stored", copy.exists())
    }

    @Test
    fun choosingAnotherPhotoStoresNothing() {
        val screen = signedIn()
        val copy = picked()
        screen.tap { pickPhoto(PhotoTarget("diploma")) { copy } }
        val after = screen.tap { discardPending() }
        assertNull(after.pending)
        assertTrue(after.photos.isEmpty())
        assertTrue(core.photos().isEmpty())
        assertFalse(copy.exists())
    }

    @Test
    fun theOutlineSwitchedToTheWholePhotoPreparesItAgainAndAPersonIsNeverCropped() {
        val screen = signedIn()
        val pending = screen.tap { pickPhoto(PhotoTarget("diploma")) { picked() } }.pending!!
        val whole = screen.tap { reframe(pending.outline.usingWholePhoto(true)) }.pending!!
        assertEquals(Framing.WholeFrame, preparer.framings.last())
        assertTrue("the photo shown is the one to confirm", whole.current)

        screen.tap { discardPending() }
        val person = screen.tap { pickPhoto(PhotoTarget("photo_with_id")) { picked() } }.pending!!
        assertEquals(Framing.Person, preparer.framings.last())
        assertFalse(person.outline.showsOutline)
    }

    @Test
    fun aPhotoThatCannotBeReadOrUsedIsExplainedNotCrashed() {
        val screen = signedIn()
        val unreadable = screen.tap { pickPhoto(PhotoTarget("diploma")) { throw IOException("gallery file gone") } }
        assertEquals(Notice.PhotoUnreadable, unreadable.notice)
        assertNull(unreadable.pending)

        screen.tap { dismissNotice() }
        preparer.refusal = DossierException.InvalidPhoto("unsupported_format", "HEIC/HEIF is not accepted")
        val copy = picked()
        val refused = screen.tap { pickPhoto(PhotoTarget("diploma")) { copy } }
        assertEquals(Notice.InvalidPhoto("unsupported_format"), refused.notice)
        assertNull(refused.pending)
        assertFalse(copy.exists())

        // Not a DossierException (UniFFI's own, a bug of ours): a notice all the same.
        screen.tap { dismissNotice() }
        preparer.refusal = null
        val odd = screen.tap { pickPhoto(PhotoTarget("diploma")) { throw IllegalStateException("unexpected") } }
        assertEquals(Notice.PhotoUnreadable, odd.notice)
        assertFalse(odd.busy)
    }

    @Test
    fun queueEventsShowProgressThenThePhotoInItsSlot() {
        val screen = signedIn()
        val id = screen.queue()

        core.change(id, QueuedState.Uploading)
        core.progress(id, 50_000u, 200_000u)
        val sending = screen.tap {}
        assertEquals(QueuedState.Uploading, sending.queuedFor("diploma").single().state)
        assertEquals(0.25f, sending.progress.getValue(id), 1e-6f)

        core.change(id, QueuedState.Uploaded("img-9"))
        core.stored("diploma", "img-9")
        val done = screen.tap {}
        assertTrue(done.queuedFor("diploma").isEmpty())
        assertFalse(id in done.progress)
        assertEquals(0, done.unsent)
        assertEquals(listOf("img-9"), done.page!!.materials.first { it.category == "diploma" }.images.map { it.id })
        assertTrue("its thumbnail is fetched", done.thumbnails.getValue("img-9").contentEquals(byteArrayOf(1, 2, 3)))
    }

    @Test
    fun anUploadRefusedForGoodIsToldOnceAndNoLongerWaits() {
        val screen = signedIn()
        val id = screen.queue()
        core.change(id, QueuedState.NeedsAttention("count_reached", "this category holds its maximum"))
        val told = screen.tap {}
        assertEquals(Notice.UploadRefused("毕业证书", "count_reached"), told.notice)
        assertTrue(told.queuedFor("diploma").single().state is QueuedState.NeedsAttention)
        assertEquals(0, told.unsent)

        screen.tap { dismissNotice() }
        core.change(id, QueuedState.NeedsAttention("count_reached", "this category holds its maximum"))
        assertNull("the same refusal is not told again", screen.tap {}.notice)
    }

    @Test
    fun offlineThePageIsTheCachedOneAndPhotosStillQueue() {
        signedIn()
        scope.cancel()
        scope = CoroutineScope(SupervisorJob() + dispatcher)
        core.online = false
        val screen = presenter()
        val start = screen.state.value
        assertEquals(Session.SignedIn(ZHANG), start.session)
        assertEquals("张三 的报名材料", start.page?.districtName)
        assertTrue("shown as offline, with its age", start.offline)
        assertNull("no dialog for being offline", start.notice)

        val queued = screen.run { queue(); state.value }
        assertEquals(QueuedState.Waiting, queued.queuedFor("diploma").single().state)

        assertEquals(Notice.NoConnection(null), screen.tap { submit() }.notice)
    }

    @Test
    fun submittingWithAMaterialMissingIsRefusedByItsCodeThenDone() {
        val screen = signedIn()
        assertEquals(Notice.Refused("missing_required"), screen.tap { submit() }.notice)
        core.pages[ZHANG] = core.pages.getValue(ZHANG).copy(missing = emptyList(), canSubmit = true)
        screen.tap { dismissNotice() }
        val submitted = screen.tap { submit() }
        assertEquals(Notice.Submitted, submitted.notice)
        assertEquals(DossierStatus.SUBMITTED, submitted.page?.status)
    }

    @Test
    fun signingOutWithWaitingPhotosAsksAndDiscardingEmptiesTheQueue() {
        val screen = signedIn()
        screen.queue()
        val asked = screen.tap { signOut() }
        assertEquals(Question.SignOut(unsent = 1), asked.question)
        assertEquals(Session.SignedIn(ZHANG), asked.session)

        assertEquals(Session.SignedIn(ZHANG), screen.tap { dismissQuestion() }.session)

        screen.tap { signOut() }
        val out = screen.tap { confirmSignOut(keepPhotos = false) }
        assertEquals(Session.SignedOut, out.session)
        assertNull(out.page)
        assertTrue(out.photos.isEmpty())

        val back = screen.tap { signIn(ZHANG, "Secret2026") }
        assertTrue("discarded photos do not come back", back.photos.isEmpty())
    }

    @Test
    fun keptPhotosWaitForTheSameAccountOnly() {
        val screen = signedIn()
        val id = screen.queue()
        screen.tap { signOut() }
        val out = screen.tap { confirmSignOut(keepPhotos = true) }
        assertEquals(Session.SignedOut, out.session)
        assertNull("the cached page goes either way", out.page)

        val wang = screen.tap { signIn(WANG, "Wang2026ok") }
        assertTrue(wang.photos.isEmpty())
        assertNull("nothing of 王五's waits: signed out without a question", screen.tap { signOut() }.question)

        val scheduled = platform.uploadsScheduled
        val zhang = screen.tap { signIn(ZHANG, "Secret2026") }
        assertEquals(listOf(id to QueuedState.Waiting), zhang.photos.map { it.id to it.state })
        assertEquals(scheduled + 1, platform.uploadsScheduled)
    }

    @Test
    fun signingOutOfflineStillSignsOutOnThePhone() {
        val screen = signedIn()
        core.online = false
        val out = screen.tap { signOut() }
        assertEquals(Session.SignedOut, out.session)
        assertNull(out.notice)
    }

    @Test
    fun readingAMessageLowersTheBadge() {
        core.messages[ZHANG] = mutableListOf(
            Message("m1", MessageType.RETURNED, "材料被退回", "毕业证书不清晰", listOf("diploma"), Instant.parse("2026-11-02T08:00:00Z"), false),
            Message("m0", MessageType.NOTICE, "欢迎", "请按时上传", emptyList(), Instant.parse("2026-11-01T08:00:00Z"), true),
        )
        core.pages[ZHANG] = core.pages.getValue(ZHANG).copy(unreadMessages = 1u)
        val screen = signedIn()
        val shown = screen.state.value
        assertEquals(1, shown.unread)
        assertEquals(listOf("m1", "m0"), shown.messages.map { it.id })

        val read = screen.tap { markRead(shown.messages.first()) }
        assertEquals(0, read.unread)
        assertTrue(read.messages.all { it.read })
    }

    @Test
    fun theTicketIsFoundInALinkOrPastedAlone() {
        assertEquals("abc.def", CandidatePresenter.ticketIn("dossier://enter?ticket=abc.def"))
        assertEquals("abc.def", CandidatePresenter.ticketIn("  abc.def \n"))
        assertEquals("abc", CandidatePresenter.ticketIn("dossier://enter?ticket=abc&from=sms"))
        assertNull(CandidatePresenter.ticketIn("   "))
    }

    @Test
    fun eachRunOutcomeSchedulesTheNextRun() {
        val at = Instant.parse("2026-11-03T10:15:00Z")
        assertEquals(UploadSchedule.Done, UploadSchedule.after(RunOutcome.Done))
        assertEquals(UploadSchedule.RetryAt(at), UploadSchedule.after(RunOutcome.RetryAt(at)))
        assertEquals(UploadSchedule.WhenOnline, UploadSchedule.after(RunOutcome.WaitingForNetwork))
        assertEquals(UploadSchedule.WhenOnWifi, UploadSchedule.after(RunOutcome.WaitingForWifi))
        assertEquals(UploadSchedule.AfterSignIn, UploadSchedule.after(RunOutcome.SignInNeeded))
        assertEquals(UploadSchedule.Soon, UploadSchedule.after(RunOutcome.Stopped))
    }

    @Test
    fun aRunThatFailsIsScheduledByWhatFailedAndACancelledOneStopsTheRustRun() {
        /** One run as the worker makes it; none when it is still going, and then it is cancelled. */
        fun runOnce(): UploadSchedule? {
            var schedule: UploadSchedule? = null
            val run = scope.launch { schedule = core.runUploads(Connection.METERED, wifiOnly = false) }
            dispatcher.runAll()
            if (run.isActive) run.cancel()
            dispatcher.runAll()
            return schedule
        }
        core.outcomes.addLast(RunOutcome.RetryAt(Instant.parse("2026-11-03T10:15:00Z")))
        assertEquals(UploadSchedule.RetryAt(Instant.parse("2026-11-03T10:15:00Z")), runOnce())
        core.runFailure = DossierException.Network("no connection", null)
        assertEquals(UploadSchedule.WhenOnline, runOnce())
        core.runFailure = DossierException.SignedOut("session expired")
        assertEquals(UploadSchedule.AfterSignIn, runOnce())
        core.runFailure = DossierException.Storage("disk full")
        assertEquals(UploadSchedule.Soon, runOnce())

        core.runFailure = null
        assertNull("a run under way until it is cancelled", runOnce())
        assertEquals("the cancelled coroutine stopped the queue's run", 1, core.stops)
    }

    private companion object {
        const val ZHANG = "110101199001011234"
        const val WANG = "110101199202023456"
        const val LI = "110101199303035678"
    }
}
