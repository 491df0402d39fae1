#!/usr/bin/env bash
# Regenerate the committed Kotlin bindings (android/dossierkit) and the Swift bindings
# (ios/DossierKit) from the FFI library, after a change to bindings/. CI checks both are current.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p dossier-ffi --lib --features bundled-roots --locked
cargo build --workspace --bin uniffi-bindgen --locked
lib=target/debug/libdossier_ffi.so
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
target/debug/uniffi-bindgen generate --library "$lib" --language kotlin --out-dir "$out/kotlin" --no-format >/dev/null
target/debug/uniffi-bindgen generate --library "$lib" --language swift --out-dir "$out/swift" --no-format >/dev/null
mkdir -p android/dossierkit/src/main/kotlin/cn/dossier/kit ios/DossierKit/Sources/DossierFFI ios/DossierKit/XCFramework/include
cp "$out/kotlin/cn/dossier/kit/dossier_ffi.kt" android/dossierkit/src/main/kotlin/cn/dossier/kit/
cp "$out/swift/DossierFFI.swift" ios/DossierKit/Sources/DossierFFI/
cp "$out/swift/DossierFFIFFI.h" ios/DossierKit/XCFramework/include/
cp "$out/swift/DossierFFIFFI.modulemap" ios/DossierKit/XCFramework/include/module.modulemap
echo "bindings regenerated"
