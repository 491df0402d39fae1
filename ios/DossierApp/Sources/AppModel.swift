import DossierKit
import Foundation
import ImageIO
import PhotosUI
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
/// what a refusal means, whose photos these are) comes from core through the bindings or from
/// DossierKit's plain Swift; this keeps what the screens show. Nothing that touches SQLite or
/// decodes an image runs on the main actor: those go through `inBackground`.
@MainActor
final class AppModel: ObservableObject {
    static let shared = AppModel()

    let dossier: DossierApp
    @Published var signedIn: Bool
    /// The account whose session and queue these are (core's `account()`); nil when signed out.
    @Published var account: String?
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
    /// Leaving the account, while the candidate is asked (photos waiting, or an entry link).
    @Published var leaving: LeavingAccount?

    /// Tickets entered with already: iOS may hand the same link again (a second tap, a restored
    /// scene), and a ticket is used once.
    private var enteredTickets: Set<String> = []
    /// Only the latest `photos()` read is shown: reads finish out of order.
    private var photosAsked = 0

    private init() {
        dossier = Runtime.dossier
        signedIn = dossier.isSignedIn()
        // Nothing is pending at launch: a photo picked or taken before the app ended is gone.
        PhotoFiles.removeLeftovers()
        Task { [weak self] in
            guard let events = self?.dossier.events() else { return }
            for await event in events { self?.apply(event) }
        }
        Task { await self.loadStored() }
        if signedIn {
            Task {
                await self.refresh()
                await self.becameActive()
            }
        }
    }

    /// The unread messages, as the messages button's badge shows them.
    var unread: Int {
        messages.isEmpty ? Int(page?.unreadMessages ?? 0) : messages.filter { !$0.read }.count
    }

    private func apply(_ event: QueueEvent) {
        switch event {
        case .photoChanged: Task { await self.reloadPhotos() }
        case .progress(let id, let sent, let total): progress[id] = Double(sent) / Double(max(total, 1))
        case .pageChanged(let page): Task { await self.show(page) }
        }
    }

    /// What the phone kept from the last time: the page (to show offline), the queue, the account.
    private func loadStored() async {
        let dossier = self.dossier
        if let stored = try? await inBackground({ (try dossier.cachedPage(), try dossier.account()) }) {
            if page == nil { page = stored.0 }
            account = stored.1
        }
        await reloadPhotos()
    }

    private func reloadPhotos() async {
        photosAsked += 1
        let asked = photosAsked
        let dossier = self.dossier
        guard let photos = try? await inBackground({ try dossier.photos() }), asked == photosAsked else { return }
        self.photos = photos
    }

    func refresh() async {
        let dossier = self.dossier
        await act {
            await self.show(try await dossier.refresh())
            self.messages = try await dossier.messages()
                .sorted { ($0.read ? 1 : 0, -$0.createdAt.timeIntervalSince1970) < ($1.read ? 1 : 0, -$1.createdAt.timeIntervalSince1970) }
            // The refresh told core whose session this is.
            self.account = try await inBackground { try dossier.account() }
        }
        await reloadPhotos()
    }

    func signIn(username: String, password: String) async {
        await act(signingIn: true) {
            try await self.dossier.signIn(username: username, password: password)
            await self.didSignIn()
        }
    }

    /// A `dossier://enter?ticket=…` link. Signed out, it enters at once; signed in, the candidate
    /// is asked first, since the link may be another account's (it signs this one out, and this
    /// account's waiting photos are kept for it or discarded, never sent by another).
    func open(_ url: URL) async {
        guard let ticket = EntryLink.ticket(in: url), !enteredTickets.contains(ticket),
              leaving?.ticket != ticket else { return }
        if signedIn {
            await reloadPhotos()
            leaving = LeavingAccount(reason: .enter(ticket: ticket), account: account, photos: photos)
        } else {
            await enter(ticket: ticket)
        }
    }

