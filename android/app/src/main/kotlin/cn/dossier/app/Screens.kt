package cn.dossier.app

import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import androidx.activity.compose.BackHandler
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.Image
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.clickable
import androidx.compose.foundation.gestures.awaitEachGesture
import androidx.compose.foundation.gestures.awaitFirstDown
import androidx.compose.foundation.gestures.drag
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.filled.Add
import androidx.compose.material.icons.filled.Lock
import androidx.compose.material.icons.filled.Remove
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Badge
import androidx.compose.material3.BadgedBox
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.Checkbox
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.platform.LocalDensity
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.IntOffset
import androidx.compose.ui.unit.IntSize
import androidx.compose.ui.unit.dp
import androidx.core.content.FileProvider
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import cn.dossier.kit.CandidatePresenter
import cn.dossier.kit.CandidateScreen
import cn.dossier.kit.DossierStatus
import cn.dossier.kit.MaterialCard
import cn.dossier.kit.Message
import cn.dossier.kit.Notice
import cn.dossier.kit.PageOutline
import cn.dossier.kit.PendingPhoto
import cn.dossier.kit.PhotoTarget
import cn.dossier.kit.QueuedPhoto
import cn.dossier.kit.QueuedState
import cn.dossier.kit.Question
import cn.dossier.kit.Session
import cn.dossier.kit.ViewPoint
import cn.dossier.kit.WindowStatus
import cn.dossier.kit.slotLabel
import cn.dossier.kit.slots
import java.io.File
import kotlin.math.roundToInt
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * The Compose screens: they draw the presenter's [CandidateScreen] and forward taps to it. No
 * logic here beyond which words and which bitmaps; decoding runs off the main thread.
 */

/** The notice of the moment, until dismissed. */
@Composable
fun NoticeDialog(notice: Notice?, presenter: CandidatePresenter) {
    notice ?: return
    AlertDialog(
        onDismissRequest = presenter::dismissNotice,
        confirmButton = { TextButton(onClick = presenter::dismissNotice) { Text(stringResource(R.string.ok)) } },
        text = { Text(noticeText(notice)) },
    )
}

/** What the presenter asks before acting: keep or discard waiting photos, switch accounts. */
@Composable
fun QuestionDialog(question: Question?, presenter: CandidatePresenter) {
    when (question) {
        null -> Unit
        is Question.SignOut -> AlertDialog(
            onDismissRequest = presenter::dismissQuestion,
            text = { Text(stringResource(R.string.sign_out_question, question.unsent)) },
            confirmButton = {
                Column(horizontalAlignment = Alignment.End) {
                    TextButton(onClick = { presenter.confirmSignOut(keepPhotos = true) }) { Text(stringResource(R.string.sign_out_keep)) }
                    TextButton(onClick = { presenter.confirmSignOut(keepPhotos = false) }) {
                        Text(stringResource(R.string.sign_out_discard), color = MaterialTheme.colorScheme.error)
                    }
                    TextButton(onClick = presenter::dismissQuestion) { Text(stringResource(R.string.cancel)) }
                }
            },
        )
        is Question.SwitchAccount -> AlertDialog(
            onDismissRequest = presenter::dismissQuestion,
            text = {
                Text(stringResource(R.string.switch_account_question, question.account ?: stringResource(R.string.this_account)))
            },
            confirmButton = { TextButton(onClick = presenter::confirmSwitchAccount) { Text(stringResource(R.string.switch_account_confirm)) } },
            dismissButton = { TextButton(onClick = presenter::dismissQuestion) { Text(stringResource(R.string.cancel)) } },
        )
    }
}

@Composable
fun StartingScreen() {
    Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) { CircularProgressIndicator() }
}

/** Sign in, or enter with the registration site's ticket (the first time). */
@Composable
fun EntryScreen(state: CandidateScreen, presenter: CandidatePresenter) {
    var username by rememberSaveable { mutableStateOf("") }
    var password by rememberSaveable { mutableStateOf("") }
    var ticket by rememberSaveable { mutableStateOf("") }
    Column(Modifier.fillMaxSize().padding(24.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.app_name), style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(username, { username = it }, label = { Text(stringResource(R.string.username)) }, singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(
            password, { password = it }, label = { Text(stringResource(R.string.password)) }, singleLine = true,
            visualTransformation = PasswordVisualTransformation(),
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password), modifier = Modifier.fillMaxWidth(),
        )
        Button(onClick = { presenter.signIn(username, password) }, enabled = !state.busy && username.isNotBlank() && password.isNotEmpty(), modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.sign_in))
        }
        HorizontalDivider()
        OutlinedTextField(ticket, { ticket = it }, label = { Text(stringResource(R.string.ticket)) }, singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedButton(onClick = { presenter.enter(ticket) }, enabled = !state.busy && ticket.isNotBlank(), modifier = Modifier.fillMaxWidth()) {
            Text(stringResource(R.string.enter_with_ticket))
        }
    }
}

