// The candidate's screens as plain Swift: who is signed in, the materials page, the upload queue,
// the photo being checked before it is stored, the questions asked and the notices shown. The same
// names, states and rules as the Android library's CandidatePresenter.kt (whose JVM tests and
// CandidatePresenterTests.swift here are its specification). The SwiftUI app only draws `state`,
// forwards taps, and adds what only the phone has (the photo picker's file, decoding, BGTask,
// Keychain, notifications). Every decision of substance (what may be uploaded, what a refusal
// means, whose queue it is) comes from core through `DossierAppProtocol`; this keeps what the
// screens show and asks the candidate before anything is lost. No UIKit, no SwiftUI: `swift test`
// runs it on a Mac or on Linux (where there is no Combine, so no `ObservableObject` either).
#if canImport(Combine)
import Combine
#endif
import DossierFFI
import Foundation

/// Where a picked photo goes: a material's category, one of its slots, or in place of an image.
public struct PhotoTarget: Equatable, Sendable {
    public let category: String
    public let slot: UInt32?
    public let replaces: String?

    public init(category: String, slot: UInt32? = nil, replaces: String? = nil) {
        self.category = category
        self.slot = slot
        self.replaces = replaces
    }
}

/// Who is at the screen.
public enum Session: Equatable, Sendable {
    /// Reading the session and the cached page from the phone, a moment at start.
    case starting
    case signedOut
    /// Entered with a ticket for the first time: activation (账号激活) comes first.
    case activating(activationToken: String, name: String)
    /// `account` is the username whose session and queue these are (none only from an old version).
    case signedIn(account: String?)
}

/// A photo prepared and shown to the candidate, stored in the queue only when they confirm.
public struct PendingPhoto {
    public let target: PhotoTarget
    /// The picked photo, a file in the app's temporary folder: prepared again from it until
    /// confirmed or discarded, then deleted by the presenter.
    public let source: URL
    public let document: Document
    public internal(set) var prepared: PreparedPhoto
    /// How `prepared` was framed; while it differs from `outline`'s, a new one is being prepared.
    public internal(set) var framing: Framing
    /// The page's outline as the candidate adjusts it ("adjust the page").
    public internal(set) var outline: PageOutline

    /// The prepared photo is the one the outline says: it may be confirmed.
    public var current: Bool { framing == outline.framing }
}

/// Something to ask before acting, drawn as a dialog; `dismissQuestion()` is "cancel".
public enum Question: Equatable, Sendable {
    /// Signing out while `unsent` photos still wait: keep them for this account, or discard them.
    case signOut(unsent: Int)
    /// A `dossier://enter` link arrived while `account` is signed in: entering with it signs them
    /// out (their waiting photos stay theirs, sent when they sign in again).
    case switchAccount(account: String?, ticket: String)
}

/// One message for the candidate, drawn as a dialog until dismissed. Codes are core's and the
/// server's machine codes (`count_reached`, `unsupported_format`...): the app words them in the
/// candidate's language (`Wording.notice`), never showing the server's English reason.
public enum Notice: Equatable, Sendable {
    /// Submitted for review: 上报完成，内容已锁定.
    case submitted
    /// The server could not be reached; when it asked for a wait (too many sign-ins), how long.
    case noConnection(retryAfterSecs: UInt64?)
    /// The session ended (expired or revoked): sign in again.
    case sessionEnded
    /// The username or the password is wrong.
    case wrongPassword
    /// The material or dossier cannot change now: `locked`, `window_closed`, `window_not_open`.
    case locked(code: String)
    /// Refused for a reason the candidate fixes: `missing_required`, `password_rules`, `ticket_used`...
    case refused(code: String)
    /// The photo cannot be used: `unsupported_format`, `not_an_image`, `corrupt`, `invalid_photo`...
    case invalidPhoto(code: String)
    /// The picked photo could not be read (the library's file gone, iCloud unreachable, no space to copy).
    case photoUnreadable
    /// A queued photo of `material` was refused for good by the server (`code`, when it gave one).
    case uploadRefused(material: String, code: String?)
    /// The phone's own storage failed.
    case storageFailed
    /// Anything else: the app's own fault; try again.
    case failed
}

