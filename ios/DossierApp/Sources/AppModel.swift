import DossierKit
import Foundation
import ImageIO
import SwiftUI
import UIKit

/// A photo prepared and shown to the candidate, stored only when they confirm.
struct PendingPhoto {
    let category: String
    let slot: UInt32?
    /// The picked photo, kept to prepare again until it is confirmed or discarded.
    let source: URL
    let document: Document
    var prepared: PreparedPhoto
    /// How `prepared` was framed; while it differs from the outline's, a new one is being prepared.
    var framing: Framing
    var preview: UIImage
    /// The whole photo upright, scaled down, for the outline; none for a photo of a person.
    let frame: UIImage?
    /// The page's outline as the candidate adjusts it.
    var outline: PageOutline

    /// The prepared photo is the one the outline says: it may be confirmed.
    var current: Bool { framing == outline.framing }
}

/// The screens' state over the one `DossierApp`. Every decision (may this upload, what is missing,
/// what a refusal means) comes from core through the bindings; this keeps what the screens show.
@MainActor
final class AppModel: ObservableObject {
    static let shared = AppModel()

    let dossier: DossierApp
    @Published var signedIn: Bool
    @Published var activation: (token: String, name: String)?
    @Published var page: DossierPage?
    @Published var photos: [QueuedPhoto] = []
    @Published var progress: [Int64: Double] = [:]
    @Published var messages: [Message] = []
    @Published var thumbnails: [String: UIImage] = [:]
    @Published var pending: PendingPhoto?
    @Published var busy = false
    /// One message for the candidate: a refusal's reason, or "上报完成，内容已锁定".
    @Published var notice: String?

    private init() {
        let server = Bundle.main.object(forInfoDictionaryKey: "DossierServerURL") as? String ?? "https://dossier.example.cn"
        let data = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
        try? FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // The queue's database cannot open only if the phone's storage fails; there is no app then.
        dossier = try! DossierApp(baseUrl: server, dataDir: data.path, tokens: KeychainTokens())
        signedIn = dossier.isSignedIn()
        page = try? dossier.cachedPage()
        _ = NetworkState.shared
        Task { [weak self] in
            guard let events = self?.dossier.events() else { return }
            for await event in events { self?.apply(event) }
        }
        if signedIn { Task { await refresh() } }
    }

    private func apply(_ event: QueueEvent) {
        switch event {
        case .photoChanged: photos = (try? dossier.photos()) ?? photos
        case .progress(let id, let sent, let total): progress[id] = Double(sent) / Double(max(total, 1))
        case .pageChanged(let page): Task { await show(page) }
        }
    }

    func refresh() async {
        await act {
            await self.show(try await self.dossier.refresh())
            self.messages = try await self.dossier.messages()
                .sorted { ($0.read ? 1 : 0, -$0.createdAt.timeIntervalSince1970) < ($1.read ? 1 : 0, -$1.createdAt.timeIntervalSince1970) }
            self.photos = try self.dossier.photos()
        }
    }

    func signIn(username: String, password: String) async {
        await act {
            try await self.dossier.signIn(username: username, password: password)
            await self.didSignIn()
        }
    }

    func enter(ticket: String) async {
        await act {
            switch try await self.dossier.enter(ticket: ticket) {
            case .activationNeeded(let token, let name): self.activation = (token, name)
            case .signedIn: await self.didSignIn()
            }
        }
    }

    func activate(_ activation: Activation) async {
        await act {
            try await self.dossier.activate(activation: activation)
            self.activation = nil
            await self.didSignIn()
        }
    }

    func signOut() async {
        await act { try await self.dossier.signOut() }
        signedIn = false
        page = nil
        messages = []
    }

    /// Prepare the photo at `url` (the picker's or the camera's, a file the model now owns until the
    /// photo is confirmed or discarded), its page found unless it shows a person; shown, and its page
    /// adjustable, before it is stored.
    func prepare(url: URL, category: String, slot: UInt32?) async {
        var kept = false
        defer { if !kept { try? FileManager.default.removeItem(at: url) } }
        await act {
            let document: Document = category == "id_card" ? .idCard : .a4
            let wholeFrame = self.page?.materials.first(where: { $0.category == category })?.wholeFrame ?? false
            let prepared = try await preparePhotoInBackground(
                path: url.path, document: document, framing: PageOutline.firstFraming(wholeFrame: wholeFrame))
            guard let preview = UIImage(data: prepared.jpeg) else { return }
            let outline = PageOutline(photo: prepared, wholeFrame: wholeFrame)
            self.pending = PendingPhoto(
                category: category, slot: slot, source: url, document: document, prepared: prepared,
                framing: outline.framing, preview: preview, frame: wholeFrame ? nil : uprightFrame(url),
                outline: outline)
            kept = true
        }
    }