/** Activation (账号激活): the password twice, a security question and both pledges. */
@Composable
fun ActivationScreen(activating: Session.Activating, state: CandidateScreen, presenter: CandidatePresenter) {
    var password by rememberSaveable { mutableStateOf("") }
    var again by rememberSaveable { mutableStateOf("") }
    var question by rememberSaveable { mutableStateOf("") }
    var answer by rememberSaveable { mutableStateOf("") }
    var truthful by rememberSaveable { mutableStateOf(false) }
    var discipline by rememberSaveable { mutableStateOf(false) }
    BackHandler(onBack = presenter::cancelActivation)
    Column(Modifier.fillMaxSize().padding(24.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            TextButton(onClick = presenter::cancelActivation) { Text("‹ " + stringResource(R.string.back)) }
        }
        Text(stringResource(R.string.activate), style = MaterialTheme.typography.headlineSmall)
        Text(activating.name, style = MaterialTheme.typography.titleMedium)
        Text(stringResource(R.string.activation_hint))
        OutlinedTextField(password, { password = it }, label = { Text(stringResource(R.string.password)) }, visualTransformation = PasswordVisualTransformation(), singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(again, { again = it }, label = { Text(stringResource(R.string.password_again)) }, visualTransformation = PasswordVisualTransformation(), singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(question, { question = it }, label = { Text(stringResource(R.string.security_question)) }, singleLine = true, modifier = Modifier.fillMaxWidth())
        OutlinedTextField(answer, { answer = it }, label = { Text(stringResource(R.string.security_answer)) }, singleLine = true, modifier = Modifier.fillMaxWidth())
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(truthful, { truthful = it }); Text(stringResource(R.string.pledge_truthfulness))
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Checkbox(discipline, { discipline = it }); Text(stringResource(R.string.pledge_discipline))
        }
        // The server checks the rules (and says which failed); the button only waits for the pledges.
        Button(
            onClick = { presenter.activate(password, again, question, answer, truthful, discipline) },
            enabled = !state.busy && truthful && discipline, modifier = Modifier.fillMaxWidth(),
        ) { Text(stringResource(R.string.activate)) }
    }
}

/**
 * The materials page (报名材料上传): at the top the deadline, the dossier's state, the messages and
 * "submit for review"; below, every category with its description, example, required mark and
 * slots (thumbnail, lock badge, minus button, upload button while a slot is free).
 */
@Composable
fun MaterialsScreen(state: CandidateScreen, model: DossierViewModel, openMessages: () -> Unit) {
    val presenter = model.presenter
    val page = state.page
    val thumbnails by model.thumbnails.collectAsStateWithLifecycle()
    var confirmSubmit by remember { mutableStateOf(false) }
    if (confirmSubmit) {
        AlertDialog(
            onDismissRequest = { confirmSubmit = false },
            confirmButton = { TextButton(onClick = { confirmSubmit = false; presenter.submit() }) { Text(stringResource(R.string.submit)) } },
            dismissButton = { TextButton(onClick = { confirmSubmit = false }) { Text(stringResource(R.string.cancel)) } },
            text = { Text(stringResource(R.string.submit_confirm)) },
        )
    }
    LazyColumn(Modifier.fillMaxSize().padding(horizontal = 16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        item {
            Column(Modifier.padding(top = 16.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(page?.districtName ?: stringResource(R.string.materials), style = MaterialTheme.typography.titleLarge, modifier = Modifier.weight(1f))
                    val unreadLabel = stringResource(R.string.unread, state.unread)
                    BadgedBox(badge = {
                        if (state.unread > 0) Badge(Modifier.semantics { contentDescription = unreadLabel }) { Text("${state.unread}") }
                    }) {
                        TextButton(onClick = openMessages) { Text(stringResource(R.string.messages)) }
                    }
                }
                (state.session as? Session.SignedIn)?.account?.let {
                    Text(stringResource(R.string.signed_in_as, it), style = MaterialTheme.typography.bodySmall)
                }
                if (state.offline) {
                    Text(
                        if (page != null) stringResource(R.string.offline_age, localTime.format(page.fetchedAt))
                        else stringResource(R.string.offline_no_page),
                        color = MaterialTheme.colorScheme.error,
                    )
                }
                if (page == null) return@Column
                Text(stringResource(R.string.deadline, beijingTime.format(page.uploadClosesAt)))
                Text(
                    when (page.status) {
                        DossierStatus.DRAFT -> stringResource(R.string.status_draft)
                        DossierStatus.SUBMITTED -> stringResource(R.string.status_submitted)
                        DossierStatus.RETURNED -> stringResource(R.string.status_returned)
                    },
                    fontWeight = FontWeight.Bold,
                )
                when (page.window) {
                    WindowStatus.NOT_YET_OPEN -> Text(stringResource(R.string.window_not_open))
                    WindowStatus.CLOSED -> Text(stringResource(R.string.window_closed))
                    WindowStatus.OPEN -> Unit
                }
                if (page.missing.isNotEmpty() && page.status != DossierStatus.SUBMITTED) {
                    val names = page.materials.filter { it.category in page.missing }.joinToString("、") { it.name }
                    Text(stringResource(R.string.missing, names), color = MaterialTheme.colorScheme.error)
                }
                Button(onClick = { confirmSubmit = true }, enabled = page.canSubmit && !state.busy, modifier = Modifier.fillMaxWidth()) {
                    Text(stringResource(R.string.submit))
                }
            }
        }
        if (page != null) {
            items(page.materials, key = { it.category }) { material ->
                MaterialItem(material, state, thumbnails, model)
            }
        }
        item {
            TextButton(onClick = presenter::signOut, enabled = !state.busy) { Text(stringResource(R.string.sign_out)) }
        }
    }
}

@Composable
private fun MaterialItem(material: MaterialCard, state: CandidateScreen, thumbnails: Map<String, ImageBitmap>, model: DossierViewModel) {
    val context = LocalContext.current
    var deleting by remember { mutableStateOf<String?>(null) }
    deleting?.let { id ->
        AlertDialog(
            onDismissRequest = { deleting = null },
            confirmButton = { TextButton(onClick = { deleting = null; model.presenter.deleteImage(id) }) { Text(stringResource(R.string.ok)) } },
            dismissButton = { TextButton(onClick = { deleting = null }) { Text(stringResource(R.string.cancel)) } },
            text = { Text(stringResource(R.string.delete_confirm)) },
        )
    }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                if (material.required) Text("* ", color = MaterialTheme.colorScheme.error, fontWeight = FontWeight.Bold)
                Text(material.name, style = MaterialTheme.typography.titleMedium, modifier = Modifier.weight(1f))
                if (material.required) Text(stringResource(R.string.required), color = MaterialTheme.colorScheme.error)
                material.exampleUrl?.let { url ->
                    TextButton(onClick = {
                        try {
                            context.startActivity(Intent(Intent.ACTION_VIEW, Uri.parse(url)))
                        } catch (e: ActivityNotFoundException) {
                            // No browser on the phone: the example stays unseen, the app runs on.
                        }
                    }) {
                        Text(stringResource(R.string.example))
                    }
                }
            }
            Text(material.description, style = MaterialTheme.typography.bodySmall)
            material.condition?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
            material.note?.let { Text(stringResource(R.string.returned_note, it), color = MaterialTheme.colorScheme.error) }
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                material.slots().forEachIndexed { slot, image ->
                    Column(horizontalAlignment = Alignment.CenterHorizontally) {
                        Box(Modifier.size(96.dp).border(1.dp, Color.LightGray).background(Color(0xFFF5F5F5)), contentAlignment = Alignment.Center) {
                            if (image != null) {
                                thumbnails[image.id]?.let {
                                    Image(it, contentDescription = material.slotLabel(slot), contentScale = ContentScale.Crop, modifier = Modifier.fillMaxSize())
                                }
                                if (image.locked) {
                                    Icon(Icons.Filled.Lock, stringResource(R.string.locked), Modifier.align(Alignment.TopEnd).padding(4.dp))
                                } else {
                                    IconButton(onClick = { deleting = image.id }, modifier = Modifier.align(Alignment.TopEnd)) {
                                        Icon(Icons.Filled.Remove, stringResource(R.string.delete_confirm))
                                    }
                                }
                            } else if (material.canUpload) {
                                UploadButton(PhotoTarget(material.category, slot.toUInt()), model)
                            }
                        }
                        Text(material.slotLabel(slot), style = MaterialTheme.typography.labelSmall)
                    }
                }
            }
            state.queuedFor(material.category).forEach { QueuedRow(it, state.progress[it.id], model.presenter) }
        }
    }
}

