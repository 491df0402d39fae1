package cn.dossier.app

import android.app.Application
import android.net.Uri
import androidx.compose.ui.graphics.ImageBitmap
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.SavedStateHandle
import androidx.lifecycle.viewModelScope
import cn.dossier.kit.CandidatePlatform
import cn.dossier.kit.CandidatePresenter
import cn.dossier.kit.CandidateScreen
import cn.dossier.kit.PhotoTarget
import cn.dossier.kit.Session
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * Holds the screens' [CandidatePresenter] (all their logic, tested on the JVM) for as long as the
 * screens live, and gives it what only Android has: the content-URI copy (HEIC made JPEG),
 * WorkManager, push, and the activation kept across process death. The screens call the presenter
 * directly; this adds the photo picker's and camera's entry points and the decoded thumbnails.
 * An `AndroidViewModel` only for the Application (the one `DossierApp`, the cache directory).
 */
class DossierViewModel(application: Application, private val saved: SavedStateHandle) : AndroidViewModel(application) {
    private val app = application as DossierApplication

    val presenter = CandidatePresenter(
        dossier = app.dossier,
        scope = viewModelScope,
        background = Dispatchers.IO,
        platform = object : CandidatePlatform {
            override fun uploadNow() = UploadWorker.runNow(app)
            override fun registerForPush() = PushService.registerCurrentToken(app)
        },
        resumedActivation = saved.get<String>(ACTIVATION_TOKEN)?.let { token ->
            Session.Activating(token, saved.get<String>(ACTIVATION_NAME).orEmpty())
        },
    )

    val state: StateFlow<CandidateScreen> = presenter.state

    private val decoded = MutableStateFlow<Map<String, ImageBitmap>>(emptyMap())

    /** The slots' thumbnails, decoded once each, off the main thread. */
    val thumbnails: StateFlow<Map<String, ImageBitmap>> = decoded.asStateFlow()

    init {
        // The activation token outlives the process (the candidate may be in the camera or the
        // password manager when Android ends it), so activation does not start over.
        viewModelScope.launch {
            state.map { it.session }.distinctUntilChanged().collect { session ->
                when (session) {
                    is Session.Activating -> {
                        saved[ACTIVATION_TOKEN] = session.activationToken
                        saved[ACTIVATION_NAME] = session.name
                    }
                    Session.Starting -> Unit
                    else -> {
                        saved.remove<String>(ACTIVATION_TOKEN)
                        saved.remove<String>(ACTIVATION_NAME)
                    }
                }
            }
        }
        viewModelScope.launch {
            state.map { it.thumbnails }.distinctUntilChanged().collect { jpegs ->
                val fresh = jpegs.filterKeys { it !in decoded.value }
                val bitmaps = withContext(Dispatchers.Default) {
                    fresh.mapNotNull { (id, jpeg) -> decodeThumbnail(jpeg)?.let { id to it } }.toMap()
                }
                // Another account's thumbnails go with its page.
                decoded.update { old -> (old + bitmaps).filterKeys { it in jpegs } }
            }
        }
    }

    /** A photo from the system picker: copied (HEIC and the like made JPEG) off the main thread. */
    fun pickPhoto(uri: Uri, target: PhotoTarget) = presenter.pickPhoto(target) { PhotoFiles.copy(app, uri) }

    /** A photo the camera wrote into [file], in the cache already: the presenter deletes it when done. */
    fun tookPhoto(file: File, target: PhotoTarget) = presenter.pickPhoto(target) { file }

    override fun onCleared() = presenter.close()

    private companion object {
        const val ACTIVATION_TOKEN = "activation_token"
        const val ACTIVATION_NAME = "activation_name"
    }
}
