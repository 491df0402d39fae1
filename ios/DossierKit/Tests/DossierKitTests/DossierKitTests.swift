// The app's decisions that need no phone: what the candidate reads for core's codes, when the
// queue runs next, the entry link, leaving an account, the deadline's time. Pure Swift: `swift
// test` on Linux against libdossier_ffi.so, or `xcodebuild test` on a Mac (ios/README.md).
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
        XCTAssertEqual(Wording.error(.Refused(code: "count_reached", reason: "count reached")), "error_count_reached")
        XCTAssertEqual(Wording.error(.Refused(code: "ticket_used", reason: "ticket used")), "error_ticket_used")
        XCTAssertEqual(Wording.error(.Refused(code: "something_new", reason: "new")), "error_refused")
        XCTAssertEqual(Wording.error(.Locked(code: "window_closed", reason: "closed")), "error_window_closed")
        XCTAssertEqual(Wording.error(.Locked(code: "", reason: "locked")), "error_locked")
        XCTAssertEqual(Wording.error(.Bug(reason: "no queued item 3")), "error_bug")
    }

    func testAPhotoRefusalSaysWhatIsWrongWithThePhoto() {
        XCTAssertEqual(Wording.error(.InvalidPhoto(code: "unsupported_format", reason: "HEIC")), "photo_unsupported_format")
        XCTAssertEqual(Wording.error(.InvalidPhoto(code: "invalid_photo", reason: "bad")), "photo_invalid")
        XCTAssertEqual(Wording.attention("invalid_photo"), "photo_invalid")
        XCTAssertEqual(Wording.attention(nil), "error_refused")
    }

    func testARefusedSignInIsAWrongPasswordNotAnEndedSession() {
        let refused = DossierError.SignedOut(reason: "unauthorized")
        XCTAssertEqual(Wording.error(refused, signingIn: true), "error_wrong_password")
        XCTAssertEqual(Wording.error(refused), "error_signed_out")
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

    func testAPastedLinkOrATypedTicketBothEnter() {
        XCTAssertEqual(EntryLink.ticket(typed: " dossier://enter?ticket=abc123\n"), "abc123")
        XCTAssertEqual(EntryLink.ticket(typed: " abc123 "), "abc123")
    }

    func testSigningOutAsksOnlyWhenPhotosWaitButALinkAlwaysAsks() {
        let waiting = photo(1, .waiting)
        let uploaded = photo(2, .uploaded(imageId: "i"))
        let refused = photo(3, .needsAttention(code: "count_reached", message: "full"))

        XCTAssertFalse(LeavingAccount(reason: .signOut, account: "a", photos: [uploaded]).asks)
        let signOut = LeavingAccount(reason: .signOut, account: "a", photos: [waiting, uploaded, refused])
        XCTAssertTrue(signOut.asks)
        XCTAssertEqual(signOut.unsentPhotos, 2)

        let link = LeavingAccount(reason: .enter(ticket: "t"), account: "a", photos: [])
        XCTAssertTrue(link.asks)
        XCTAssertEqual(link.ticket, "t")
        XCTAssertNil(signOut.ticket)
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