/** The upload button of a free slot: the system photo picker or the camera. */
@Composable
private fun UploadButton(target: PhotoTarget, model: DossierViewModel) {
    val context = LocalContext.current
    var menu by remember { mutableStateOf(false) }
    var cameraFile by rememberSaveable { mutableStateOf<String?>(null) }
    val picker = rememberLauncherForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) model.pickPhoto(uri, target)
    }
    val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { taken ->
        val file = cameraFile?.let { File(it) } ?: return@rememberLauncherForActivityResult
        cameraFile = null
        // A photo taken is the presenter's to delete; one not taken leaves an empty file behind.
        if (taken) model.tookPhoto(file, target) else file.delete()
    }
    Box {
        IconButton(onClick = { menu = true }) { Icon(Icons.Filled.Add, stringResource(R.string.upload)) }
        DropdownMenu(expanded = menu, onDismissRequest = { menu = false }) {
            DropdownMenuItem(text = { Text(stringResource(R.string.choose_photo)) }, onClick = {
                menu = false
                picker.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
            })
            DropdownMenuItem(text = { Text(stringResource(R.string.take_photo)) }, onClick = {
                menu = false
                val file = PhotoFiles.forCamera(context)
                cameraFile = file.path
                camera.launch(FileProvider.getUriForFile(context, "${context.packageName}.photos", file))
            })
        }
    }
}