/// What the screens show; no platform types (thumbnails are JPEG bytes, decoded by the app), so
/// it is the same on a Mac, on Linux and on the phone.
public struct CandidateScreen {
    public var session: Session
    public var page: DossierPage?
    /// The last refresh found no connection: `page` is the one cached at its `fetchedAt`.
    public var offline: Bool
    /// The queue's photos of this account, oldest first, in every state.
    public var photos: [QueuedPhoto]
    /// Upload progress of photos being sent, 0...1, by queue id.
    public var progress: [Int64: Double]
    /// The reviewers' messages, unread first, newest first.
    public var messages: [Message]
    /// The JPEG bytes of uploaded images' thumbnails, by image id (the app decodes them).
    public var thumbnails: [String: Data]
    public var pending: PendingPhoto?
    /// A call is under way: buttons that would start another wait.
    public var busy: Bool
    public var question: Question?
    public var notice: Notice?

    public init(
        session: Session = .starting, page: DossierPage? = nil, offline: Bool = false,
        photos: [QueuedPhoto] = [], progress: [Int64: Double] = [:], messages: [Message] = [],
        thumbnails: [String: Data] = [:], pending: PendingPhoto? = nil, busy: Bool = false,
        question: Question? = nil, notice: Notice? = nil
    ) {
        self.session = session
        self.page = page
        self.offline = offline
        self.photos = photos
        self.progress = progress
        self.messages = messages
        self.thumbnails = thumbnails
        self.pending = pending
        self.busy = busy
        self.question = question
        self.notice = notice
    }

    /// Unread messages, for the badge.
    public var unread: Int { Int(page?.unreadMessages ?? 0) }

    /// Photos that still wait to be sent (waiting, uploading, or held until the material opens).
    public var unsent: Int { photos.filter(\.stillToSend).count }

    /// The queued photos to show under `category`'s card: all but the uploaded and cancelled.
    public func queuedFor(_ category: String) -> [QueuedPhoto] {
        photos.filter { photo in
            guard photo.category == category else { return false }
            switch photo.state {
            case .uploaded, .cancelled: return false
            case .waiting, .uploading, .held, .needsAttention: return true
            }
        }
    }
}

/// What the presenter asks of the platform, beyond the bindings.
@MainActor
public protocol CandidatePlatform: AnyObject {
    /// Run the upload queue now, in the background, once there is a network (iOS: a background
    /// run asked for, then a run while the app is open, with `beginBackgroundTask` time).
    func uploadNow()

    /// Signed in: ask to show notifications and register this phone for push (APNs).
    func registerForPush()
}

/// Core's photo pipeline; a fake in tests.
public protocol PhotoPreparer: Sendable {
    func prepare(path: String, document: Document, framing: Framing) throws -> PreparedPhoto
}

/// The pipeline of the bindings (`preparePhoto`).
public struct CorePhotoPreparer: PhotoPreparer {
    public init() {}

    public func prepare(path: String, document: Document, framing: Framing) throws -> PreparedPhoto {
        try preparePhoto(path: path, document: document, framing: framing)
    }
}

/// The screens' logic over one `DossierAppProtocol`. Actions return at once and run in tasks of
/// their own on the main actor; the bindings' blocking calls (SQLite with an fsync, the photo
/// pipeline, reading the picked photo) run off it (`inBackground`). A failure of any call ends as
/// a `Notice` at this boundary, so nothing thrown reaches the app.
@MainActor
public final class CandidatePresenter {
    #if canImport(Combine)
    @Published public private(set) var state = CandidateScreen()
    #else
    public private(set) var state = CandidateScreen()
    #endif

    /// Tickets entered with in this process (core takes each once): iOS may hand the same link
    /// again (a second tap, a restored scene), and the app ignores it then.
    public private(set) var enteredTickets: Set<String> = []

    private let dossier: any DossierAppProtocol
    private let platform: any CandidatePlatform
    private let preparer: any PhotoPreparer

    /// Calls under way, for `busy`.
    private var calls = 0
    /// Thumbnails asked for and not answered yet, so a page shown twice fetches each once.
    private var fetching: Set<String> = []
    /// The tasks the presenter started and that have not finished, for `settled()`.
    private var work: [Int: Task<Void, Never>] = [:]
    private var nextWork = 0
    /// The queue's events: what the listener delivered, and how many of them were handled.
    private let listener: StreamListener
    private var handled = 0
    private var events: Task<Void, Never>?
    /// Reading the session at start; an entry link that arrives meanwhile waits for it.
    private var started: Task<Void, Never>?
    private var closed = false