    /// Enter with a ticket (the link's, or typed on the entry screen while signed out).
    func enter(ticket: String) async {
        await act {
            let result = try await self.dossier.enter(ticket: ticket)
            self.enteredTickets.insert(ticket)
            switch result {
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

    /// "退出登录": asked first when photos wait, else signed out at once.
    func askSignOut() async {
        await reloadPhotos()
        let leaving = LeavingAccount(reason: .signOut, account: account, photos: photos)
        if leaving.asks {
            self.leaving = leaving
        } else {
            await signOut(keepingPhotos: false)
        }
    }

    /// The candidate agreed to leave: signed out (the waiting photos kept for this account or
    /// discarded, as chosen), then entered with the link's ticket if a link asked.
    func leave(_ leaving: LeavingAccount, keepingPhotos: Bool) async {
        self.leaving = nil
        await signOut(keepingPhotos: keepingPhotos)
        if let ticket = leaving.ticket { await enter(ticket: ticket) }
    }

    /// The candidate stays signed in; a link they declined is not entered.
    func stay() {
        leaving = nil
    }

    private func signOut(keepingPhotos: Bool) async {
        busy = true
        defer { busy = false }
        do {
            try await dossier.signOut(keepQueue: keepingPhotos)
        } catch let error as DossierError {
            // Signed out here all the same; a server that was not told lets the session expire.
            if case .Network = error {} else { notice = localized(Wording.error(error)) }
        } catch {
            notice = localized(Wording.unexpected)
        }
        discardPending()
        signedIn = dossier.isSignedIn()
        account = nil
        page = nil
        messages = []
        photos = []
        progress = [:]
        thumbnails = [:]
        // Nothing of this account may go now; kept photos wait for its next sign-in.
        Uploads.schedule(.afterSignIn)
    }

    /// A photo from the library, loaded as a file (`PickedPhoto`): a JPEG even when the library
    /// holds HEIC, written by iOS off the main actor.
    func pick(_ item: PhotosPickerItem, category: String, slot: UInt32?) async {
        busy = true
        let picked = try? await item.loadTransferable(type: PickedPhoto.self)
        busy = false
        guard let picked else {
            notice = localized("photo_not_loaded")
            return
        }
        await prepare(url: picked.url, category: category, slot: slot)
    }

    /// The camera's photo, written as a JPEG file off the main actor, then prepared.
    func take(_ image: UIImage, category: String, slot: UInt32?) async {
        busy = true
        let url = try? await inBackground { try PhotoFiles.writeJPEG(image) }
        busy = false
        guard let url else {
            notice = localized("error_storage")
            return
        }
        await prepare(url: url, category: category, slot: slot)
    }

    /// Prepare the photo at `url` (a file in `PhotoFiles`' folder, the model's until the photo is
    /// confirmed or discarded), its page found unless it shows a person; shown, and its page
    /// adjustable, before it is stored. The pipeline and both decodes run off the main actor.
    private func prepare(url: URL, category: String, slot: UInt32?) async {
        var kept = false
        defer { if !kept { PhotoFiles.remove(url) } }
        await act {
            let document: Document = category == "id_card" ? .idCard : .a4
            let wholeFrame = self.page?.materials.first(where: { $0.category == category })?.wholeFrame ?? false
            let framing = PageOutline.firstFraming(wholeFrame: wholeFrame)
            let (prepared, preview, frame) = try await inBackground { () -> (PreparedPhoto, UIImage?, UIImage?) in
                let prepared = try preparePhoto(path: url.path, document: document, framing: framing)
                return (prepared, decoded(prepared.jpeg), wholeFrame ? nil : uprightFrame(url))
            }
            guard let preview else {
                self.notice = localized("photo_corrupt")
                return
            }
            let outline = PageOutline(photo: prepared, wholeFrame: wholeFrame)
            // A photo picked while another was being checked replaces it.
            if let earlier = self.pending { PhotoFiles.remove(earlier.source) }
            self.pending = PendingPhoto(
                category: category, slot: slot, source: url, document: document, prepared: prepared,
                framing: outline.framing, preview: preview, frame: frame, outline: outline)
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
                let (prepared, preview) = try await inBackground { () -> (PreparedPhoto, UIImage?) in
                    let prepared = try preparePhoto(path: source.path, document: document, framing: framing)
                    return (prepared, decoded(prepared.jpeg))
                }
                guard var now = self.pending, now.source == source, now.outline.framing == framing,
                      let preview else { return }
                now.prepared = prepared
                now.framing = framing
                now.preview = preview
                self.pending = now
            }
        }
    }

    /// Confirmed: stored in the queue on the phone (a background run asked for at once, so it goes
    /// even if the candidate leaves now), then uploaded while the app is open.
    func confirmPending() async {
        guard let pending, pending.current else { return }
        let dossier = self.dossier
        let category = pending.category
        let jpeg = pending.prepared.jpeg
        let slot = pending.slot
        var stored = false
        await act {
            _ = try await inBackground {
                try dossier.enqueue(category: category, jpeg: jpeg, slot: slot, replaces: nil)
            }
            stored = true
            Uploads.schedule(UploadSchedule.afterEnqueue)
            self.pending = nil
        }
        guard stored else { return }
        PhotoFiles.remove(pending.source)
        await reloadPhotos()
        await runQueue()
    }

    func discardPending() {
        if let pending { PhotoFiles.remove(pending.source) }
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

    /// The app came to the front: what waits (a run stopped when the candidate left) goes now.
    func becameActive() async {
        guard signedIn, photos.contains(where: \.unsent) else { return }
        await runQueue()
    }

    /// Run the queue while the app is open; the background task picks up what is left.
    private func runQueue() async {
        await Uploads.runWithBackgroundTime()
    }

    private func didSignIn() async {
        signedIn = true
        await refresh()
        // After the first sign-in, when reviewers' messages start to matter; iOS asks only once,
        // and the answer is not waited for before the uploads.
        Task { await Notifications.askAndRegister() }
        await runQueue()
    }

    private func show(_ page: DossierPage) async {
        self.page = page
        for image in page.materials.flatMap(\.images) where thumbnails[image.id] == nil {
            guard let bytes = try? await dossier.image(imageId: image.id),
                  let thumbnail = try? await inBackground({ thumbnailImage(bytes) }) else { continue }
            thumbnails[image.id] = thumbnail
        }
    }

    /// Runs a call; a refusal becomes the notice (worded by its code), a lost session the sign-in
    /// screen.
    private func act(signingIn: Bool = false, _ body: () async throws -> Void) async {
        busy = true
        defer { busy = false }
        do {
            try await body()
        } catch let error as DossierError {
            notice = localized(Wording.error(error, signingIn: signingIn))
            if case .SignedOut = error, !signingIn { signedIn = false }
        } catch {
            notice = localized(Wording.unexpected)
        }
    }
}

/// The prepared JPEG decoded now, off the main actor, rather than when it is first drawn.
private func decoded(_ jpeg: Data) -> UIImage? {
    UIImage(data: jpeg)?.preparingForDisplay()
}

/// A slot's thumbnail from the uploaded image's bytes.
private func thumbnailImage(_ bytes: Data) -> UIImage? {
    guard let picture = UIImage(data: bytes) else { return nil }
    return picture.preparingThumbnail(of: CGSize(width: 240, height: 240)) ?? picture
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
