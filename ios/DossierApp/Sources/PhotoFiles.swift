import CoreTransferable
import Foundation
import ImageIO
import UIKit
import UniformTypeIdentifiers

/// The picked and taken photos, as files in one folder of the app's temporary directory: core's
/// pipeline reads a path (a 50 MB photo never crosses the FFI boundary nor sits in memory), the
/// presenter (DossierKit's `CandidatePresenter`) removes each file when its photo is confirmed,
/// discarded or replaced, or the candidate signs out, and the folder is emptied at launch (a photo
/// still being checked when the app was ended).
enum PhotoFiles {
    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("photos", isDirectory: true)

    static func newURL(pathExtension: String) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent(UUID().uuidString).appendingPathExtension(pathExtension)
    }

    static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
    }

    static func removeLeftovers() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A copy of the file iOS handed over, as JPEG or PNG, the formats core reads. The picker is
    /// asked for the compatible encoding, so an iPhone's HEIC comes as JPEG; whatever else still
    /// arrives (a HEIC iOS did not convert, a GIF or WebP saved from elsewhere) is re-encoded to
    /// JPEG here with its orientation tag, rather than refused. Runs off the main actor.
    static func adopt(_ file: URL) throws -> URL {
        let fileManager = FileManager.default
        guard let source = CGImageSourceCreateWithURL(file as CFURL, nil),
              let type = CGImageSourceGetType(source).flatMap({ UTType($0 as String) })
        else {
            // Not an image ImageIO reads: passed on as it is, and core says what is wrong with it.
            let copy = try newURL(pathExtension: file.pathExtension)
            try fileManager.copyItem(at: file, to: copy)
            return copy
        }
        if type.conforms(to: .jpeg) || type.conforms(to: .png) {
            let copy = try newURL(pathExtension: type.preferredFilenameExtension ?? file.pathExtension)
            try fileManager.copyItem(at: file, to: copy)
            return copy
        }
        let copy = try newURL(pathExtension: "jpg")
        guard let destination = CGImageDestinationCreateWithURL(copy as CFURL, UTType.jpeg.identifier as CFString, 1, nil)
        else { throw CocoaError(.fileWriteUnknown) }
        // The source's properties (the EXIF orientation among them) are carried over.
        let options = [kCGImageDestinationLossyCompressionQuality: 0.95] as CFDictionary
        CGImageDestinationAddImageFromSource(destination, source, 0, options)
        guard CGImageDestinationFinalize(destination) else {
            remove(copy)
            throw CocoaError(.fileWriteUnknown)
        }
        return copy
    }

    /// The camera's photo as a JPEG file, its pixels unrotated with the orientation tag, so the
    /// pipeline turns it upright like any other. Encoding 12 MP takes a while: off the main actor.
    static func writeJPEG(_ image: UIImage) throws -> URL {
        guard let jpeg = image.jpegData(compressionQuality: 0.95) else { throw CocoaError(.fileWriteUnknown) }
        let url = try newURL(pathExtension: "jpg")
        try jpeg.write(to: url)
        return url
    }
}

/// A photo from the library as a file, never as `Data`: iOS writes it (converted to JPEG when
/// the picker asks for `preferredItemEncoding: .compatible`) and hands over a URL that lives only
/// while `importing` runs, so it is copied into `PhotoFiles`' folder there, off the main actor.
struct PickedPhoto: Transferable {
    let url: URL

    static var transferRepresentation: some TransferRepresentation {
        FileRepresentation(importedContentType: .image) { received in
            PickedPhoto(url: try PhotoFiles.adopt(received.file))
        }
    }
}
