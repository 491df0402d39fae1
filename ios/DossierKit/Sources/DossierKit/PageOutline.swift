// The "adjust the page" screen's logic, mirroring android/dossierkit's PageOutline.kt (whose JVM
// tests, PageOutlineTest.kt, are its specification): the page's four corners over the upright
// photo, the handles the candidate drags, and the Framing to prepare the photo again with. The
// SwiftUI view only draws `points` and forwards touches.
#if canImport(CoreGraphics)
import CoreGraphics
#endif
import DossierFFI
// CGPoint, CGSize and CGRect come from Foundation where there is no CoreGraphics (Linux).
import Foundation

/// Where the photo is drawn when fitted whole in a view (aspect-fit, centred): the rectangle it
/// covers, with bars left and right or above and below.
public struct PhotoFit: Equatable {
    public let rect: CGRect

    /// A `photoWidth`×`photoHeight` photo fitted whole in a view of `size`.
    public init(photoWidth: Int, photoHeight: Int, in size: CGSize) {
        guard photoWidth > 0, photoHeight > 0 else {
            rect = .zero
            return
        }
        let scale = min(size.width / CGFloat(photoWidth), size.height / CGFloat(photoHeight))
        let width = CGFloat(photoWidth) * scale
        let height = CGFloat(photoHeight) * scale
        rect = CGRect(x: (size.width - width) / 2, y: (size.height - height) / 2, width: width, height: height)
    }

    public func toView(_ corner: Corner) -> CGPoint {
        CGPoint(x: rect.minX + CGFloat(corner.x) * rect.width, y: rect.minY + CGFloat(corner.y) * rect.height)
    }

    /// The point of the photo under `point`, held to the photo's edges (a finger on a bar).
    public func toPhoto(_ point: CGPoint) -> Corner {
        guard rect.width > 0, rect.height > 0 else { return Corner(x: 0, y: 0) }
        let x = min(max((point.x - rect.minX) / rect.width, 0), 1)
        let y = min(max((point.y - rect.minY) / rect.height, 0), 1)
        return Corner(x: Float(x), y: Float(y))
    }
}

/// The page's outline as the candidate sees and adjusts it: a value, each event (a touch, a drag,
/// the "use whole photo" switch) answers the next one. Corners are fractions of the upright photo,
/// top-left, top-right, bottom-right, bottom-left. Made from a prepared photo, its `framing` says how
/// that photo was prepared; after the candidate's changes, how to prepare it again.
public struct PageOutline {
    /// Size of the upright photo, in pixels, for fitting it in the view.
    public let frameWidth: Int
    public let frameHeight: Int
    /// The corners, TL, TR, BR, BL.
    public private(set) var corners: [Corner]
    /// The category wants the whole photo (a photo of a person): no outline, never cropped.
    public let wholeFrameOnly: Bool
    /// "使用整张照片" is on: the outline is hidden, and kept for when it is switched off.
    public private(set) var useWholePhoto: Bool
    /// The corners are the candidate's (moved, or core's unsure outline taken up): prepared with
    /// them rather than by finding the page again.
    public private(set) var chosen: Bool
    /// The handle being dragged (0 TL, 1 TR, 2 BR, 3 BL), or none.
    public private(set) var activeHandle: Int?
    /// Where the finger took the handle, relative to its centre.
    private var grab = CGSize.zero

    /// The smallest page, as a fraction of the photo's area: core's own limit for corners given.
    private static let minArea: Float = 0.01

    /// How to prepare a newly picked photo: find its page, or keep it whole for a photo of a person.
    public static func firstFraming(wholeFrame: Bool) -> Framing {
        wholeFrame ? .person : .findPage
    }

    /// The outline of a prepared `photo`; `wholeFrame` for a category of photos of a person.
    public init(photo: PreparedPhoto, wholeFrame: Bool) {
        self.init(frameWidth: Int(photo.frameWidth), frameHeight: Int(photo.frameHeight),
                  corners: photo.pageCorners, page: photo.page, wholeFrame: wholeFrame)
    }

