package cn.dossier.kit

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The "adjust the page" screen's logic (`PageOutline`) as the candidate meets it: the photo fitted
 * in the view, handles taken by the finger and dragged, moves that would fold the outline refused,
 * "use whole photo", and the framing the photo is prepared again with. No library, no server.
 */
class PageOutlineTest {
    /** A 4000×3000 photo in a 1000×1000 view: drawn 1000×750, bars of 125 above and below. */
    private val fit = PhotoFit.of(4000, 3000, 1000f, 1000f)

    /** A page found at a slant; in the view TL (200, 275), TR (800, 312.5), BR (750, 725), BL (250, 687.5). */
    private val found = listOf(Corner(0.2f, 0.2f), Corner(0.8f, 0.25f), Corner(0.75f, 0.8f), Corner(0.25f, 0.75f))
    private val outline = PageOutline.of(4000, 3000, found, "found")

    private fun assertCorner(x: Float, y: Float, corner: Corner) {
        assertEquals("x of $corner", x, corner.x, 1e-4f)
        assertEquals("y of $corner", y, corner.y, 1e-4f)
    }

    private fun assertPoint(x: Float, y: Float, point: ViewPoint) {
        assertEquals("x of $point", x, point.x, 1e-3f)
        assertEquals("y of $point", y, point.y, 1e-3f)
    }

    private fun assertPoints(expected: List<ViewPoint>, actual: List<ViewPoint>) {
        assertEquals(expected.size, actual.size)
        expected.zip(actual).forEach { (e, a) -> assertPoint(e.x, e.y, a) }
    }

    private fun assertCorners(expected: List<Corner>, actual: List<Corner>) {
        assertEquals(4, actual.size)
        expected.zip(actual).forEach { (e, a) -> assertCorner(e.x, e.y, a) }
    }

    private fun cornersOf(framing: Framing): List<Corner> {
        assertTrue("prepared with corners: $framing", framing is Framing.Corners)
        return (framing as Framing.Corners).corners
    }

    @Test
    fun thePhotoIsFittedWholeWithBarsBesideIt() {
        assertEquals(PhotoFit(0f, 125f, 1000f, 750f), fit)
        // A portrait photo in a wide view: bars left and right.
        val portrait = PhotoFit.of(3000, 4000, 1000f, 500f)
        assertEquals(PhotoFit(312.5f, 0f, 375f, 500f), portrait)
        assertEquals(ViewPoint(687.5f, 500f), portrait.toView(Corner(1f, 1f)))
        // A finger on a bar is held to the photo's edge.
        assertCorner(0f, 0.5f, portrait.toPhoto(ViewPoint(10f, 250f)))
        assertCorner(0.5f, 1f, fit.toPhoto(ViewPoint(500f, 990f)))
        // The found page's corners where the screen draws them.
        assertPoints(
            listOf(ViewPoint(200f, 275f), ViewPoint(800f, 312.5f), ViewPoint(750f, 725f), ViewPoint(250f, 687.5f)),
            outline.points(fit),
        )
    }

    @Test
    fun aTouchTakesTheNearestHandleWithinReach() {
        assertEquals(0, outline.handleAt(ViewPoint(210f, 280f), fit, 40f))
        assertEquals(2, outline.handleAt(ViewPoint(760f, 700f), fit, 40f))
        assertNull("the middle of the page is no handle", outline.handleAt(ViewPoint(500f, 500f), fit, 40f))
        assertNull("out of reach", outline.handleAt(ViewPoint(250f, 275f), fit, 40f))
        // Two handles within reach: the nearer one.
        val close = PageOutline.of(1000, 1000, listOf(Corner(0.1f, 0.1f), Corner(0.16f, 0.1f), Corner(0.9f, 0.9f), Corner(0.1f, 0.9f)), "found")
        val square = close.fit(1000f, 1000f)
        assertEquals(1, close.handleAt(ViewPoint(140f, 100f), square, 48f))
        assertEquals(0, close.handleAt(ViewPoint(125f, 100f), square, 48f))
    }

    @Test
    fun aDraggedCornerFollowsTheFingerFromWhereItWasTaken() {
        assertEquals(Framing.FindPage, outline.framing)
        // Taken 10 right and 5 below its centre (200, 275), then moved by (50, 50).
        val taken = outline.startDrag(ViewPoint(210f, 280f), fit, 40f)
        assertEquals(0, taken.activeHandle)
        val dragged = taken.dragTo(ViewPoint(260f, 330f), fit)
        assertPoint(250f, 325f, dragged.points(fit)[0])
        val settled = dragged.endDrag()
        assertNull(settled.activeHandle)
        assertTrue(settled.chosen)
        // Prepared again with the moved corner and the other three as found.
        assertCorners(listOf(Corner(0.25f, 200f / 750f)) + found.drop(1), cornersOf(settled.framing))
        assertCorners(settled.corners, cornersOf(settled.framing))
    }

    @Test
    fun aTouchAwayFromTheHandlesMovesNothing() {
        val touched = outline.startDrag(ViewPoint(500f, 500f), fit, 40f)
        assertNull(touched.activeHandle)
        val after = touched.dragTo(ViewPoint(100f, 100f), fit).endDrag()
        assertFalse(after.chosen)
        assertCorners(found, after.corners)
        assertEquals(Framing.FindPage, after.framing)
    }

