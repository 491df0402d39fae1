#!/usr/bin/env bash
# Builds libdossier_ffi.so for the Android app's ABIs into the library module's jniLibs, with
# cargo-ndk and the Android NDK (for machines that have them; see android/README.md):
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#   cargo install cargo-ndk
#   export ANDROID_NDK_HOME=$ANDROID_HOME/ndk/<version>
# Release build with `bundled-roots`: TLS checks the server against Mozilla's roots compiled in,
# because reqwest's platform verifier needs a JNI context set up before the first handshake.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
command -v cargo-ndk >/dev/null || { echo "cargo-ndk is missing: cargo install cargo-ndk" >&2; exit 1; }
[ -n "${ANDROID_NDK_HOME:-}" ] || { echo "set ANDROID_NDK_HOME to the NDK (Android Studio > SDK Manager > NDK)" >&2; exit 1; }
flags=()
[ "$profile" = release ] && flags+=(--release)
# The photo pipeline's libjpeg-turbo is built from source by CMake (and NASM on x86_64).
cargo ndk --platform 26 -t arm64-v8a -t armeabi-v7a -t x86_64 \
  -o android/dossierkit/src/main/jniLibs \
  build -p dossier-ffi --lib --features bundled-roots --locked "${flags[@]}"
ls -l android/dossierkit/src/main/jniLibs/*/libdossier_ffi.so
