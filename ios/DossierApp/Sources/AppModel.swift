import Combine
import DossierKit
import Foundation
import ImageIO
import PhotosUI
import SwiftUI
import UIKit

/// Holds the screens' `CandidatePresenter` (all their logic, in DossierKit, where `swift test`
/// covers it) for the life of the process, and gives it what only the phone has: the photo
/// picker's file transfer and the camera's file, the background upload task and push
/// (`PhonePlatform`), and the images decoded for drawing. The views read `screen` and call the
/// presenter directly, as the Android app's screens do; this adds the picker's and camera's entry
/// points, the entry link, and the return to the app. Nothing here touches SQLite or decodes an
/// image on the main actor.
@MainActor
final class AppModel: ObservableObject {
    static let shared = AppModel()

    let presenter: CandidatePresenter
    private let platform: PhonePlatform

    /// The slots' thumbnails, decoded once each, off the main actor.
    @Published private(set) var thumbnails: [String: UIImage] = [:]
    /// The photo being checked, as prepared (its page flattened), decoded before it is drawn.
    @Published private(set) var preview: UIImage?
    /// The same photo's original, upright and scaled down, to draw the page's outline over; none
    /// for a photo of a person.
    @Published private(set) var frame: UIImage?

    private var decoding: Set<String> = []
    private var previewOf: PreviewKey?
    private var frameOf: URL?
    private var lastSession: Session = .starting
    private var following: AnyCancellable?

    private init() {
        // Nothing is pending at launch: a photo picked or taken before the app ended is gone.
        PhotoFiles.removeLeftovers()
        let platform = PhonePlatform()
        self.platform = platform
        // An activation the process was ended in (`KeptActivation`) opens on its form again.
        presenter = CandidatePresenter(dossier: Runtime.dossier, platform: platform,
                                       resumedActivation: KeptActivation.load())
        // The presenter's state drives the views; what it shows is decoded here as it changes.
        following = presenter.$state.sink { [weak self] screen in self?.follow(screen) }
    }

    /// What the screens show.
    var screen: CandidateScreen { presenter.state }

    /// A photo from the library, loaded as a file (`PickedPhoto`): a JPEG even when the library
    /// holds HEIC, written by iOS off the main actor, then prepared by the presenter.
    func pick(_ item: PhotosPickerItem, target: PhotoTarget) {
        presenter.pickPhoto(target) {
            guard let picked = try await item.loadTransferable(type: PickedPhoto.self) else {
                throw CocoaError(.fileReadNoSuchFile)
            }
            return picked.url
        }
    }

    /// The camera's photo, written as a JPEG file off the main actor (the presenter runs `copy`
    /// there), then prepared.
    func take(_ image: UIImage, target: PhotoTarget) {
        presenter.pickPhoto(target) { try PhotoFiles.writeJPEG(image) }
    }

    /// A `dossier://enter?ticket=…` link. The presenter asks first while someone is signed in. A
    /// ticket entered with already, or the one being asked about, is not handed on again: iOS may
    /// open the same link twice (a second tap, a restored scene), and a ticket is used once.
    func open(_ url: URL) {
        guard let ticket = EntryLink.ticket(in: url), !presenter.enteredTickets.contains(ticket) else { return }
        if case .switchAccount(_, let asked)? = screen.question, asked == ticket { return }
        presenter.enter(ticket)
    }

    /// The app came to the front: the page as it is now, and what waits (a run stopped when the
    /// candidate left) goes.
    func becameActive() {
        guard case .signedIn = screen.session else { return }
        presenter.refresh()
        if screen.unsent > 0 { platform.uploadNow() }
    }

    /// Pull to refresh, a push: the page, messages and queue from the server, awaited.
    func refresh() async {
        presenter.refresh()
        await presenter.settled()
    }

    private func follow(_ screen: CandidateScreen) {
        objectWillChange.send()
        decodeThumbnails(screen.thumbnails)
        decodePending(screen.pending)
        switch (lastSession, screen.session) {
        case (.starting, .signedIn) where screen.unsent > 0:
            // Launched with photos waiting (a run cut off when the app was last left): they go now.
            platform.uploadNow()
        case (.signedIn, .signedOut):
            // Nothing of that account may go now; kept photos wait for its next sign-in.
            Uploads.schedule(.afterSignIn)
        default:
            break
        }
        // The activation token is kept while the form is shown, and goes when the session moves on.
        if screen.session != lastSession { KeptActivation.follow(screen.session) }
        lastSession = screen.session
    }

    /// Thumbnails not decoded yet, decoded off the main actor; another account's go with its page.
    private func decodeThumbnails(_ jpegs: [String: Data]) {
        if thumbnails.keys.contains(where: { jpegs[$0] == nil }) {
            thumbnails = thumbnails.filter { jpegs[$0.key] != nil }
        }
        let fresh = jpegs.filter { thumbnails[$0.key] == nil && !decoding.contains($0.key) }
        guard !fresh.isEmpty else { return }
        decoding.formUnion(fresh.keys)
        Task {
            let images = (try? await inBackground { fresh.compactMapValues(thumbnailImage) }) ?? [:]
            decoding.subtract(fresh.keys)
            for (id, image) in images where presenter.state.thumbnails[id] != nil {
                thumbnails[id] = image
            }
        }
    }

    /// The photo being checked: its prepared JPEG decoded each time it is prepared again, its
    /// original once.
    private func decodePending(_ pending: PendingPhoto?) {
        guard let pending else {
            previewOf = nil
            frameOf = nil
            if preview != nil { preview = nil }
            if frame != nil { frame = nil }
            return
        }
        let key = PreviewKey(source: pending.source, framing: pending.framing)
        if previewOf != key {
            // Another photo: the last one's preview is not shown meanwhile. The same photo
            // prepared again: its last preview stays until the new one is ready.
            if previewOf?.source != pending.source { preview = nil }
            previewOf = key
            let jpeg = pending.prepared.jpeg
            Task {
                let image = try? await inBackground { decoded(jpeg) }
                guard previewOf == key else { return }
                preview = image
            }
        }
        if frameOf != pending.source {
            frameOf = pending.source
            frame = nil
            guard !pending.outline.wholeFrameOnly else { return }
            let source = pending.source
            Task {
                let image = try? await inBackground { uprightFrame(source) }
                guard frameOf == source else { return }
                frame = image
            }
        }
    }
}

/// Which prepared photo a preview shows.
private struct PreviewKey: Equatable {
    let source: URL
    let framing: Framing
}

/// What the presenter asks of the phone.
@MainActor
final class PhonePlatform: CandidatePlatform {
    /// A background run asked for first, so the photo goes even if the candidate leaves at once;
    /// then a run while the app is open (with `beginBackgroundTask` time), whose outcome asks for
    /// the next background run or withdraws it.
    func uploadNow() {
        Uploads.schedule(UploadSchedule.afterEnqueue)
        Task { await Uploads.runWithBackgroundTime() }
    }

    /// After a sign-in, when reviewers' messages start to matter; iOS asks only once, and the
    /// answer is not waited for before the uploads.
    func registerForPush() {
        Task { await Notifications.askAndRegister() }
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