    @Test
    fun aCornerDraggedOffThePhotoStopsAtItsEdge() {
        // Up into the bar above the photo and past its left side.
        val dragged = outline.startDrag(ViewPoint(200f, 275f), fit, 40f).dragTo(ViewPoint(-50f, 20f), fit).endDrag()
        assertCorner(0f, 0f, dragged.corners[0])
        assertPoint(0f, 125f, dragged.points(fit)[0])
        // And the bottom-right one past the far corner.
        val far = outline.move(2, Corner(1.4f, 1.2f))
        assertCorner(1f, 1f, far.corners[2])
    }

    @Test
    fun aMoveThatFoldsOrCavesInTheOutlineIsRefused() {
        // Top-left past top-right: the outline would cross itself.
        val folded = outline.move(0, Corner(0.9f, 0.2f))
        assertCorners(found, folded.corners)
        assertFalse(folded.chosen)
        assertEquals(Framing.FindPage, folded.framing)
        // Top-left pushed in past the diagonal: the outline would cave in.
        assertCorners(found, outline.move(0, Corner(0.6f, 0.6f)).corners)
        // Squeezed below a hundredth of the photo: too small to be a page (core would refuse it).
        val small = listOf(Corner(0.2f, 0.2f), Corner(0.32f, 0.2f), Corner(0.32f, 0.32f), Corner(0.2f, 0.32f))
        assertCorners(small, PageOutline.of(4000, 3000, small, "found").move(2, Corner(0.27f, 0.28f)).corners)
        assertCorner(0.3f, 0.3f, PageOutline.of(4000, 3000, small, "found").move(2, Corner(0.3f, 0.3f)).corners[2])
        // During a drag the handle stays at its last allowed place while the finger goes on.
        val taken = outline.startDrag(ViewPoint(200f, 275f), fit, 40f)
        val allowed = taken.dragTo(ViewPoint(300f, 300f), fit)
        val refused = allowed.dragTo(ViewPoint(900f, 290f), fit)
        assertPoint(300f, 300f, refused.points(fit)[0])
        assertEquals(0, refused.activeHandle)
        // And follows it again once the outline is whole.
        assertPoint(320f, 310f, refused.dragTo(ViewPoint(320f, 310f), fit).points(fit)[0])
    }

    @Test
    fun useWholePhotoHidesTheOutlineAndKeepsTheCorners() {
        val moved = outline.move(0, Corner(0.22f, 0.21f))
        val whole = moved.usingWholePhoto(true)
        assertEquals(Framing.WholeFrame, whole.framing)
        assertFalse(whole.showsOutline)
        assertTrue(whole.points(fit).isEmpty())
        assertNull("no handle to take", whole.startDrag(ViewPoint(220f, 282.5f), fit, 40f).activeHandle)
        assertCorners(moved.corners, whole.move(0, Corner(0.3f, 0.3f)).corners)
        // Switched off again: the moved outline comes back, and so do its corners for preparing.
        val back = whole.usingWholePhoto(false)
        assertTrue(back.showsOutline)
        assertCorners(moved.corners, cornersOf(back.framing))
        // Never moved: the page is found again.
        assertEquals(Framing.FindPage, outline.usingWholePhoto(true).usingWholePhoto(false).framing)
    }

    @Test
    fun aPhotoOfAPersonIsNeverCropped() {
        assertEquals(Framing.Person, PageOutline.firstFraming(wholeFrame = true))
        assertEquals(Framing.FindPage, PageOutline.firstFraming(wholeFrame = false))
        val person = PageOutline.of(3000, 4000, emptyList(), "whole_frame", wholeFrame = true)
        assertFalse(person.showsOutline)
        assertTrue(person.points(person.fit(1000f, 1000f)).isEmpty())
        assertEquals(Framing.Person, person.framing)
        assertEquals(Framing.Person, person.usingWholePhoto(false).framing)
        assertEquals(Framing.Person, person.move(0, Corner(0.1f, 0.1f)).framing)
    }

    @Test
    fun withNoPageFoundTheWholePhotoIsKeptAndItsEdgesOfferedToAdjust() {
        val none = PageOutline.of(4000, 3000, emptyList(), "none")
        // As prepared: the whole photo, the switch on.
        assertTrue(none.useWholePhoto)
        assertEquals(Framing.WholeFrame, none.framing)
        // Switched off: handles on the photo's corners; unmoved, that is still the whole photo.
        val edges = none.usingWholePhoto(false)
        assertPoints(listOf(ViewPoint(0f, 125f), ViewPoint(1000f, 125f), ViewPoint(1000f, 875f), ViewPoint(0f, 875f)), edges.points(fit))
        assertEquals(Framing.FindPage, edges.framing)
        // The candidate drags the bottom-right corner onto the page.
        val adjusted = edges.startDrag(ViewPoint(990f, 870f), fit, 40f).dragTo(ViewPoint(790f, 720f), fit).endDrag()
        assertCorner(0.8f, 0.8f, cornersOf(adjusted.framing)[2])
    }

    @Test
    fun anUnsureOutlineIsOfferedToTakeUp() {
        // Core saw a page but not clearly enough to cut: the whole photo was kept.
        val unsure = PageOutline.of(4000, 3000, found, "none")
        assertEquals(Framing.WholeFrame, unsure.framing)
        // Switched off: that outline, unmoved, is what the photo is cut to.
        val taken = unsure.usingWholePhoto(false)
        assertPoint(200f, 275f, taken.points(fit)[0])
        assertCorners(found, cornersOf(taken.framing))
        // Corners given come back as given, and stay the candidate's.
        assertCorners(found, cornersOf(PageOutline.of(4000, 3000, found, "given").framing))
    }
}
