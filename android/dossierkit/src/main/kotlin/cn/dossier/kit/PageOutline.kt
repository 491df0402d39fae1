package cn.dossier.kit

import kotlin.math.abs
import kotlin.math.hypot

/**
 * The "adjust the page" screen's logic: the page's four corners over the upright photo, the handles
 * the candidate drags, and the [Framing] to prepare the photo again with. Plain Kotlin, no Android
 * API, so the JVM tests run it as the app does; the Compose screen only draws [PageOutline.points]
 * and forwards touches. The iOS app mirrors it in `ios/DossierKit/Sources/DossierKit/PageOutline.swift`.
 */

/** A point of the view the photo is drawn in, in the view's own units (pixels on Android). */
data class ViewPoint(val x: Float, val y: Float)

/**
 * Where the photo is drawn when fitted whole in a view (aspect-fit, centred): the rectangle it
 * covers, with bars left and right or above and below.
 */
data class PhotoFit(val left: Float, val top: Float, val width: Float, val height: Float) {
    fun toView(corner: Corner): ViewPoint = ViewPoint(left + corner.x * width, top + corner.y * height)

    /** The point of the photo under [point], held to the photo's edges (a finger on a bar). */
    fun toPhoto(point: ViewPoint): Corner {
        if (width <= 0f || height <= 0f) return Corner(0f, 0f)
        return Corner(((point.x - left) / width).coerceIn(0f, 1f), ((point.y - top) / height).coerceIn(0f, 1f))
    }

    companion object {
        /** A [photoWidth]×[photoHeight] photo fitted whole in a [viewWidth]×[viewHeight] view. */
        fun of(photoWidth: Int, photoHeight: Int, viewWidth: Float, viewHeight: Float): PhotoFit {
            if (photoWidth <= 0 || photoHeight <= 0) return PhotoFit(0f, 0f, 0f, 0f)
            val scale = minOf(viewWidth / photoWidth, viewHeight / photoHeight)
            val width = photoWidth * scale
            val height = photoHeight * scale
            return PhotoFit((viewWidth - width) / 2, (viewHeight - height) / 2, width, height)
        }
    }
}

/**
 * The page's outline as the candidate sees and adjusts it: an immutable value, each event (a touch,
 * a drag, the "use whole photo" switch) answers the next one. Corners are fractions of the upright
 * photo (as core gives them), in the order top-left, top-right, bottom-right, bottom-left.
 *
 * Made by [of] from a prepared photo, its [framing] says how that photo was prepared; after the
 * candidate's changes it says how to prepare it again, so a screen prepares again when the two differ.
 */
