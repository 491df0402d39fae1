// What the presenter's tests drive it with: core in memory (`FakeDossier`), the photo pipeline
// (`FakePreparer`) and the platform's scheduler (`RecordingPlatform`), the same fakes as the
// Android library's PresenterFakes.kt. Every step is taken when the test says
// (`CandidatePresenter.settled()`), and nothing is timed.
import DossierKit
import Foundation

/// A moment written as the server writes it.
func date(_ iso8601: String) -> Date {
    ISO8601DateFormatter().date(from: iso8601)!
}

@MainActor
final class RecordingPlatform: CandidatePlatform {
    var uploadsScheduled = 0
    var pushRegistrations = 0

    func uploadNow() { uploadsScheduled += 1 }

    func registerForPush() { pushRegistrations += 1 }
}

/// Core's pipeline as far as the screens see it: the framing asked for, warnings, a refusal. Called
/// off the main actor; the test sets `warnings` and `refusal` only while nothing runs.
final class FakePreparer: PhotoPreparer, @unchecked Sendable {
    var warnings: [String] = []
    var refusal: Error?
    private let lock = NSLock()
    private var asked: [Framing] = []

    /// The framings asked for, in order.
    var framings: [Framing] { locked { asked } }

    func prepare(path: String, document: Document, framing: Framing) throws -> PreparedPhoto {
        try locked { () throws -> PreparedPhoto in
            if let refusal { throw refusal }
            guard FileManager.default.fileExists(atPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
            asked.append(framing)
            var page = "whole_frame"
            var corners: [Corner] = []
            switch framing {
            case .corners(let given):
                page = "given"
                corners = given
            case .findPage:
                page = "found"
                corners = [Corner(x: 0.1, y: 0.1), Corner(x: 0.9, y: 0.12), Corner(x: 0.88, y: 0.9), Corner(x: 0.12, y: 0.88)]
            case .wholeFrame, .person:
                break
            }
            return PreparedPhoto(
                jpeg: Data(repeating: 7, count: 150_000), width: 1240, height: 1754, quality: 82,
                sourceOrientation: 1, sourceBytes: 3_100_000, warnings: warnings, pageCorners: corners,
                page: page, pageConfidence: 0.9, turnedDegrees: 0, frameWidth: 4000, frameHeight: 3000)
        }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// Unsubscribes when released, as the generated `Subscription` does.
final class FakeSubscription: Subscription {
    private let ended: @Sendable () -> Void

    init(ended: @escaping @Sendable () -> Void) {
        self.ended = ended
        super.init(noHandle: Subscription.NoHandle())
    }

    required init(unsafeFromHandle handle: UInt64) {
        ended = {}
        super.init(unsafeFromHandle: handle)
    }

    deinit { ended() }
}

/// Core in memory, as faithful as the presenter needs: candidates with passwords (none until
/// activated), single-use tickets, one session, and a queue that records whose each photo is and
/// lists and sends only the signed-in account's, as `core::queue` does. Errors are the bindings'
/// (a wrong password comes back as `SignedOut`, as the server's 401 does). The presenter calls it
/// from the main actor and from background tasks, so its state is behind a lock; the test changes
/// the public fields only between steps, while nothing runs.
final class FakeDossier: DossierAppProtocol, @unchecked Sendable {
    final class Candidate {
        let username: String
        let name: String
        var password: String?

        init(username: String, name: String, password: String?) {
            self.username = username
            self.name = name
            self.password = password
        }
    }

    private final class Item {
        var photo: QueuedPhoto
        var account: String?

        init(photo: QueuedPhoto, account: String?) {
            self.photo = photo
            self.account = account
        }
    }

    var candidates: [String: Candidate] = [:]
    /// Ticket → username.
    var tickets: [String: String] = [:]
    /// The server's materials page of each account.
    var pages: [String: DossierPage] = [:]
    /// The reviewers' messages of each account.
    var mailbox: [String: [Message]] = [:]
    var images: [String: Data] = [:]
    var online = true
    /// How the next runs end; with none left a run goes on until it is stopped.
    var outcomes: [RunOutcome] = []
    var runFailure: Error?

    private let lock = NSRecursiveLock()
    private var session: String?
    private var owner: String?
    private var cached: DossierPage?
    private var items: [Item] = []
    private var activations: [String: String] = [:]
    private var listeners: [ObjectIdentifier: QueueEvents] = [:]
    private var nextId: Int64 = 1
    private var stopCount = 0
    private var running: [CheckedContinuation<RunOutcome, Never>] = []
    private var waitingForRun: [CheckedContinuation<Void, Never>] = []

    /// How many times `stopQueue()` was called.
    var stops: Int { locked { stopCount } }

    func candidate(_ username: String, name: String, password: String?) {
        locked {
            candidates[username] = Candidate(username: username, name: name, password: password)
            pages[username] = Self.page(district: "\(name) 的报名材料")
        }
    }

    /// The session expired or was revoked at the server: every call now says so.
    func endSession() {
        locked { session = nil }
    }

    /// The upload queue's run, as the background task drives it: a photo's state changes.
    func change(_ id: Int64, _ state: QueuedState) {
        locked {
            guard let item = items.first(where: { $0.photo.id == id }) else { return }
            item.photo.state = state
            let photo = item.photo
            listeners.values.forEach { $0.photoChanged(photo: photo) }
        }
    }

    func progress(_ id: Int64, sent: UInt64, total: UInt64) {
        locked { listeners.values.forEach { $0.uploadProgress(id: id, sent: sent, total: total) } }
    }

    /// The server stored `imageId` in `category`'s next slot; the run's refresh tells of the new page.
    func stored(_ category: String, imageId: String) {
        locked {
            guard let user = session, var page = pages[user] else { return }
            page.materials = page.materials.map { material in
                guard material.category == category else { return material }
                var material = material
                material.images.append(SlotImage(id: imageId, slot: UInt32(material.images.count), locked: false, bytes: 150_000))
                return material
            }
            pages[user] = page
            images[imageId] = Data([1, 2, 3])
            cached = page
            listeners.values.forEach { $0.dossierChanged(page: page) }
        }
    }

    /// Returns once a run is under way (waiting to be stopped).
    func untilRunning() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = self.locked { () -> Bool in
                if !self.running.isEmpty { return true }
                self.waitingForRun.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    // MARK: - DossierAppProtocol

    func account() throws -> String? {
        locked { owner }
    }

    func activate(activation: Activation) async throws {
        try locked {
            try server()
            guard let username = activations[activation.activationToken] else {
                throw DossierError.Refused(code: "ticket_invalid", reason: "this link is not valid")
            }
            guard activation.password == activation.passwordAgain else {
                throw DossierError.Refused(code: "password_rules", reason: "the two passwords differ")
            }
            guard activation.pledgeTruthfulness, activation.pledgeDiscipline else {
                throw DossierError.Refused(code: "pledges_required", reason: "both pledges must be accepted")
            }
            candidates[username]?.password = activation.password
            activations[activation.activationToken] = nil
            signedIn(username)
        }
    }

    func cachedPage() throws -> DossierPage? {
        locked { cached }
    }

    func cancel(id: Int64) throws {
        try locked {
            guard let item = own().first(where: { $0.photo.id == id && !Self.isUploaded($0.photo.state) }) else {
                throw DossierError.Bug(reason: "no queued item \(id)")
            }
            change(item.photo.id, .cancelled)
        }
    }

    func deleteImage(imageId: String) async throws {
        try locked {
            try server()
            let user = try currentUser()
            guard var page = pages[user] else { return }
            page.materials = page.materials.map { material in
                var material = material
                material.images.removeAll { $0.id == imageId }
                return material
            }
            pages[user] = page
        }
    }

    func enqueue(category: String, jpeg: Data, slot: UInt32?, replaces: String?) throws -> QueuedPhoto {
        locked { () -> QueuedPhoto in
            let photo = QueuedPhoto(id: nextId, category: category, slot: slot, bytes: UInt64(jpeg.count),
                                    state: .waiting, attempts: 0)
            nextId += 1
            items.append(Item(photo: photo, account: owner))
            listeners.values.forEach { $0.photoChanged(photo: photo) }
            return photo
        }
    }

    func enter(ticket: String) async throws -> EntryResult {
        try locked { () throws -> EntryResult in
            try server()
            guard let username = tickets.removeValue(forKey: ticket), let candidate = candidates[username] else {
                throw DossierError.Refused(code: "ticket_used", reason: "this link was used already")
            }
            guard candidate.password != nil else {
                let token = "activation-of-\(username)"
                activations[token] = username
                return .activationNeeded(activationToken: token, name: candidate.name)
            }
            signedIn(username)
            return .signedIn(username: username)
        }
    }

    func image(imageId: String) async throws -> Data {
        try locked { () throws -> Data in
            try server()
            _ = try currentUser()
            guard let bytes = images[imageId] else { throw DossierError.Refused(code: "not_found", reason: "not found") }
            return bytes
        }
    }

    func isSignedIn() -> Bool {
        locked { session != nil }
    }

    func markRead(messageId: String) async throws {
        try locked {
            try server()
            let user = try currentUser()
            var list = mailbox[user] ?? []
            guard let index = list.firstIndex(where: { $0.id == messageId }), !list[index].read else { return }
            list[index].read = true
            mailbox[user] = list
            if var page = pages[user], page.unreadMessages > 0 {
                page.unreadMessages -= 1
                pages[user] = page
            }
        }
    }

    func messages() async throws -> [Message] {
        try locked { () throws -> [Message] in
            try server()
            return mailbox[try currentUser()] ?? []
        }
    }

    func photos() throws -> [QueuedPhoto] {
        locked { own().map(\.photo) }
    }

    func refresh() async throws -> DossierPage {
        try locked { () throws -> DossierPage in
            try server()
            let user = try currentUser()
            guard var page = pages[user] else { throw DossierError.Bug(reason: "no page for \(user)") }
            page.fetchedAt = Date()
            cached = page
            listeners.values.forEach { $0.dossierChanged(page: page) }
            return page
        }
    }

    func registerPush(platform: String, token: String) async throws {
        try locked {
            try server()
            _ = try currentUser()
        }
    }

    func retryNow() throws -> UInt32 {
        0
    }

    /// Ends as `outcomes` says, or goes on until `stopQueue()`, then answers `stopped` as core's
    /// run does. A stop before the run began does not end it, as in core.
    func runQueue(connection: Connection, wifiOnly: Bool) async throws -> RunOutcome {
        let next = try locked { () throws -> RunOutcome? in
            if let runFailure { throw runFailure }
            return outcomes.isEmpty ? nil : outcomes.removeFirst()
        }
        if let next { return next }
        return await withCheckedContinuation { (continuation: CheckedContinuation<RunOutcome, Never>) in
            let waiting = self.locked { () -> [CheckedContinuation<Void, Never>] in
                self.running.append(continuation)
                defer { self.waitingForRun = [] }
                return self.waitingForRun
            }
            waiting.forEach { $0.resume() }
        }
    }

    func signIn(username: String, password: String) async throws {
        try locked {
            try server()
            guard let candidate = candidates[username], let known = candidate.password, known == password else {
                throw DossierError.SignedOut(reason: "wrong_password")
            }
            signedIn(username)
        }
    }

    /// As core: signed out on the phone first, the server told after (its failure thrown then).
    func signOut(keepQueue: Bool) async throws {
        try locked {
            if !keepQueue { items.removeAll { $0.account == owner } }
            cached = nil
            owner = nil
            session = nil
            try server()
        }
    }

    func stopQueue() {
        let stopped = locked { () -> [CheckedContinuation<RunOutcome, Never>] in
            stopCount += 1
            defer { running = [] }
            return running
        }
        stopped.forEach { $0.resume(returning: .stopped) }
    }

    func submit() async throws -> String {
        try locked { () throws -> String in
            try server()
            let user = try currentUser()
            guard var page = pages[user] else { throw DossierError.Bug(reason: "no page for \(user)") }
            guard page.missing.isEmpty else {
                throw DossierError.Refused(code: "missing_required", reason: "required materials are missing")
            }
            page.status = .submitted
            page.canSubmit = false
            pages[user] = page
            return "上报完成，内容已锁定"
        }
    }

    func subscribe(events: QueueEvents) -> Subscription {
        let key = ObjectIdentifier(events)
        locked { listeners[key] = events }
        return FakeSubscription { [weak self] in self?.unsubscribe(key) }
    }

    // MARK: - Below

    private func unsubscribe(_ key: ObjectIdentifier) {
        locked { listeners[key] = nil }
    }

    private func server() throws {
        if !online { throw DossierError.Network(reason: "no connection", retryAfterSecs: nil) }
    }

    private func currentUser() throws -> String {
        guard let session else { throw DossierError.SignedOut(reason: "sign in first") }
        return session
    }

    private func signedIn(_ username: String) {
        session = username
        if owner != username {
            cached = nil
            owner = username
            items.filter { $0.account == nil }.forEach { $0.account = username }
        }
    }

    private func own() -> [Item] {
        items.filter { $0.account == owner }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static func isUploaded(_ state: QueuedState) -> Bool {
        if case .uploaded = state { return true }
        return false
    }

    static func material(_ category: String, name: String, document: Document = .a4, wholeFrame: Bool = false) -> MaterialCard {
        MaterialCard(
            category: category, name: name, description: "", status: .open, locked: false, required: true,
            canUpload: true, condition: nil, minImages: 1, maxImages: 2, slotLabels: [], exampleUrl: nil,
            images: [], note: nil, document: document, wholeFrame: wholeFrame)
    }

    static func page(district: String) -> DossierPage {
        DossierPage(
            districtName: district, status: .draft, window: .open, uploadClosesAt: date("2026-11-20T09:00:00Z"),
            canSubmit: false, missing: ["diploma"],
            materials: [
                material("id_card", name: "身份证", document: .idCard),
                material("diploma", name: "毕业证书"),
                material("photo_with_id", name: "本人手持身份证照片", wholeFrame: true),
            ],
            unreadMessages: 0, fetchedAt: Date())
    }
}
