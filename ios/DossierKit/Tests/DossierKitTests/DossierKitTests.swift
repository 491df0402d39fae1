// The app's decisions that need no phone: what the candidate reads for core's codes, when the
// queue runs next, the entry link, which photos are still to send, the deadline's time (the
// screens themselves are CandidatePresenterTests'). Pure Swift: `swift test` on Linux against
// libdossier_ffi.so, or `xcodebuild test` on a Mac (ios/README.md).
import DossierKit
import XCTest

final class WordingTests: XCTestCase {
    func testEveryKnownWarningHasItsOwnTextAndAnUnknownOneAGeneralText() {
        XCTAssertEqual(Wording.warning("blurry"), "warning_blurry")
        XCTAssertEqual(Wording.warning("too_dark"), "warning_too_dark")
        XCTAssertEqual(Wording.warning("washed_out"), "warning_washed_out")
        XCTAssertEqual(Wording.warning("too_small"), "warning_too_small")
        XCTAssertEqual(Wording.warning("tilted"), "warning_other")
    }

    func testRefusalsAreWordedByTheirCodeNotTheServersEnglish() {
        XCTAssertEqual(text(.Refused(code: "count_reached", reason: "count reached")), "error_count_reached")
        XCTAssertEqual(text(.Refused(code: "ticket_used", reason: "ticket used")), "error_ticket_used")
        XCTAssertEqual(text(.Refused(code: "something_new", reason: "new")), "error_refused")
        XCTAssertEqual(text(.Locked(code: "window_closed", reason: "closed")), "error_window_closed")
        XCTAssertEqual(text(.Locked(code: "", reason: "locked")), "error_locked")
        XCTAssertEqual(text(.Bug(reason: "no queued item 3")), "error_bug")
    }

    func testAPhotoRefusalSaysWhatIsWrongWithThePhoto() {
        XCTAssertEqual(text(.InvalidPhoto(code: "unsupported_format", reason: "HEIC")), "photo_unsupported_format")
        XCTAssertEqual(text(.InvalidPhoto(code: "invalid_photo", reason: "bad")), "photo_invalid")
        XCTAssertEqual(Wording.attention("invalid_photo"), "photo_invalid")
        XCTAssertEqual(Wording.attention(nil), "error_refused")
    }

    func testARefusedSignInIsAWrongPasswordNotAnEndedSession() {
        XCTAssertEqual(Wording.notice(.wrongPassword), "error_wrong_password")
        XCTAssertEqual(text(.SignedOut(reason: "unauthorized")), "error_signed_out")
    }

    func testNoConnectionSaysHowLongToWaitWhenTheServerSaidSo() {
        XCTAssertEqual(text(.Network(reason: "down", retryAfterSecs: nil)), "error_network")
        XCTAssertEqual(text(.Network(reason: "too many sign-ins", retryAfterSecs: 90)), "error_try_later")
        XCTAssertEqual(Wording.waitMinutes(90), 2)
        XCTAssertEqual(Wording.waitMinutes(5), 1)
    }

    func testEveryOtherNoticeHasItsText() {
        XCTAssertEqual(Wording.notice(.submitted), "submit_done")
        XCTAssertEqual(Wording.notice(.photoUnreadable), "photo_unreadable")
        XCTAssertEqual(Wording.notice(.uploadRefused(material: "毕业证书", code: "count_reached")), "upload_refused")
        XCTAssertEqual(text(.Storage(reason: "disk")), "error_storage")
        XCTAssertEqual(Wording.notice(CandidatePresenter.noticeFor(CocoaError(.fileReadUnknown))), "error_bug")
    }

    /// The key of what the candidate reads after a call failed with `error`.
    private func text(_ error: DossierError) -> String {
        Wording.notice(CandidatePresenter.noticeFor(error))
    }
}

final class UploadScheduleTests: XCTestCase {
    func testEachRunOutcomeAsksForTheRightBackgroundRun() {
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(UploadSchedule.after(.done).backgroundRun, .withdrawn)
        XCTAssertEqual(UploadSchedule.after(.signInNeeded).backgroundRun, .withdrawn)
        XCTAssertEqual(UploadSchedule.after(.retryAt(at: at)).backgroundRun, .from(at))
        XCTAssertEqual(UploadSchedule.after(.waitingForNetwork).backgroundRun, .asSoonAsAllowed)
        XCTAssertEqual(UploadSchedule.after(.waitingForWifi).backgroundRun, .asSoonAsAllowed)
        XCTAssertEqual(UploadSchedule.after(.stopped).backgroundRun, .asSoonAsAllowed)
        XCTAssertEqual(UploadSchedule.afterEnqueue.backgroundRun, .asSoonAsAllowed)
    }

    func testAFailedRunIsTriedAgainUnlessTheSessionEnded() {
        XCTAssertEqual(UploadSchedule.afterFailure(DossierError.Network(reason: "down", retryAfterSecs: nil)), .whenOnline)
        XCTAssertEqual(UploadSchedule.afterFailure(DossierError.SignedOut(reason: "expired")), .afterSignIn)
        XCTAssertEqual(UploadSchedule.afterFailure(DossierError.Storage(reason: "disk")), .soon)
    }

    func testABackgroundTaskSucceedsUnlessItsRunWasCutOffOrFailed() {
        XCTAssertTrue(UploadSchedule.after(.done).ranToItsEnd)
        XCTAssertTrue(UploadSchedule.after(.waitingForNetwork).ranToItsEnd)
        XCTAssertFalse(UploadSchedule.after(.stopped).ranToItsEnd)
    }
}

final class AccountTests: XCTestCase {
    func testOnlyTheRegistrationSitesEntryLinkCarriesATicket() {
        XCTAssertEqual(EntryLink.ticket(in: URL(string: "dossier://enter?ticket=abc123")!), "abc123")
        XCTAssertNil(EntryLink.ticket(in: URL(string: "dossier://enter?ticket=")!))
        XCTAssertNil(EntryLink.ticket(in: URL(string: "dossier://other?ticket=abc")!))
        XCTAssertNil(EntryLink.ticket(in: URL(string: "https://enter?ticket=abc")!))
    }

    func testOnlyPhotosThatCanStillGoAreStillToSend() {
        XCTAssertTrue(photo(1, .waiting).stillToSend)
        XCTAssertTrue(photo(2, .uploading).stillToSend)
        XCTAssertTrue(photo(3, .held(code: "window_not_open", message: "not open")).stillToSend)
        XCTAssertFalse(photo(4, .needsAttention(code: "count_reached", message: "full")).stillToSend)
        XCTAssertFalse(photo(5, .uploaded(imageId: "i")).stillToSend)
        XCTAssertFalse(photo(6, .cancelled).stillToSend)
    }

    private func photo(_ id: Int64, _ state: QueuedState) -> QueuedPhoto {
        QueuedPhoto(id: id, category: "diploma", slot: nil, bytes: 1000, state: state, attempts: 0)
    }
}

final class BeijingTimeTests: XCTestCase {
    func testTheDeadlineReadsInBeijingTimeWhateverThePhonesZone() {
        // 2025-03-31 09:00 UTC is 17:00 in Beijing.
        XCTAssertEqual(BeijingTime.format(Date(timeIntervalSince1970: 1_743_411_600)), "2025-03-31 17:00")
    }
}
