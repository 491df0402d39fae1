import DossierKit
import PhotosUI
import SwiftUI
import UIKit

/// The screens draw the presenter's `CandidateScreen` (`model.screen`) and forward taps to it
/// (`model.presenter`); the photo picker, the camera and the decoded images go through `AppModel`.
struct RootView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        let screen = model.screen
        Group {
            switch screen.session {
            case .starting:
                ProgressView()
            case .signedOut:
                EntryView()
            case .activating(_, let name):
                ActivationView(name: name)
            case .signedIn:
                if let pending = screen.pending {
                    PreviewView(pending: pending)
                } else {
                    NavigationStack { MaterialsView() }
                }
            }
        }
        .alert(
            screen.notice.map(noticeText) ?? "",
            isPresented: Binding(get: { model.screen.notice != nil }, set: { if !$0 { model.presenter.dismissNotice() } })
        ) {
            Button("ok") { model.presenter.dismissNotice() }
        }
        // Here, over every screen: an entry link may come while any of them is shown. Dismissed
        // only through its buttons (a tap outside is its cancel button): SwiftUI may clear the
        // binding before it runs the tapped button's action, which must still find the question.
        .confirmationDialog(
            "leave_title",
            isPresented: Binding(get: { model.screen.question != nil }, set: { _ in }),
            titleVisibility: .visible,
            presenting: screen.question
        ) { question in
            switch question {
            case .signOut:
                Button("leave_keep_photos") { model.presenter.confirmSignOut(keepPhotos: true) }
                Button("leave_discard_photos", role: .destructive) { model.presenter.confirmSignOut(keepPhotos: false) }
            case .switchAccount:
                Button("leave_and_enter", role: .destructive) { model.presenter.confirmSwitchAccount() }
            }
            Button("cancel", role: .cancel) { model.presenter.dismissQuestion() }
        } message: { question in
            questionText(question, screen: screen)
        }
    }

    /// Whose account is left, and what becomes of its waiting photos. A `Text`, the only view a
    /// dialog's message shows.
    private func questionText(_ question: Question, screen: CandidateScreen) -> Text {
        switch question {
        case .signOut(let unsent):
            let account: String
            if case .signedIn(let name?) = screen.session { account = name } else { account = "—" }
            return Text("leave_sign_out_photos \(account) \(unsent)")
        case .switchAccount(let account, _):
            // This account's waiting photos stay its own, sent when it signs in again.
            let unsent = screen.unsent
            return unsent > 0
                ? Text("leave_enter_photos \(account ?? "—") \(unsent)")
                : Text("leave_enter \(account ?? "—")")
        }
    }
}

/// A notice in the candidate's language, by its code (`Wording`), never the server's English.
func noticeText(_ notice: Notice) -> String {
    let key = Wording.notice(notice)
    switch notice {
    case .noConnection(let retryAfterSecs?):
        return String(format: localized(key), Wording.waitMinutes(retryAfterSecs))
    case .uploadRefused(let material, let code):
        return String(format: localized(key), material, localized(Wording.attention(code)))
    default:
        return localized(key)
    }
}

/// Sign in, or enter with the registration site's ticket the first time.
struct EntryView: View {
    @EnvironmentObject var model: AppModel
    @State private var username = ""
    @State private var password = ""
    @State private var ticket = ""

    var body: some View {
        Form {
            Section("sign_in") {
                TextField("username", text: $username).textContentType(.username).autocorrectionDisabled()
                SecureField("password", text: $password).textContentType(.password)
                Button("sign_in") { model.presenter.signIn(username: username, password: password) }
                    .disabled(model.screen.busy || username.isEmpty || password.isEmpty)
            }
            Section("enter_with_ticket") {
                TextField("ticket", text: $ticket).autocorrectionDisabled()
                Button("enter_with_ticket") { model.presenter.enter(ticket) }
                    .disabled(model.screen.busy || EntryLink.ticket(typed: ticket) == nil)
            }
        }
    }
}

/// Activation (账号激活): the password twice, a security question and both pledges.
struct ActivationView: View {
    @EnvironmentObject var model: AppModel
    let name: String
    @State private var password = ""
    @State private var again = ""
    @State private var question = ""
    @State private var answer = ""
    @State private var truthful = false
    @State private var discipline = false