    /// `resumedActivation`: an `.activating` session under way when the process was ended.
    public init(
        dossier: any DossierAppProtocol,
        platform: any CandidatePlatform,
        preparer: any PhotoPreparer = CorePhotoPreparer(),
        resumedActivation: Session? = nil
    ) {
        self.dossier = dossier
        self.platform = platform
        self.preparer = preparer
        let (stream, listener) = dossier.countedEvents()
        self.listener = listener
        // The queue's events: pure state changes, and what they fetch is guarded on its own.
        events = Task { @MainActor [weak self] in
            for await event in stream {
                guard let self else { return }
                self.on(event)
                self.handled += 1
            }
        }
        started = act(failed: { [weak self] error in self?.startFailed(error) }) {
            try await self.loadSession(activating: resumedActivation)
            self.refresh()
        }
    }

    /// Returns once everything the presenter started has finished and every queue event
    /// delivered so far has been handled: the screen as it settles. Tests take each step this
    /// way (nothing is timed); the app awaits it after `refresh()` (pull to refresh, a push).
    public func settled() async {
        while true {
            if let next = work.values.first {
                await next.value
            } else if !closed, listener.delivered > handled {
                await Task.yield()
            } else {
                return
            }
        }
    }

    // MARK: - Session

    public func signIn(username: String, password: String) {
        act(failed: self.signInFailed) {
            try await self.dossier.signIn(username: username.trimmingCharacters(in: .whitespacesAndNewlines), password: password)
            try await self.signedIn()
        }
    }

    /// The registration site's link (`dossier://enter?ticket=…`) or its ticket pasted. While
    /// someone is signed in it asks first (`Question.switchAccount`), since entering signs them out.
    public func enter(_ linkOrTicket: String) {
        guard let ticket = EntryLink.ticket(typed: linkOrTicket) else { return }
        act {
            // A link that opened the app comes before the session is read: it must not be
            // answered by the sign-in screen's state, nor overwritten by it.
            await self.started?.value
            if try await self.io({ $0.isSignedIn() }) {
                let account = try await self.io { try $0.account() }
                self.update { $0.question = .switchAccount(account: account, ticket: ticket) }
            } else {
                try await self.enterWith(ticket)
            }
        }
    }

    /// "Enter with the link" confirmed: core signs the current account out as the new one enters.
    public func confirmSwitchAccount() {
        guard case .switchAccount(_, let ticket)? = state.question else { return }
        update { $0.question = nil }
        act { try await self.enterWith(ticket) }
    }

    /// Activation (账号激活) with the form's fields; the server checks the rules and says which failed.
    public func activate(
        password: String,
        passwordAgain: String,
        securityQuestion: String,
        securityAnswer: String,
        pledgeTruthfulness: Bool,
        pledgeDiscipline: Bool
    ) {
        guard case .activating(let token, _) = state.session else { return }
        let activation = Activation(
            activationToken: token, password: password, passwordAgain: passwordAgain,
            securityQuestion: securityQuestion, securityAnswer: securityAnswer,
            pledgeTruthfulness: pledgeTruthfulness, pledgeDiscipline: pledgeDiscipline)
        act {
            try await self.dossier.activate(activation: activation)
            try await self.signedIn()
        }
    }

    /// Back from activation: to the sign-in screen, or to the account still signed in.
    public func cancelActivation() {
        guard case .activating = state.session else { return }
        act { try await self.loadSession() }
    }

    /// Sign out. With photos still to send it asks first (`Question.signOut`); without, the
    /// account's queue and cached page go at once.
    public func signOut() {
        let unsent = state.unsent
        if unsent > 0 {
            update { $0.question = .signOut(unsent: unsent) }
        } else {
            signOutNow(keepPhotos: false)
        }
    }

    /// The answer to `Question.signOut`: keep the photos for this account's next sign-in, or
    /// discard them.
    public func confirmSignOut(keepPhotos: Bool) {
        guard case .signOut? = state.question else { return }
        update { $0.question = nil }
        signOutNow(keepPhotos: keepPhotos)
    }

    public func dismissQuestion() {
        update { $0.question = nil }
    }

    public func dismissNotice() {
        update { $0.notice = nil }
    }

    // MARK: - The materials page

    /// The page, messages and queue from the server (on start, on return to the app, on a push).
    public func refresh() {
        guard case .signedIn = state.session else { return }
        act(failed: self.refreshFailed) { try await self.refreshNow() }
    }

    public func deleteImage(_ imageId: String) {
        act {
            try await self.dossier.deleteImage(imageId: imageId)
            self.showPage(try await self.dossier.refresh())
        }
    }