    /// "found" shows the page's outline; "none" and "whole_frame" (the whole photo kept) switch
    /// "use whole photo" on, with core's unsure outline to take up when there was one, else the
    /// photo's own edges; "given" keeps the corners given. Corners outside are brought to the edge.
    public init(frameWidth: Int, frameHeight: Int, corners: [Corner], page: String, wholeFrame: Bool = false) {
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        let outlined = corners.count == 4
        self.corners = outlined
            ? corners.map { Corner(x: min(max($0.x, 0), 1), y: min(max($0.y, 0), 1)) }
            : [Corner(x: 0, y: 0), Corner(x: 1, y: 0), Corner(x: 1, y: 1), Corner(x: 0, y: 1)]
        wholeFrameOnly = wholeFrame
        switch page {
        case "found":
            useWholePhoto = false
            chosen = false
        case "given":
            useWholePhoto = false
            chosen = true
        default:
            useWholePhoto = true
            chosen = outlined
        }
    }

    /// Whether to draw the outline and its handles.
    public var showsOutline: Bool { !wholeFrameOnly && !useWholePhoto }

    /// How to prepare the photo for what the screen shows.
    public var framing: Framing {
        if wholeFrameOnly { return .person }
        if useWholePhoto { return .wholeFrame }
        return chosen ? .corners(corners: corners) : .findPage
    }

    public func fit(in size: CGSize) -> PhotoFit {
        PhotoFit(photoWidth: frameWidth, photoHeight: frameHeight, in: size)
    }

    /// The handles' centres in the view, TL, TR, BR, BL; none while the outline is hidden.
    public func points(_ fit: PhotoFit) -> [CGPoint] {
        showsOutline ? corners.map { fit.toView($0) } : []
    }

    /// The handle nearest to `point` within `radius` (view points), if any.
    public func handle(at point: CGPoint, fit: PhotoFit, radius: CGFloat) -> Int? {
        var best: (index: Int, distance: CGFloat)?
        for (index, p) in points(fit).enumerated() {
            let dx = p.x - point.x
            let dy = p.y - point.y
            let distance = (dx * dx + dy * dy).squareRoot()
            if distance <= radius && (best == nil || distance < best!.distance) {
                best = (index, distance)
            }
        }
        return best?.index
    }

    /// `handle` moved to `to` (held to the photo's edges); refused, answering the same outline, when
    /// it would stop making a page: folded, caved in, or smaller than a hundredth of the photo.
    public func move(_ handle: Int, to: Corner) -> PageOutline {
        let target = Corner(x: min(max(to.x, 0), 1), y: min(max(to.y, 0), 1))
        guard showsOutline, (0..<4).contains(handle), target != corners[handle] else { return self }
        var next = self
        next.corners[handle] = target
        guard PageOutline.isPage(next.corners) else { return self }
        next.chosen = true
        return next
    }

    /// A finger went down at `point`: it takes the nearest handle within `radius`, or nothing.
    public func startDrag(at point: CGPoint, fit: PhotoFit, radius: CGFloat) -> PageOutline {
        guard let taken = self.handle(at: point, fit: fit, radius: radius) else { return self }
        let centre = fit.toView(corners[taken])
        var next = self
        next.activeHandle = taken
        next.grab = CGSize(width: point.x - centre.x, height: point.y - centre.y)
        return next
    }

    /// The finger is at `point`: the held handle follows it, keeping where it was taken.
    public func drag(to point: CGPoint, fit: PhotoFit) -> PageOutline {
        guard let held = activeHandle else { return self }
        return move(held, to: fit.toPhoto(CGPoint(x: point.x - grab.width, y: point.y - grab.height)))
    }

    /// The finger lifted. Prepare again when `framing` differs from the one the photo was made with.
    public func endDrag() -> PageOutline {
        var next = self
        next.activeHandle = nil
        return next
    }

    /// "使用整张照片 / Use whole photo" switched on or off; the corners are kept either way.
    public func usingWholePhoto(_ on: Bool) -> PageOutline {
        var next = endDrag()
        next.useWholePhoto = on
        return next
    }

    /// Core's `Quad::is_usable` with the same arithmetic: every corner turns clockwise on the screen
    /// (convex, in order, not folded), and the outline covers at least `minArea` of the photo.
    private static func isPage(_ quad: [Corner]) -> Bool {
        var twice: Float = 0
        for k in 0..<4 {
            let p = quad[k]
            let q = quad[(k + 1) % 4]
            let r = quad[(k + 2) % 4]
            let turn = (q.x - p.x) * (r.y - q.y) - (q.y - p.y) * (r.x - q.x)
            if !(turn > 0) { return false }
            twice += p.x * q.y - q.x * p.y
        }
        return abs(twice) / 2 >= minArea
    }
}