@Composable
private fun QueuedRow(photo: QueuedPhoto, progress: Float?, presenter: CandidatePresenter) {
    Column(Modifier.fillMaxWidth()) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text(
                when (val s = photo.state) {
                    QueuedState.Waiting -> stringResource(R.string.queue_waiting)
                    QueuedState.Uploading -> stringResource(R.string.queue_uploading, ((progress ?: 0f) * 100).toInt())
                    is QueuedState.Held -> stringResource(R.string.queue_held, reasonText(s.code))
                    is QueuedState.NeedsAttention -> stringResource(R.string.queue_attention, reasonText(s.code))
                    else -> ""
                },
                style = MaterialTheme.typography.bodySmall, modifier = Modifier.weight(1f),
            )
            TextButton(onClick = { presenter.cancelUpload(photo.id) }) { Text(stringResource(R.string.cancel)) }
        }
        if (photo.state is QueuedState.Uploading) LinearProgressIndicator(progress = { progress ?: 0f }, modifier = Modifier.fillMaxWidth())
    }
}

/**
 * The prepared photo (its page flattened, upright, ≤200 KB) with its warnings; stored only when
 * confirmed. Above it, unless the category wants a photo of a person whole, the original photo with
 * the page's outline to adjust (调整页面) and "use whole photo"; each change prepares it again.
 */
@Composable
fun PreviewScreen(pending: PendingPhoto, state: CandidateScreen, presenter: CandidatePresenter) {
    BackHandler(onBack = presenter::discardPending)
    val outline = pending.outline
    val p = pending.prepared
    // Decoded off the main thread, once per prepared photo and once per picked photo.
    val preview by produceState<ImageBitmap?>(null, p) { value = withContext(Dispatchers.Default) { decodePrepared(p.jpeg) } }
    val frame by produceState<ImageBitmap?>(null, pending.source, outline.wholeFrameOnly) {
        value = if (outline.wholeFrameOnly) null
        else withContext(Dispatchers.Default) { uprightFrame(pending.source, p.sourceOrientation.toInt()) }
    }
    Column(Modifier.fillMaxSize().padding(16.dp).verticalScroll(rememberScrollState()), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(stringResource(R.string.preview), style = MaterialTheme.typography.titleLarge)
        frame?.let { original ->
            when {
                outline.showsOutline -> Text(stringResource(R.string.adjust_page), style = MaterialTheme.typography.bodySmall)
                p.page == "none" -> Text(stringResource(R.string.page_not_found), style = MaterialTheme.typography.bodySmall)
            }
            PageOutlineCanvas(original, outline, onSettle = presenter::reframe, modifier = Modifier.fillMaxWidth().height(360.dp))
            Row(verticalAlignment = Alignment.CenterVertically) {
                Switch(checked = outline.useWholePhoto, onCheckedChange = { presenter.reframe(outline.usingWholePhoto(it)) })
                Spacer(Modifier.width(8.dp))
                Text(stringResource(R.string.use_whole_photo))
            }
            Text(stringResource(R.string.to_upload), style = MaterialTheme.typography.titleSmall)
        }
        Box(Modifier.fillMaxWidth().height(if (frame != null) 240.dp else 360.dp), contentAlignment = Alignment.Center) {
            val shown = preview
            if (shown != null) {
                Image(shown, contentDescription = null, contentScale = ContentScale.Fit, modifier = Modifier.fillMaxSize())
            } else {
                CircularProgressIndicator()
            }
        }
        if (p.turnedDegrees.toInt() != 0) Text(stringResource(R.string.page_turned, p.turnedDegrees.toInt()))
        Text(stringResource(R.string.prepared_size, p.width.toInt(), p.height.toInt(), p.jpeg.size / 1024, (p.sourceBytes / 1024u).toInt()))
        for (warning in p.warnings) {
            Text(warningText(warning), color = MaterialTheme.colorScheme.error)
        }
        Row(horizontalArrangement = Arrangement.spacedBy(12.dp)) {
            OutlinedButton(onClick = presenter::discardPending) { Text(stringResource(R.string.retake)) }
            // Only the photo the outline says: not while another one is being prepared.
            Button(onClick = presenter::confirmPending, enabled = !state.busy && pending.current) { Text(stringResource(R.string.confirm_upload)) }
        }
    }
}

