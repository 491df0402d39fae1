// The candidate's screens (`CandidatePresenter`) as the candidate meets them, over a fake core
// (`FakeDossier`): what the screen shows, what it asks and what it says after each tap or queue
// event. The same cases as the Android library's CandidatePresenterTest.kt; the real bindings
// against the real server are the JVM tests' (android/README.md).
import DossierKit
import XCTest

private let zhang = "110101199001011234"
private let wang = "110101199202023456"
private let li = "110101199303035678"

/// One test's world: core with three candidates (李四 not activated yet, with a ticket; 王五
/// with one too), the platform, the pipeline, and a folder for picked photos.
@MainActor
private final class Fixture {
    let core = FakeDossier()
    let platform = RecordingPlatform()
    let preparer = FakePreparer()
    let cache: URL
    private var made: [CandidatePresenter] = []

    init() {
        core.candidate(zhang, name: "张三", password: "Secret2026")
        core.candidate(wang, name: "王五", password: "Wang2026ok")
        core.candidate(li, name: "李四", password: nil)
        core.tickets["ticket-li"] = li
        core.tickets["ticket-wang"] = wang
        cache = FileManager.default.temporaryDirectory
            .appendingPathComponent("picked-\(UUID().uuidString)", isDirectory: true)
        try? FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
    }

    /// The screens as the app starts them, once they have read the phone and the server.
    func presenter(resumed: Session? = nil) async -> CandidatePresenter {
        let presenter = CandidatePresenter(dossier: core, platform: platform, preparer: preparer, resumedActivation: resumed)
        made.append(presenter)
        await presenter.settled()
        return presenter
    }

    func signedIn(_ username: String = zhang, password: String = "Secret2026") async -> CandidatePresenter {
        let presenter = await presenter()
        await presenter.tap { $0.signIn(username: username, password: password) }
        return presenter
    }

    /// A photo the picker gave, copied into the app's folder.
    func picked() -> URL {
        let url = cache.appendingPathComponent("\(UUID().uuidString).img")
        try? Data([1, 2, 3]).write(to: url)
        return url
    }

    /// A photo picked for `category`, checked and confirmed: its queue id.
    func queue(_ screen: CandidatePresenter, category: String = "diploma") async -> Int64 {
        let copy = picked()
        await screen.tap { $0.pickPhoto(PhotoTarget(category: category, slot: 0)) { copy } }
        let stored = await screen.tap { $0.confirmPending() }
        return stored.photos.last?.id ?? -1
    }

    func end() {
        made.forEach { $0.close() }
        try? FileManager.default.removeItem(at: cache)
    }
}

extension CandidatePresenter {
    /// Taps, then lets everything it started run: the screen as the candidate then sees it.
    @discardableResult
    fileprivate func tap(_ action: (CandidatePresenter) -> Void) async -> CandidateScreen {
        action(self)
        await settled()
        return state
    }

    /// Activation with both passwords as given and the rest as a candidate fills it.
    fileprivate func activate(_ password: String, again: String) {
        activate(password: password, passwordAgain: again, securityQuestion: "我的出生地？", securityAnswer: "北京",
                 pledgeTruthfulness: true, pledgeDiscipline: true)
    }
}

private func exists(_ url: URL) -> Bool {
    FileManager.default.fileExists(atPath: url.path)
}

// Every test is async: a synchronous test of a main-actor class would be referred to from
// outside the main actor by Linux's test discovery.
@MainActor
final class CandidatePresenterTests: XCTestCase {
    func testSigningInShowsTheAccountsOwnPageAndAWrongPasswordSaysSo() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.presenter()
        XCTAssertEqual(screen.state.session, .signedOut)

        let refused = await screen.tap { $0.signIn(username: zhang, password: "wrong") }
        XCTAssertEqual(refused.notice, .wrongPassword)
        XCTAssertEqual(refused.session, .signedOut)