    var body: some View {
        Form {
            Section {
                Text(name).font(.headline)
                Text("activation_hint").font(.footnote)
            }
            Section("activate") {
                SecureField("password", text: $password).textContentType(.newPassword)
                SecureField("password_again", text: $again).textContentType(.newPassword)
                TextField("security_question", text: $question)
                TextField("security_answer", text: $answer)
                Toggle("pledge_truthfulness", isOn: $truthful)
                Toggle("pledge_discipline", isOn: $discipline)
            }
            Section {
                // The server checks the rules and says which failed; the button waits for the pledges.
                Button("activate") {
                    model.presenter.activate(
                        password: password, passwordAgain: again, securityQuestion: question,
                        securityAnswer: answer, pledgeTruthfulness: truthful, pledgeDiscipline: discipline)
                }
                .disabled(model.screen.busy || !truthful || !discipline)
                // Back to the sign-in screen, or to the account still signed in.
                Button("cancel", role: .cancel) { model.presenter.cancelActivation() }
                    .disabled(model.screen.busy)
            }
        }
    }
}

/// The materials page (报名材料上传): deadline, state, messages and "submit" at the top; every
/// category below with its slots (thumbnail, lock badge, minus button, upload while a slot is free).
struct MaterialsView: View {
    @EnvironmentObject var model: AppModel
    @State private var confirmSubmit = false

    var body: some View {
        let screen = model.screen
        List {
            if screen.offline {
                Section {
                    if let page = screen.page {
                        Text("offline_age \(page.fetchedAt.formatted(date: .numeric, time: .shortened))")
                            .foregroundStyle(.red)
                    } else {
                        Text("offline_no_page").foregroundStyle(.red)
                    }
                }
            }
            if let page = screen.page {
                Section {
                    Text("deadline \(BeijingTime.format(page.uploadClosesAt))")
                    Text(status(page)).bold()
                    if page.window == .notYetOpen { Text("window_not_open") }
                    if page.window == .closed { Text("window_closed") }
                    if !page.missing.isEmpty && page.status != .submitted {
                        let names = page.materials.filter { page.missing.contains($0.category) }.map(\.name).joined(separator: "、")
                        Text("missing \(names)").foregroundStyle(.red)
                    }
                    Button("submit") { confirmSubmit = true }.disabled(!page.canSubmit || screen.busy)
                }
                ForEach(page.materials, id: \.category) { material in
                    MaterialSection(material: material)
                }
            }
            Section {
                if case .signedIn(let account?) = screen.session { Text("signed_in_as \(account)").font(.footnote) }
                Button("sign_out", role: .destructive) { model.presenter.signOut() }
                    .disabled(screen.busy)
            }
        }
        .navigationTitle(screen.page?.districtName ?? String(localized: "materials"))
        .toolbar {
            NavigationLink {
                MessagesView()
            } label: {
                // `.badge` draws only in lists and tab bars, not in a toolbar: drawn here.
                HStack(spacing: 4) {
                    Text("messages")
                    if screen.unread > 0 {
                        Text(screen.unread, format: .number)
                            .font(.caption2.bold())
                            .foregroundStyle(.white)
                            .padding(.horizontal, 6)
                            .padding(.vertical, 2)
                            .background(Capsule().fill(Color.red))
                            .accessibilityLabel(Text("unread \(screen.unread)"))
                    }
                }
            }
        }
        .refreshable { await model.refresh() }
        .confirmationDialog("submit_confirm", isPresented: $confirmSubmit, titleVisibility: .visible) {
            Button("submit") { model.presenter.submit() }
        }
    }

    private func status(_ page: DossierPage) -> LocalizedStringKey {
        switch page.status {
        case .draft: return "status_draft"
        case .submitted: return "status_submitted"
        case .returned: return "status_returned"
        }
    }
}

struct MaterialSection: View {
    @EnvironmentObject var model: AppModel
    let material: MaterialCard
    @State private var deleting: String?

    var body: some View {
        Section {
            Text(material.description).font(.footnote)
            if let condition = material.condition { Text(condition).font(.footnote) }
            if let note = material.note { Text("returned_note \(note)").foregroundStyle(.red) }
            if let example = material.exampleUrl, let url = URL(string: example) {
                Link("example", destination: url)
            }
            ScrollView(.horizontal) {
                HStack {
                    ForEach(Array(material.slots.enumerated()), id: \.offset) { slot, image in
                        VStack {
                            SlotView(material: material, slot: slot, image: image, deleting: $deleting)
                            Text(material.slotLabel(slot)).font(.caption2)
                        }
                    }
                }
            }
            ForEach(model.screen.queuedFor(material.category), id: \.id) { photo in
                QueuedRow(photo: photo)
            }
        } header: {
            HStack {
                if material.required { Text("*").foregroundStyle(.red) }
                Text(material.name)
                if material.required { Text("required").foregroundStyle(.red) }
            }
        }
        .confirmationDialog("delete_confirm", isPresented: Binding(get: { deleting != nil }, set: { if !$0 { deleting = nil } })) {
            Button("ok", role: .destructive) {
                if let id = deleting { model.presenter.deleteImage(id) }
            }
        }
    }
}