class PageOutline private constructor(
    /** Size of the upright photo, in pixels, for fitting it in the view. */
    val frameWidth: Int,
    val frameHeight: Int,
    private val quad: List<Corner>,
    /** The category wants the whole photo (a photo of a person): no outline, never cropped. */
    val wholeFrameOnly: Boolean,
    /** "使用整张照片" is on: the outline is hidden, and kept for when it is switched off. */
    val useWholePhoto: Boolean,
    /**
     * The corners are the candidate's: moved, or an unsure outline of core's taken up. The photo is
     * prepared with them ([Framing.Corners]) rather than by finding the page again.
     */
    val chosen: Boolean,
    private val drag: Drag?,
) {
    /** A handle held by the finger, and where the finger took it relative to its centre. */
    private class Drag(val handle: Int, val dx: Float, val dy: Float)

    /** The corners, TL, TR, BR, BL, in fractions of the photo (copies: core's records are mutable). */
    val corners: List<Corner> get() = quad.map { it.copy() }

    /** Whether to draw the outline and its handles. */
    val showsOutline: Boolean get() = !wholeFrameOnly && !useWholePhoto

    /** The handle being dragged (0 TL, 1 TR, 2 BR, 3 BL), or none. */
    val activeHandle: Int? get() = drag?.handle

    /** How to prepare the photo for what the screen shows. */
    val framing: Framing
        get() = when {
            wholeFrameOnly -> Framing.Person
            useWholePhoto -> Framing.WholeFrame
            chosen -> Framing.Corners(corners)
            else -> Framing.FindPage
        }

    /** Where the photo is drawn in a [viewWidth]×[viewHeight] view. */
    fun fit(viewWidth: Float, viewHeight: Float): PhotoFit = PhotoFit.of(frameWidth, frameHeight, viewWidth, viewHeight)

    /** The handles' centres in the view, TL, TR, BR, BL; none while the outline is hidden. */
    fun points(fit: PhotoFit): List<ViewPoint> = if (showsOutline) quad.map(fit::toView) else emptyList()

    /** The handle nearest to [point] within [radius] (view units), if any. */
    fun handleAt(point: ViewPoint, fit: PhotoFit, radius: Float): Int? =
        points(fit).withIndex()
            .map { (index, p) -> index to hypot(p.x - point.x, p.y - point.y) }
            .filter { it.second <= radius }
            .minByOrNull { it.second }
            ?.first

    /**
     * [handle] moved to [to] (held to the photo's edges). Refused, answering this same outline, when
     * the outline would stop making a page: folded over itself, caved in, or smaller than a hundredth
     * of the photo (core refuses such corners as `invalid_corners`).
     */
    fun move(handle: Int, to: Corner): PageOutline {
        val target = Corner(to.x.coerceIn(0f, 1f), to.y.coerceIn(0f, 1f))
        if (!showsOutline || handle !in 0..3 || target == quad[handle]) return this
        val next = quad.mapIndexed { i, c -> if (i == handle) target else c }
        if (!isPage(next)) return this
        return PageOutline(frameWidth, frameHeight, next, wholeFrameOnly, useWholePhoto, chosen = true, drag)
    }

    /** A finger went down at [point]: it takes the nearest handle within [radius], or nothing. */
    fun startDrag(point: ViewPoint, fit: PhotoFit, radius: Float): PageOutline {
        val handle = handleAt(point, fit, radius) ?: return this
        val centre = fit.toView(quad[handle])
        return holding(Drag(handle, point.x - centre.x, point.y - centre.y))
    }

    /** The finger is at [point]: the held handle follows it, keeping where it was taken. */
    fun dragTo(point: ViewPoint, fit: PhotoFit): PageOutline {
        val drag = drag ?: return this
        return move(drag.handle, fit.toPhoto(ViewPoint(point.x - drag.dx, point.y - drag.dy)))
    }

    /** The finger lifted. Prepare again when [framing] differs from the one the photo was made with. */
    fun endDrag(): PageOutline = holding(null)

    /** "使用整张照片 / Use whole photo" switched [on] or off; the corners are kept either way. */
    fun usingWholePhoto(on: Boolean): PageOutline =
        PageOutline(frameWidth, frameHeight, quad, wholeFrameOnly, on, chosen, drag = null)

    private fun holding(drag: Drag?) = PageOutline(frameWidth, frameHeight, quad, wholeFrameOnly, useWholePhoto, chosen, drag)

    companion object {
        /** The smallest page, as a fraction of the photo's area: core's own limit for corners given. */
        private const val MIN_AREA = 0.01f

        /** How to prepare a newly picked photo: find its page, or keep it whole for a photo of a person. */
        fun firstFraming(wholeFrame: Boolean): Framing = if (wholeFrame) Framing.Person else Framing.FindPage

        /** The outline of a prepared [photo]; [wholeFrame] for a category of photos of a person. */
        fun of(photo: PreparedPhoto, wholeFrame: Boolean): PageOutline =
            of(photo.frameWidth.toInt(), photo.frameHeight.toInt(), photo.pageCorners, photo.page, wholeFrame)

        /**
         * The outline of a [frameWidth]×[frameHeight] photo prepared with the [corners] and [page]
         * core answered: "found" shows the page's outline; "none" and "whole_frame" (the whole photo
         * kept) switch "use whole photo" on, with core's unsure outline to take up when there was one,
         * else the photo's own edges to drag onto the page; "given" keeps the corners given.
         * Corners a little outside the photo are brought to its edge, where a finger can take them.
         */
        fun of(frameWidth: Int, frameHeight: Int, corners: List<Corner>, page: String, wholeFrame: Boolean = false): PageOutline {
            val outlined = corners.size == 4
            val quad = if (outlined) {
                corners.map { Corner(it.x.coerceIn(0f, 1f), it.y.coerceIn(0f, 1f)) }
            } else {
                listOf(Corner(0f, 0f), Corner(1f, 0f), Corner(1f, 1f), Corner(0f, 1f))
            }
            val (whole, chosen) = when (page) {
                "found" -> false to false
                "given" -> false to true
                else -> true to outlined
            }
            return PageOutline(frameWidth, frameHeight, quad, wholeFrame, useWholePhoto = whole, chosen = chosen, drag = null)
        }

        /**
         * Whether [quad] outlines a page as core accepts one (`Quad::is_usable`, the same arithmetic):
         * every corner turns clockwise on the screen, where y grows downwards, so it is convex, in
         * the order TL, TR, BR, BL, and not folded (a folded or caved-in quad turns both ways); and
         * it covers at least [MIN_AREA] of the photo.
         */
        private fun isPage(quad: List<Corner>): Boolean {
            val clockwise = (0 until 4).all { k ->
                val p = quad[k]
                val q = quad[(k + 1) % 4]
                val r = quad[(k + 2) % 4]
                (q.x - p.x) * (r.y - q.y) - (q.y - p.y) * (r.x - q.x) > 0f
            }
            var twice = 0f
            for (k in 0 until 4) {
                val p = quad[k]
                val q = quad[(k + 1) % 4]
                twice += p.x * q.y - q.x * p.y
            }
            return clockwise && abs(twice) / 2f >= MIN_AREA
        }
    }
}