        await screen.tap { $0.dismissNotice() }
        let shown = await screen.tap { $0.signIn(username: " \(zhang) ", password: "Secret2026") }
        XCTAssertEqual(shown.session, .signedIn(account: zhang))
        XCTAssertEqual(shown.page?.districtName, "张三 的报名材料")
        XCTAssertNil(shown.notice)
        XCTAssertFalse(shown.busy)
        XCTAssertEqual(f.platform.pushRegistrations, 1)
        XCTAssertEqual(f.platform.uploadsScheduled, 1, "signing in runs what this account left waiting")
    }

    func testASessionThatEndsTakesTheCandidateBackToSignIn() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        f.core.endSession()
        let after = await screen.tap { $0.refresh() }
        XCTAssertEqual(after.session, .signedOut)
        XCTAssertEqual(after.notice, .sessionEnded)
        XCTAssertNil(after.page, "the page is not left on the sign-in screen")
    }

    func testAFirstEntryByLinkAsksForActivationAndSaysWhichRuleFailed() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.presenter()
        let activating = await screen.tap { $0.enter("dossier://enter?ticket=ticket-li") }
        guard case .activating(_, let name) = activating.session else {
            return XCTFail("not asked to activate: \(activating.session)")
        }
        XCTAssertEqual(name, "李四")

        let mismatch = await screen.tap { $0.activate("Li2026okay", again: "Li2026okey") }
        XCTAssertEqual(mismatch.notice, .refused(code: "password_rules"))
        XCTAssertEqual(mismatch.session, activating.session)

        await screen.tap { $0.dismissNotice() }
        let active = await screen.tap { $0.activate("Li2026okay", again: "Li2026okay") }
        XCTAssertEqual(active.session, .signedIn(account: li))
        XCTAssertEqual(active.page?.districtName, "李四 的报名材料")
    }

    func testAnActivationUnderWayOutlivesTheProcess() async {
        let f = Fixture()
        defer { f.end() }
        let first = await f.presenter()
        let entered = await first.tap { $0.enter("ticket-li") }
        guard case .activating(let token, _) = entered.session else {
            return XCTFail("not asked to activate: \(entered.session)")
        }
        // The process ends; the app gives the next one's presenter the activation it kept.
        first.close()
        let again = await f.presenter(resumed: .activating(activationToken: token, name: "李四"))
        XCTAssertEqual(again.state.session, .activating(activationToken: token, name: "李四"))
        let active = await again.tap { $0.activate("Li2026okay", again: "Li2026okay") }
        XCTAssertEqual(active.session, .signedIn(account: li))
    }

    func testALinkWhileSignedInAsksFirstAndCancelKeepsTheSession() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let asked = await screen.tap { $0.enter("dossier://enter?ticket=ticket-wang") }
        XCTAssertEqual(asked.question, .switchAccount(account: zhang, ticket: "ticket-wang"))
        XCTAssertEqual(asked.session, .signedIn(account: zhang))

        let kept = await screen.tap { $0.dismissQuestion() }
        XCTAssertNil(kept.question)
        XCTAssertEqual(kept.session, .signedIn(account: zhang))
        XCTAssertEqual(kept.page?.districtName, "张三 的报名材料")
        XCTAssertEqual(f.core.tickets["ticket-wang"], wang, "the ticket was not used")
        XCTAssertFalse(screen.enteredTickets.contains("ticket-wang"))
    }

    func testConfirmingTheLinkEntersAsTheOtherAccountWhoNeverSeesTheFirstOnesPhotos() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let zhangs = await f.queue(screen)
        await screen.tap { $0.enter("dossier://enter?ticket=ticket-wang") }

        let wangs = await screen.tap { $0.confirmSwitchAccount() }
        XCTAssertNil(wangs.question)
        XCTAssertEqual(wangs.session, .signedIn(account: wang))
        XCTAssertEqual(wangs.page?.districtName, "王五 的报名材料")
        XCTAssertTrue(wangs.photos.isEmpty, "another account's photos are not listed")
        XCTAssertTrue(screen.enteredTickets.contains("ticket-wang"), "the app ignores this link if iOS hands it again")

        // 王五 signs out (nothing of theirs waits, so nothing is asked) and 张三 is back: the photo too.
        let out = await screen.tap { $0.signOut() }
        XCTAssertEqual(out.session, .signedOut)
        let back = await screen.tap { $0.signIn(username: zhang, password: "Secret2026") }
        XCTAssertEqual(back.photos.map(\.id), [zhangs])
    }

    func testAPickedPhotoIsShownWithItsWarningsAndStoredOnlyWhenConfirmed() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        f.preparer.warnings = ["blurry"]
        let copy = f.picked()
        let checking = await screen.tap { $0.pickPhoto(PhotoTarget(category: "diploma", slot: 0)) { copy } }
        guard let pending = checking.pending else { return XCTFail("no photo to check: \(String(describing: checking.notice))") }
        XCTAssertEqual(pending.prepared.warnings, ["blurry"])
        XCTAssertTrue(pending.outline.showsOutline, "the page found is outlined to adjust")
        XCTAssertTrue(pending.current)
        XCTAssertTrue(checking.photos.isEmpty, "nothing is stored before the candidate confirms")

        let scheduled = f.platform.uploadsScheduled
        let stored = await screen.tap { $0.confirmPending() }
        XCTAssertNil(stored.pending)
        XCTAssertEqual(stored.queuedFor("diploma").map(\.state), [.waiting])
        XCTAssertEqual(stored.unsent, 1)
        XCTAssertEqual(f.platform.uploadsScheduled, scheduled + 1)
        XCTAssertFalse(exists(copy), "the copy is deleted once stored")
    }

    func testChoosingAnotherPhotoStoresNothing() async throws {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let copy = f.picked()
        await screen.tap { $0.pickPhoto(PhotoTarget(category: "diploma")) { copy } }
        let after = await screen.tap { $0.discardPending() }
        XCTAssertNil(after.pending)
        XCTAssertTrue(after.photos.isEmpty)
        XCTAssertTrue(try f.core.photos().isEmpty)
        XCTAssertFalse(exists(copy))
    }

    func testTheOutlineSwitchedToTheWholePhotoPreparesItAgainAndAPersonIsNeverCropped() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let copy = f.picked()
        let picked = await screen.tap { $0.pickPhoto(PhotoTarget(category: "diploma")) { copy } }
        guard let pending = picked.pending else { return XCTFail("no photo to check") }
        let whole = await screen.tap { $0.reframe(pending.outline.usingWholePhoto(true)) }
        XCTAssertEqual(f.preparer.framings.last, .wholeFrame)
        XCTAssertEqual(whole.pending?.current, true, "the photo shown is the one to confirm")

        await screen.tap { $0.discardPending() }
        let portrait = f.picked()
        let person = await screen.tap { $0.pickPhoto(PhotoTarget(category: "photo_with_id")) { portrait } }
        XCTAssertEqual(f.preparer.framings.last, .person)
        XCTAssertEqual(person.pending?.outline.showsOutline, false)
    }

    func testAPhotoThatCannotBeReadOrUsedIsExplainedNotCrashed() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let unreadable = await screen.tap {
            $0.pickPhoto(PhotoTarget(category: "diploma")) { throw CocoaError(.fileReadNoSuchFile) }
        }
        XCTAssertEqual(unreadable.notice, .photoUnreadable)
        XCTAssertNil(unreadable.pending)

        await screen.tap { $0.dismissNotice() }
        f.preparer.refusal = DossierError.InvalidPhoto(code: "unsupported_format", reason: "HEIC/HEIF is not accepted")
        let copy = f.picked()
        let refused = await screen.tap { $0.pickPhoto(PhotoTarget(category: "diploma")) { copy } }
        XCTAssertEqual(refused.notice, .invalidPhoto(code: "unsupported_format"))
        XCTAssertNil(refused.pending)
        XCTAssertFalse(exists(copy))

        // Not core's error (the system's, or a bug of ours): a notice all the same.
        await screen.tap { $0.dismissNotice() }
        f.preparer.refusal = CocoaError(.fileReadCorruptFile)
        let other = f.picked()
        let odd = await screen.tap { $0.pickPhoto(PhotoTarget(category: "diploma")) { other } }
        XCTAssertEqual(odd.notice, .failed)
        XCTAssertNil(odd.pending)
        XCTAssertFalse(odd.busy)
    }

    func testQueueEventsShowProgressThenThePhotoInItsSlot() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let id = await f.queue(screen)

        f.core.change(id, .uploading)
        f.core.progress(id, sent: 50_000, total: 200_000)
        let sending = await screen.tap { _ in }
        XCTAssertEqual(sending.queuedFor("diploma").map(\.state), [.uploading])
        XCTAssertEqual(sending.progress[id] ?? -1, 0.25, accuracy: 1e-9)

        f.core.change(id, .uploaded(imageId: "img-9"))
        f.core.stored("diploma", imageId: "img-9")
        let done = await screen.tap { _ in }
        XCTAssertTrue(done.queuedFor("diploma").isEmpty)
        XCTAssertNil(done.progress[id])
        XCTAssertEqual(done.unsent, 0)
        let diploma = done.page?.materials.first(where: { $0.category == "diploma" })
        XCTAssertEqual(diploma?.images.map(\.id), ["img-9"])
        XCTAssertEqual(done.thumbnails["img-9"], Data([1, 2, 3]), "its thumbnail is fetched")
    }

    func testAnUploadRefusedForGoodIsToldOnceAndNoLongerWaits() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let id = await f.queue(screen)
        let refusal = QueuedState.needsAttention(code: "count_reached", message: "this category holds its maximum")
        f.core.change(id, refusal)
        let told = await screen.tap { _ in }
        XCTAssertEqual(told.notice, .uploadRefused(material: "毕业证书", code: "count_reached"))
        XCTAssertEqual(told.queuedFor("diploma").map(\.state), [refusal])
        XCTAssertEqual(told.unsent, 0)

        await screen.tap { $0.dismissNotice() }
        f.core.change(id, refusal)
        let again = await screen.tap { _ in }
        XCTAssertNil(again.notice, "the same refusal is not told again")
    }

    func testOfflineThePageIsTheCachedOneAndPhotosStillQueue() async {
        let f = Fixture()
        defer { f.end() }
        let before = await f.signedIn()
        before.close()
        f.core.online = false
        let screen = await f.presenter()
        let start = screen.state
        XCTAssertEqual(start.session, .signedIn(account: zhang))
        XCTAssertEqual(start.page?.districtName, "张三 的报名材料")
        XCTAssertTrue(start.offline, "shown as offline, with its age")
        XCTAssertNil(start.notice, "no dialog for being offline")

        _ = await f.queue(screen)
        XCTAssertEqual(screen.state.queuedFor("diploma").map(\.state), [.waiting])

        let submitting = await screen.tap { $0.submit() }
        XCTAssertEqual(submitting.notice, .noConnection(retryAfterSecs: nil))
    }

    func testSubmittingWithAMaterialMissingIsRefusedByItsCodeThenDone() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let missing = await screen.tap { $0.submit() }
        XCTAssertEqual(missing.notice, .refused(code: "missing_required"))

        f.core.pages[zhang]?.missing = []
        f.core.pages[zhang]?.canSubmit = true
        await screen.tap { $0.dismissNotice() }
        let submitted = await screen.tap { $0.submit() }
        XCTAssertEqual(submitted.notice, .submitted)
        XCTAssertEqual(submitted.page?.status, .submitted)
    }

    func testSigningOutWithWaitingPhotosAsksAndDiscardingEmptiesTheQueue() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        _ = await f.queue(screen)
        let asked = await screen.tap { $0.signOut() }
        XCTAssertEqual(asked.question, .signOut(unsent: 1))
        XCTAssertEqual(asked.session, .signedIn(account: zhang))

        let stayed = await screen.tap { $0.dismissQuestion() }
        XCTAssertEqual(stayed.session, .signedIn(account: zhang))

        await screen.tap { $0.signOut() }
        let out = await screen.tap { $0.confirmSignOut(keepPhotos: false) }
        XCTAssertEqual(out.session, .signedOut)
        XCTAssertNil(out.page)
        XCTAssertTrue(out.photos.isEmpty)

        let back = await screen.tap { $0.signIn(username: zhang, password: "Secret2026") }
        XCTAssertTrue(back.photos.isEmpty, "discarded photos do not come back")
    }

    func testKeptPhotosWaitForTheSameAccountOnly() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        let id = await f.queue(screen)
        await screen.tap { $0.signOut() }
        let out = await screen.tap { $0.confirmSignOut(keepPhotos: true) }
        XCTAssertEqual(out.session, .signedOut)
        XCTAssertNil(out.page, "the cached page goes either way")

        let wangs = await screen.tap { $0.signIn(username: wang, password: "Wang2026ok") }
        XCTAssertTrue(wangs.photos.isEmpty)
        let wangOut = await screen.tap { $0.signOut() }
        XCTAssertNil(wangOut.question, "nothing of 王五's waits: signed out without a question")
        XCTAssertEqual(wangOut.session, .signedOut)

        let scheduled = f.platform.uploadsScheduled
        let zhangs = await screen.tap { $0.signIn(username: zhang, password: "Secret2026") }
        XCTAssertEqual(zhangs.photos.map(\.id), [id])
        XCTAssertEqual(zhangs.photos.map(\.state), [.waiting])
        XCTAssertEqual(f.platform.uploadsScheduled, scheduled + 1)
    }

    func testSigningOutOfflineStillSignsOutOnThePhone() async {
        let f = Fixture()
        defer { f.end() }
        let screen = await f.signedIn()
        f.core.online = false
        let out = await screen.tap { $0.signOut() }
        XCTAssertEqual(out.session, .signedOut)
        XCTAssertNil(out.notice)
    }

    func testReadingAMessageLowersTheBadge() async {
        let f = Fixture()
        defer { f.end() }
        // Oldest first, as the server may send them: the screen shows the unread one first.
        f.core.mailbox[zhang] = [
            Message(id: "m0", kind: .notice, title: "欢迎", body: "请按时上传", categories: [],
                    createdAt: date("2026-11-01T08:00:00Z"), read: true),
            Message(id: "m1", kind: .returned, title: "材料被退回", body: "毕业证书不清晰", categories: ["diploma"],
                    createdAt: date("2026-11-02T08:00:00Z"), read: false),
        ]
        f.core.pages[zhang]?.unreadMessages = 1
        let screen = await f.signedIn()
        let shown = screen.state
        XCTAssertEqual(shown.unread, 1)
        XCTAssertEqual(shown.messages.map(\.id), ["m1", "m0"])

        guard let unread = shown.messages.first else { return XCTFail("no messages") }
        let read = await screen.tap { $0.markRead(unread) }
        XCTAssertEqual(read.unread, 0)
        XCTAssertTrue(read.messages.allSatisfy(\.read))
    }

    func testTheTicketIsFoundInALinkOrPastedAlone() async {
        XCTAssertEqual(EntryLink.ticket(typed: "dossier://enter?ticket=abc.def"), "abc.def")
        XCTAssertEqual(EntryLink.ticket(typed: "  abc.def \n"), "abc.def")
        XCTAssertEqual(EntryLink.ticket(typed: "dossier://enter?ticket=abc&from=sms"), "abc")
        XCTAssertNil(EntryLink.ticket(typed: "   "))
    }

    func testEachRunOutcomeSchedulesTheNextRun() async {
        let at = date("2026-11-03T10:15:00Z")
        XCTAssertEqual(UploadSchedule.after(.done), .done)
        XCTAssertEqual(UploadSchedule.after(.retryAt(at: at)), .retryAt(at))
        XCTAssertEqual(UploadSchedule.after(.waitingForNetwork), .whenOnline)
        XCTAssertEqual(UploadSchedule.after(.waitingForWifi), .whenOnWifi)
        XCTAssertEqual(UploadSchedule.after(.signInNeeded), .afterSignIn)
        XCTAssertEqual(UploadSchedule.after(.stopped), .soon)
    }

    func testARunThatFailsIsScheduledByWhatFailedAndACancelledOneStopsTheRustRun() async {
        let core = FakeDossier()
        let at = date("2026-11-03T10:15:00Z")
        core.outcomes.append(.retryAt(at: at))
        let retry = await core.runUploads(connection: .metered, wifiOnly: false)
        XCTAssertEqual(retry, .retryAt(at))

        core.runFailure = DossierError.Network(reason: "no connection", retryAfterSecs: nil)
        let offline = await core.runUploads(connection: .metered, wifiOnly: false)
        XCTAssertEqual(offline, .whenOnline)
        core.runFailure = DossierError.SignedOut(reason: "session expired")
        let signedOut = await core.runUploads(connection: .metered, wifiOnly: false)
        XCTAssertEqual(signedOut, .afterSignIn)
        core.runFailure = DossierError.Storage(reason: "disk full")
        let storage = await core.runUploads(connection: .metered, wifiOnly: false)
        XCTAssertEqual(storage, .soon)

        // A run with nothing to end it goes on until its task is cancelled (the background time is up).
        core.runFailure = nil
        let run = Task { await core.runUploads(connection: .metered, wifiOnly: false) }
        await core.untilRunning()
        XCTAssertEqual(core.stops, 0, "a run under way until it is cancelled")
        run.cancel()
        let cut = await run.value
        XCTAssertEqual(cut, .soon, "the run answered at once, cut off")
        XCTAssertEqual(core.stops, 1, "the cancelled task stopped the queue's run")
    }
}