    public func cancelUpload(_ id: Int64) {
        act {
            try await self.io { try $0.cancel(id: id) }
            let photos = try await self.io { try $0.photos() }
            self.update { $0.photos = photos }
        }
    }

    /// Submit for review (上报); everything locks.
    public func submit() {
        act {
            _ = try await self.dossier.submit()
            self.update { $0.notice = .submitted }
            self.showPage(try await self.dossier.refresh())
        }
    }

    public func markRead(_ message: Message) {
        guard !message.read else { return }
        act {
            try await self.dossier.markRead(messageId: message.id)
            self.update { s in
                let wasUnread = s.messages.contains { $0.id == message.id && !$0.read }
                s.messages = s.messages.map { m in
                    var m = m
                    if m.id == message.id { m.read = true }
                    return m
                }
                // The badge follows at once; the next page from the server says the same.
                if wasUnread, var page = s.page, page.unreadMessages > 0 {
                    page.unreadMessages -= 1
                    s.page = page
                }
            }
        }
    }

    // MARK: - A photo, from the picker or the camera to the queue

    /// Prepare a picked photo for `target`: `copy` brings it into the app's temporary folder (the
    /// picker's file transfer, a compatible JPEG; the camera's photo written as a JPEG), run off
    /// the main actor; the photo is then prepared (its page found, a photo of a person kept whole)
    /// and shown with its warnings. It is stored only on `confirmPending()`. The copied file is
    /// the presenter's from then on, deleted when done with.
    public func pickPhoto(_ target: PhotoTarget, copy: @escaping @Sendable () async throws -> URL) {
        act {
            let source: URL
            do {
                source = try await Task.detached(priority: .userInitiated) { try await copy() }.value
            } catch {
                self.update { $0.notice = .photoUnreadable }
                return
            }
            var kept = false
            defer { if !kept { removeFile(source) } }
            let material = self.state.page?.materials.first(where: { $0.category == target.category })
            let document = material?.document ?? .a4
            let wholeFrame = material?.wholeFrame ?? false
            let prepared = try await self.prepare(source, document: document,
                                                  framing: PageOutline.firstFraming(wholeFrame: wholeFrame))
            let outline = PageOutline(photo: prepared, wholeFrame: wholeFrame)
            let replaced = self.state.pending
            self.update {
                $0.pending = PendingPhoto(target: target, source: source, document: document,
                                          prepared: prepared, framing: outline.framing, outline: outline)
            }
            if let replaced { removeFile(replaced.source) }
            kept = true
        }
    }

    /// The outline settled (a handle let go, "use whole photo" switched): kept, and the photo
    /// prepared again when its framing changed. A result the outline has moved on from is dropped.
    public func reframe(_ outline: PageOutline) {
        guard let pending = state.pending else { return }
        update { $0.pending?.outline = outline }
        let framing = outline.framing
        guard framing != pending.framing else { return }
        act {
            let prepared = try await self.prepare(pending.source, document: pending.document, framing: framing)
            self.update { s in
                guard let now = s.pending, now.source == pending.source, now.outline.framing == framing else { return }
                s.pending?.prepared = prepared
                s.pending?.framing = framing
            }
        }
    }

    /// Confirmed: stored in the queue on the phone, then uploaded in the background.
    public func confirmPending() {
        guard let pending = state.pending, pending.current else { return }
        // Off the screen at once, so a second tap cannot queue it twice; back if it was not stored.
        update { $0.pending = nil }
        act(failed: { [weak self] error in
            self?.restore(pending)
            self?.tell(error)
        }) {
            let target = pending.target
            let jpeg = pending.prepared.jpeg
            let queued = try await self.io {
                try $0.enqueue(category: target.category, jpeg: jpeg, slot: target.slot, replaces: target.replaces)
            }
            self.update { $0.photos = $0.photos.upserting(queued) }
            removeFile(pending.source)
            self.platform.uploadNow()
        }
    }

    private func restore(_ pending: PendingPhoto) {
        if state.pending == nil {
            update { $0.pending = pending }
        } else {
            removeFile(pending.source)
        }
    }

    /// "Choose another": the prepared photo is dropped, nothing stored.
    public func discardPending() {
        guard let pending = state.pending else { return }
        update { $0.pending = nil }
        removeFile(pending.source)
    }

    /// The screen is gone for good: the photo being checked is not kept, the queue's events are
    /// no longer listened to, and what is under way is cancelled.
    public func close() {
        closed = true
        events?.cancel()
        work.values.forEach { $0.cancel() }
        if let pending = state.pending { removeFile(pending.source) }
    }