struct SlotView: View {
    @EnvironmentObject var model: AppModel
    let material: MaterialCard
    let slot: Int
    let image: SlotImage?
    @Binding var deleting: String?
    @State private var picked: PhotosPickerItem?
    @State private var camera = false

    var body: some View {
        ZStack(alignment: .topTrailing) {
            RoundedRectangle(cornerRadius: 6).fill(Color(.secondarySystemBackground)).frame(width: 96, height: 96)
            if let image {
                if let thumbnail = model.thumbnails[image.id] {
                    Image(uiImage: thumbnail).resizable().scaledToFill().frame(width: 96, height: 96).clipped()
                }
                if image.locked {
                    Image(systemName: "lock.fill").padding(4).accessibilityLabel(Text("locked"))
                } else {
                    Button { deleting = image.id } label: { Image(systemName: "minus.circle.fill") }.padding(4)
                }
            } else if material.canUpload {
                Menu {
                    Button("take_photo") { camera = true }
                    // Compatible: iOS hands over a JPEG for an iPhone's HEIC, which core would refuse.
                    PhotosPicker("choose_photo", selection: $picked, matching: .images, preferredItemEncoding: .compatible)
                } label: {
                    Image(systemName: "plus").frame(width: 96, height: 96)
                }
            }
        }
        .onChange(of: picked) { item in
            guard let item else { return }
            picked = nil
            model.pick(item, target: target)
        }
        .sheet(isPresented: $camera) {
            CameraView { image in model.take(image, target: target) }
        }
    }

    private var target: PhotoTarget {
        PhotoTarget(category: material.category, slot: UInt32(slot))
    }
}

struct QueuedRow: View {
    @EnvironmentObject var model: AppModel
    let photo: QueuedPhoto

    var body: some View {
        HStack {
            switch photo.state {
            case .waiting: Text("queue_waiting").font(.caption)
            case .uploading:
                ProgressView(value: model.screen.progress[photo.id] ?? 0) { Text("queue_uploading").font(.caption) }
            case .held(let code, _): Text("queue_held \(localized(Wording.refusal(code)))").font(.caption)
            case .needsAttention(let code, _):
                Text("queue_attention \(localized(Wording.attention(code)))").font(.caption).foregroundStyle(.red)
            case .uploaded, .cancelled: EmptyView()
            }
            Spacer()
            Button("cancel") { model.presenter.cancelUpload(photo.id) }
                .font(.caption)
                .buttonStyle(.borderless)
                .disabled(model.screen.busy)
        }
    }
}

/// The prepared photo (its page flattened, upright, ≤200 KB) with its warnings; stored only when
/// confirmed. Above it, unless the category wants a photo of a person whole, the original photo
/// with the page's outline to adjust (调整页面) and "use whole photo"; each change prepares it again.
struct PreviewView: View {
    @EnvironmentObject var model: AppModel
    let pending: PendingPhoto

    var body: some View {
        VStack(spacing: 12) {
            Text("preview").font(.title2)
            let p = pending.prepared
            if !pending.outline.wholeFrameOnly {
                if pending.outline.showsOutline {
                    Text("adjust_page").font(.footnote)
                } else if p.page == "none" {
                    Text("page_not_found").font(.footnote)
                }
                if let frame = model.frame {
                    PageOutlineEditor(frame: frame, outline: pending.outline, settle: { model.presenter.reframe($0) })
                        .frame(maxHeight: 360)
                } else {
                    ProgressView().frame(maxHeight: 360)
                }
                Toggle("use_whole_photo", isOn: Binding(
                    get: { pending.outline.useWholePhoto },
                    set: { model.presenter.reframe(pending.outline.usingWholePhoto($0)) }))
                Text("to_upload").font(.headline)
            }
            if let preview = model.preview {
                Image(uiImage: preview).resizable().scaledToFit()
            } else {
                ProgressView()
            }
            if p.turnedDegrees != 0 { Text("page_turned \(Int(p.turnedDegrees))") }
            Text("prepared_size \(p.width) \(p.height) \(p.jpeg.count / 1024) \(p.sourceBytes / 1024)")
            // Each code's own key: `"warning_\(code)"` as a LocalizedStringKey would look up
            // "warning_%@" and show the raw key.
            ForEach(p.warnings, id: \.self) { warning in
                Text(localized(Wording.warning(warning))).foregroundStyle(.red)
            }
            HStack {
                Button("retake") { model.presenter.discardPending() }.buttonStyle(.bordered)
                // Only the photo the outline says: not while another one is being prepared.
                Button("confirm_upload") { model.presenter.confirmPending() }
                    .buttonStyle(.borderedProminent).disabled(model.screen.busy || !pending.current)
            }
        }
        .padding()
    }
}

