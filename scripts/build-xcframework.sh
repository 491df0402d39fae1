#!/usr/bin/env bash
# Builds ios/DossierKit/XCFramework/DossierFFIFFI.xcframework on a Mac with Xcode: the static
# library for iPhones (aarch64-apple-ios) and for the simulators (Apple silicon and Intel, joined
# with lipo), with the generated C header and module map. Needs:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# Then open ios/ (see ios/README.md). The Swift bindings are generated on Linux too and committed;
# after a change to bindings/, run scripts/generate-bindings.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname)" = Darwin ] || { echo "xcodebuild is needed: run this on a Mac" >&2; exit 1; }
export IPHONEOS_DEPLOYMENT_TARGET=16.0
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build -p dossier-ffi --lib --release --locked --target "$target"
done
out=ios/DossierKit/XCFramework
mkdir -p target/xcframework
lipo -create target/aarch64-apple-ios-sim/release/libdossier_ffi.a \
  target/x86_64-apple-ios/release/libdossier_ffi.a -output target/xcframework/libdossier_ffi_sim.a
rm -rf "$out/DossierFFIFFI.xcframework"
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/release/libdossier_ffi.a -headers "$out/include" \
  -library target/xcframework/libdossier_ffi_sim.a -headers "$out/include" \
  -output "$out/DossierFFIFFI.xcframework"
echo "built $out/DossierFFIFFI.xcframework"