    // MARK: - Below the actions

    private func on(_ event: QueueEvent) {
        switch event {
        case .photoChanged(let photo):
            photoChanged(photo)
        case .progress(let id, let sent, let total):
            update { $0.progress[id] = Double(sent) / Double(max(total, 1)) }
        case .pageChanged(let page):
            // A run that ends after a sign-out still tells of the page it fetched: not shown.
            guard case .signedIn = state.session else { return }
            showPage(page)
            // New messages came with the page (a reviewer returned a material): fetch them.
            if state.unread != state.messages.filter({ !$0.read }).count {
                launch(failed: { _ in }) { try await self.loadMessages() }
            }
        }
    }

    private func photoChanged(_ photo: QueuedPhoto) {
        let before = state.photos.first { $0.id == photo.id }
        update { s in
            s.photos = s.photos.upserting(photo)
            if photo.state != .uploading { s.progress[photo.id] = nil }
        }
        guard case .needsAttention(let code, _) = photo.state else { return }
        if case .needsAttention? = before?.state { return }
        let material = state.page?.materials.first(where: { $0.category == photo.category })?.name ?? photo.category
        update { $0.notice = .uploadRefused(material: material, code: code) }
    }

    private func enterWith(_ ticket: String) async throws {
        switch try await dossier.enter(ticket: ticket) {
        case .activationNeeded(let token, let name):
            enteredTickets.insert(ticket)
            update { $0.session = .activating(activationToken: token, name: name) }
        case .signedIn:
            enteredTickets.insert(ticket)
            try await signedIn()
        }
    }

    /// Signed in, by password, link or activation: this account's page and queue, not the last one's.
    private func signedIn() async throws {
        update { s in s = CandidateScreen(session: s.session, busy: s.busy, notice: s.notice) }
        try await loadSession()
        platform.registerForPush()
        // Photos this account left waiting at its last sign-out go now.
        platform.uploadNow()
        refresh()
    }

    private func signOutNow(keepPhotos: Bool) {
        act {
            if let pending = self.state.pending { removeFile(pending.source) }
            var failure: Error?
            do {
                try await self.dossier.signOut(keepQueue: keepPhotos)
            } catch {
                failure = error
            }
            self.update { s in s = CandidateScreen(session: s.session, busy: s.busy) }
            try await self.loadSession()
            // Core signs out on the phone even when the server cannot be told; the server's
            // session then lapses by itself. Only a sign-out that did not happen here needs a word.
            if let failure, case .signedIn = self.state.session { self.tell(failure) }
        }
    }

    /// The session, queue and cached page as core has them on the phone.
    private func loadSession(activating: Session? = nil) async throws {
        let (signedIn, account, photos, page) = try await io { dossier -> (Bool, String?, [QueuedPhoto], DossierPage?) in
            let isIn = dossier.isSignedIn()
            return try (isIn, isIn ? dossier.account() : nil, dossier.photos(), isIn ? dossier.cachedPage() : nil)
        }
        update { s in
            if let activating, case .activating = activating {
                s.session = activating
            } else {
                s.session = signedIn ? .signedIn(account: account) : .signedOut
            }
            s.photos = photos
            s.page = page
        }
        if let page { fetchThumbnails(page) }
    }

    private func refreshNow() async throws {
        showPage(try await dossier.refresh())
        try await loadMessages()
        let photos = try await io { try $0.photos() }
        update { $0.photos = photos }
    }

    private func loadMessages() async throws {
        let messages = try await dossier.messages().sorted { a, b in
            a.read != b.read ? !a.read : a.createdAt > b.createdAt
        }
        update { $0.messages = messages }
    }

    /// A page fresh from the server.
    private func showPage(_ page: DossierPage) {
        update { s in
            s.page = page
            s.offline = false
        }
        fetchThumbnails(page)
    }

    /// Thumbnails of images not fetched yet (each ≤200 KB, fetched once); one that fails stays empty.
    private func fetchThumbnails(_ page: DossierPage) {
        var wanted: [String] = []
        for image in page.materials.flatMap(\.images)
        where state.thumbnails[image.id] == nil && !fetching.contains(image.id) {
            fetching.insert(image.id)
            wanted.append(image.id)
        }
        guard !wanted.isEmpty else { return }
        launch(failed: { _ in }) {
            for id in wanted {
                // Offline or gone: the slot shows its frame; the next page asks again.
                if let bytes = try? await self.dossier.image(imageId: id) {
                    self.update { $0.thumbnails[id] = bytes }
                }
                self.fetching.remove(id)
            }
        }
    }