/**
 * The original photo fitted whole, the page's outline over it and a handle on each corner. A drag
 * runs here through [PageOutline] (a touch away from the handles is left to the scrolling column);
 * the outline it settles on goes to [onSettle], which prepares the photo again.
 */
@Composable
private fun PageOutlineCanvas(frame: ImageBitmap, outline: PageOutline, onSettle: (PageOutline) -> Unit, modifier: Modifier = Modifier) {
    var dragging by remember { mutableStateOf<PageOutline?>(null) }
    val settled by rememberUpdatedState(outline)
    val settle by rememberUpdatedState(onSettle)
    val reach = with(LocalDensity.current) { 32.dp.toPx() }
    val colour = MaterialTheme.colorScheme.primary
    Canvas(
        modifier.pointerInput(Unit) {
            awaitEachGesture {
                val down = awaitFirstDown(requireUnconsumed = false)
                val fit = settled.fit(size.width.toFloat(), size.height.toFloat())
                var held = settled.startDrag(down.position.toViewPoint(), fit, reach)
                if (held.activeHandle == null) return@awaitEachGesture
                down.consume()
                dragging = held
                drag(down.id) { change ->
                    held = held.dragTo(change.position.toViewPoint(), fit)
                    dragging = held
                    change.consume()
                }
                settle(held.endDrag())
                dragging = null
            }
        },
    ) {
        val shown = dragging ?: outline
        val fit = shown.fit(size.width, size.height)
        drawImage(
            frame,
            dstOffset = IntOffset(fit.left.roundToInt(), fit.top.roundToInt()),
            dstSize = IntSize(fit.width.roundToInt(), fit.height.roundToInt()),
        )
        val points = shown.points(fit).map { Offset(it.x, it.y) }
        if (points.isEmpty()) return@Canvas
        val edge = Path().apply {
            moveTo(points[0].x, points[0].y)
            points.drop(1).forEach { lineTo(it.x, it.y) }
            close()
        }
        drawPath(edge, colour, style = Stroke(width = 2.dp.toPx()))
        points.forEachIndexed { handle, centre ->
            drawCircle(colour.copy(alpha = if (handle == shown.activeHandle) 0.6f else 0.25f), radius = 12.dp.toPx(), center = centre)
            drawCircle(colour, radius = 12.dp.toPx(), center = centre, style = Stroke(width = 2.dp.toPx()))
        }
    }
}

private fun Offset.toViewPoint() = ViewPoint(x, y)

/** The reviewers' messages, unread first; opening one marks it read. */
@Composable
fun MessagesScreen(state: CandidateScreen, presenter: CandidatePresenter, back: () -> Unit) {
    BackHandler(onBack = back)
    Column(Modifier.fillMaxSize().padding(16.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            TextButton(onClick = back) { Text("‹") }
            Text(stringResource(R.string.messages), style = MaterialTheme.typography.titleLarge)
        }
        if (state.messages.isEmpty()) Text(stringResource(R.string.no_messages))
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(state.messages, key = Message::id) { message ->
                var open by remember { mutableStateOf(false) }
                Card(Modifier.fillMaxWidth().clickable { open = !open; presenter.markRead(message) }) {
                    Column(Modifier.padding(12.dp)) {
                        Text(message.title, fontWeight = if (message.read) FontWeight.Normal else FontWeight.Bold)
                        Text(localTime.format(message.createdAt), style = MaterialTheme.typography.labelSmall)
                        if (open) {
                            Spacer(Modifier.height(6.dp))
                            Text(message.body)
                        }
                    }
                }
            }
        }
    }
}