/// The original photo fitted whole, the page's outline over it and a handle on each corner. A drag
/// runs here through `PageOutline`; the outline it settles on goes to `settle`, which prepares the
/// photo again.
struct PageOutlineEditor: View {
    let frame: UIImage
    let outline: PageOutline
    let settle: (PageOutline) -> Void
    /// The outline while a handle is held.
    @State private var dragging: PageOutline?

    var body: some View {
        GeometryReader { geometry in
            let shown = dragging ?? outline
            let fit = shown.fit(in: geometry.size)
            let points = shown.points(fit)
            ZStack {
                Image(uiImage: frame)
                    .resizable()
                    .frame(width: fit.rect.width, height: fit.rect.height)
                    .position(x: fit.rect.midX, y: fit.rect.midY)
                if points.count == 4 {
                    Path { path in
                        path.addLines(points)
                        path.closeSubpath()
                    }
                    .stroke(Color.accentColor, lineWidth: 2)
                    ForEach(0..<4, id: \.self) { handle in
                        Circle()
                            .fill(Color.accentColor.opacity(handle == shown.activeHandle ? 0.6 : 0.25))
                            .overlay(Circle().stroke(Color.accentColor, lineWidth: 2))
                            .frame(width: 24, height: 24)
                            .position(points[handle])
                    }
                }
            }
            .contentShape(Rectangle())
            .gesture(
                DragGesture(minimumDistance: 1)
                    .onChanged { value in
                        let held = dragging ?? outline.startDrag(at: value.startLocation, fit: fit, radius: 32)
                        guard held.activeHandle != nil else { return }
                        dragging = held.drag(to: value.location, fit: fit)
                    }
                    .onEnded { _ in
                        guard let held = dragging else { return }
                        settle(held.endDrag())
                        dragging = nil
                    }
            )
        }
    }
}

/// The reviewers' messages, unread first; opening one marks it read.
struct MessagesView: View {
    @EnvironmentObject var model: AppModel

    var body: some View {
        let messages = model.screen.messages
        List(messages, id: \.id) { message in
            DisclosureGroup {
                Text(message.body)
            } label: {
                VStack(alignment: .leading) {
                    Text(message.title).fontWeight(message.read ? .regular : .bold)
                    Text(message.createdAt.formatted()).font(.caption)
                }
            }
            .onTapGesture { model.presenter.markRead(message) }
        }
        .overlay { if messages.isEmpty { Text("no_messages") } }
        .navigationTitle(Text("messages"))
    }
}

/// The camera, through UIImagePickerController. The photo goes to the model as it is; the model
/// writes it as a JPEG file off the main actor (`PhotoFiles.writeJPEG`).
struct CameraView: UIViewControllerRepresentable {
    let taken: (UIImage) -> Void
    @Environment(\.dismiss) private var dismiss

    func makeUIViewController(context: Context) -> UIImagePickerController {
        let picker = UIImagePickerController()
        picker.sourceType = UIImagePickerController.isSourceTypeAvailable(.camera) ? .camera : .photoLibrary
        picker.delegate = context.coordinator
        return picker
    }

    func updateUIViewController(_ controller: UIImagePickerController, context: Context) {}

    func makeCoordinator() -> Coordinator { Coordinator(self) }

    final class Coordinator: NSObject, UIImagePickerControllerDelegate, UINavigationControllerDelegate {
        let parent: CameraView
        init(_ parent: CameraView) { self.parent = parent }

        func imagePickerController(_ picker: UIImagePickerController, didFinishPickingMediaWithInfo info: [UIImagePickerController.InfoKey: Any]) {
            if let image = info[.originalImage] as? UIImage { parent.taken(image) }
            parent.dismiss()
        }

        func imagePickerControllerDidCancel(_ picker: UIImagePickerController) { parent.dismiss() }
    }
}