    private func startFailed(_ error: Error) {
        // The phone's own storage could not be read: the sign-in screen rather than a blank one.
        if case .starting = state.session { update { $0.session = .signedOut } }
        tell(error)
    }

    private func refreshFailed(_ error: Error) {
        // Offline is a state of the page (shown with its age), not a dialog on every return.
        if let error = error as? DossierError, case .Network = error {
            update { $0.offline = true }
        } else {
            tell(error)
        }
    }

    private func signInFailed(_ error: Error) {
        // A wrong password comes back as "not signed in", like any refused session.
        if let error = error as? DossierError, case .SignedOut = error {
            update { $0.notice = .wrongPassword }
        } else {
            tell(error)
        }
    }

    /// A failure as the candidate sees it; a session that ended takes them to the sign-in screen.
    private func tell(_ error: Error) {
        if let error = error as? DossierError, case .SignedOut = error {
            if let pending = state.pending { removeFile(pending.source) }
            update { s in s = CandidateScreen(session: .signedOut, busy: s.busy, notice: .sessionEnded) }
        } else {
            update { $0.notice = Self.noticeFor(error) }
        }
    }

    /// The notice for a failed call.
    public static func noticeFor(_ error: Error) -> Notice {
        guard let error = error as? DossierError else { return .failed }
        switch error {
        case .Network(_, let retryAfterSecs): return .noConnection(retryAfterSecs: retryAfterSecs)
        case .SignedOut: return .sessionEnded
        case .Locked(let code, _): return .locked(code: code)
        case .Refused(let code, _): return .refused(code: code)
        case .InvalidPhoto(let code, _): return .invalidPhoto(code: code)
        case .Storage: return .storageFailed
        case .Bug: return .failed
        }
    }

    /// Runs an action in a task of its own, marked busy while it lasts; its failure goes to
    /// `failed` (by default, a notice).
    @discardableResult
    private func act(
        failed: (@MainActor (Error) -> Void)? = nil,
        _ body: @escaping @MainActor () async throws -> Void
    ) -> Task<Void, Never> {
        launch(failed: failed ?? { [weak self] error in self?.tell(error) }) {
            self.busy(+1)
            defer { self.busy(-1) }
            try await body()
        }
    }

    /// The boundary: anything thrown goes to `failed`, never further; a cancellation (the
    /// presenter closed) ends quietly.
    @discardableResult
    private func launch(
        failed: @escaping @MainActor (Error) -> Void,
        _ body: @escaping @MainActor () async throws -> Void
    ) -> Task<Void, Never> {
        nextWork += 1
        let key = nextWork
        let task = Task { @MainActor in
            do {
                try await body()
            } catch is CancellationError {
                // Closed: nothing to tell.
            } catch {
                failed(error)
            }
            self.work[key] = nil
        }
        // The task cannot start before this returns: it runs on the main actor, which this holds.
        work[key] = task
        return task
    }

    private func busy(_ change: Int) {
        calls += change
        let busy = calls > 0
        if state.busy != busy { update { $0.busy = busy } }
    }

    private func update(_ change: (inout CandidateScreen) -> Void) {
        var next = state
        change(&next)
        state = next
    }

    /// A blocking call of the bindings (SQLite with an fsync, the Keychain), off the main actor.
    private func io<T: Sendable>(_ call: @escaping @Sendable (any DossierAppProtocol) throws -> T) async throws -> T {
        let dossier = self.dossier
        return try await inBackground { try call(dossier) }
    }

    /// Core's photo pipeline on `source`, off the main actor.
    private func prepare(_ source: URL, document: Document, framing: Framing) async throws -> PreparedPhoto {
        let preparer = self.preparer
        let path = source.path
        return try await inBackground { try preparer.prepare(path: path, document: document, framing: framing) }
    }
}

#if canImport(Combine)
extension CandidatePresenter: ObservableObject {}
#endif

private func removeFile(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

extension Array where Element == QueuedPhoto {
    /// `photo` in place of the one with its id, or added at the end.
    fileprivate func upserting(_ photo: QueuedPhoto) -> [QueuedPhoto] {
        if contains(where: { $0.id == photo.id }) {
            return map { $0.id == photo.id ? photo : $0 }
        }
        return self + [photo]
    }
}