    /// The outline settled (a handle let go, "use whole photo" switched): kept, and the photo
    /// prepared again when its framing changed; a result the outline has moved on from is dropped.
    func settle(_ outline: PageOutline) {
        guard var pending else { return }
        pending.outline = outline
        self.pending = pending
        let framing = outline.framing
        guard framing != pending.framing else { return }
        let source = pending.source
        let document = pending.document
        Task {
            await self.act {
                let prepared = try await preparePhotoInBackground(path: source.path, document: document, framing: framing)
                guard var now = self.pending, now.source == source, now.outline.framing == framing,
                      let preview = UIImage(data: prepared.jpeg) else { return }
                now.prepared = prepared
                now.framing = framing
                now.preview = preview
                self.pending = now
            }
        }
    }

    /// Confirmed: stored in the queue on the phone, uploaded now and by the background task.
    func confirmPending() async {
        guard let pending, pending.current else { return }
        await act {
            _ = try self.dossier.enqueue(category: pending.category, jpeg: pending.prepared.jpeg, slot: pending.slot, replaces: nil)
            self.pending = nil
            self.photos = try self.dossier.photos()
        }
        if self.pending == nil { try? FileManager.default.removeItem(at: pending.source) }
        await runQueue()
    }

    func discardPending() {
        if let pending { try? FileManager.default.removeItem(at: pending.source) }
        pending = nil
    }

    func delete(imageId: String) async {
        await act {
            try await self.dossier.deleteImage(imageId: imageId)
            await self.show(try await self.dossier.refresh())
        }
    }

    func submit() async {
        await act {
            let receipt = try await self.dossier.submit()
            await self.show(try await self.dossier.refresh())
            self.notice = receipt.isEmpty ? String(localized: "submit_done") : receipt
        }
    }

    func markRead(_ message: Message) async {
        guard !message.read else { return }
        await act {
            try await self.dossier.markRead(messageId: message.id)
            self.messages = self.messages.map { m in
                var m = m
                if m.id == message.id { m.read = true }
                return m
            }
        }
    }

    func registerPush(token: String) async {
        guard dossier.isSignedIn() else { return }
        try? await dossier.registerPush(platform: "apns", token: token)
    }

    func networkReturned() async {
        if ((try? dossier.retryNow()) ?? 0) > 0 { await runQueue() }
    }

    /// Run the queue while the app is open; the background task picks up what is left.
    private func runQueue() async {
        let outcome = try? await dossier.runQueue(connection: NetworkState.shared.connection, wifiOnly: false)
        switch outcome {
        case .retryAt(let at): BackgroundUploads.schedule(earliest: at)
        case .done, .signInNeeded: break
        default: BackgroundUploads.schedule()
        }
    }

    private func didSignIn() async {
        signedIn = true
        UIApplication.shared.registerForRemoteNotifications()
        await refresh()
        await runQueue()
    }

    private func show(_ page: DossierPage) async {
        self.page = page
        for image in page.materials.flatMap(\.images) where thumbnails[image.id] == nil {
            guard let bytes = try? await dossier.image(imageId: image.id), let picture = UIImage(data: bytes) else { continue }
            thumbnails[image.id] = picture.preparingThumbnail(of: CGSize(width: 240, height: 240)) ?? picture
        }
    }

    /// Runs a call; a refusal becomes the notice, a lost session the sign-in screen.
    private func act(_ body: () async throws -> Void) async {
        busy = true
        defer { busy = false }
        do {
            try await body()
        } catch let error as DossierError {
            notice = describe(error)
            if case .SignedOut = error { signedIn = false }
        } catch {
            notice = error.localizedDescription
        }
    }

    private func describe(_ error: DossierError) -> String {
        switch error {
        case .Network: return String(localized: "error_network")
        case .SignedOut: return String(localized: "error_signed_out")
        case .Locked(_, let reason), .Refused(_, let reason), .InvalidPhoto(_, let reason): return reason
        case .Storage: return String(localized: "error_storage")
        case .Bug(let reason): return reason
        }
    }
}

/// The photo at `url` upright (its EXIF orientation applied, as core applies it before giving the
/// page's corners) and at most 2048 pixels a side, to draw the outline over.
private func uprightFrame(_ url: URL) -> UIImage? {
    guard let source = CGImageSourceCreateWithURL(url as CFURL, nil) else { return nil }
    let options: [CFString: Any] = [
        kCGImageSourceCreateThumbnailFromImageAlways: true,
        kCGImageSourceCreateThumbnailWithTransform: true,
        kCGImageSourceThumbnailMaxPixelSize: 2048,
    ]
    guard let image = CGImageSourceCreateThumbnailAtIndex(source, 0, options as CFDictionary) else { return nil }
    return UIImage(cgImage: image)
}
