#!/usr/bin/env bash
# The bindings: build the FFI library on its own, generate the Kotlin and the Swift and check the
# committed copies (android/dossierkit, ios/DossierKit) are current; then the Kotlin on the desktop
# JVM: start the real server with the demo district, compile the bindings and the JUnit tests
# with kotlinc, run them with JNA. (There is no Swift compiler here: the iOS package is built on a
# Mac, see ios/README.md.)
# Tools: kotlinc from npm (kotlin-compiler 2.4.20, which bundles kotlinx-coroutines), JNA and
# JUnit 4 from Debian, a JDK. Ends with "kotlin: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
root=$(pwd)

missing=()
[ -f /usr/share/java/jna.jar ] || missing+=(libjna-java)
[ -f /usr/share/java/junit4.jar ] || missing+=(junit4)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v npm >/dev/null || missing+=(npm)
install_missing "${missing[@]}"
tools="$root/target/tools"
kotlinc="$tools/node_modules/kotlin-compiler/bin/kotlinc"
if [ ! -x "$kotlinc" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund --silent kotlin-compiler@2.4.20 >/dev/null
fi
coroutines=$(ls "$tools"/node_modules/kotlin-compiler/lib/kotlinx-coroutines-core-jvm*.jar | head -1)

# The library on its own (feature unification with the server would bloat it), configured as
# Android builds it (scripts/build-android-libs.sh).
cargo build -p dossier-ffi --lib --features bundled-roots --locked
# The generator and the server with the workspace's features: `cargo test --workspace` has
# built them already, so this reuses that build instead of compiling everything again.
cargo build --workspace --bin uniffi-bindgen --bin dossier-server --locked
lib="$root/target/debug/libdossier_ffi.so"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

generated="$work/generated"
for language in kotlin swift; do
  "$root/target/debug/uniffi-bindgen" generate --library "$lib" --language "$language" \
    --out-dir "$generated/$language" --no-format >/dev/null
done
committed="$root/android/dossierkit/src/main/kotlin/cn/dossier/kit/dossier_ffi.kt"
swift="$root/ios/DossierKit"
stale=0
cmp -s "$generated/kotlin/cn/dossier/kit/dossier_ffi.kt" "$committed" || stale=1
cmp -s "$generated/swift/DossierFFI.swift" "$swift/Sources/DossierFFI/DossierFFI.swift" || stale=1
cmp -s "$generated/swift/DossierFFIFFI.h" "$swift/XCFramework/include/DossierFFIFFI.h" || stale=1
cmp -s "$generated/swift/DossierFFIFFI.modulemap" "$swift/XCFramework/include/module.modulemap" || stale=1
if [ "$stale" = 1 ]; then
  echo "the committed Kotlin or Swift bindings are stale: run scripts/generate-bindings.sh" >&2
  echo "kotlin: 0 passed, 1 failed"
  exit 1
fi
echo "Kotlin and Swift bindings generated; the committed copies are current"

# The real server with the demo district on a free port; two single-use entry tickets.
DOSSIER_DATA_DIR="$work/data" DOSSIER_LISTEN=127.0.0.1:0 DOSSIER_LOG=warn \
  "$root/target/debug/dossier-server" demo >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "^Dossier listening on" "$work/server.out" && break
  sleep 0.1
done
base=$(sed -n 's/^Dossier listening on \([^ ]*\).*/\1/p' "$work/server.out")
[ -n "$base" ] || { cat "$work/server.out" >&2; exit 1; }
ticket1=$(sed -n 's/^ *ticket \(.*\)$/\1/p' "$work/server.out")
ticket2=$(DOSSIER_DATA_DIR="$work/data" "$root/target/debug/dossier-server" issue-ticket 2026110100003)
# The demo's signed-in candidate, for a test that signs in with a password.
demo_user=$(sed -n 's/^ *Signed-in candidate: username \([^ ]*\) *password \([^ ]*\).*/\1/p' "$work/server.out")
demo_password=$(sed -n 's/^ *Signed-in candidate: username \([^ ]*\) *password \([^ ]*\).*/\2/p' "$work/server.out")

classes="$work/classes"
cp="/usr/share/java/jna.jar:/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar:$coroutines"
# The library module's whole Kotlin: the generated bindings and the layer over them (DossierKit.kt,
# PageOutline.kt), and every test file.
"$kotlinc" -nowarn -cp "$cp" -d "$classes" android/dossierkit/src/main/kotlin \
  android/dossierkit/src/test/kotlin/cn/dossier/kit/*.kt 2>&1 | grep -v "^warning" || true
[ -d "$classes/cn" ] || { echo "kotlinc failed" >&2; exit 1; }
kotlin_stdlib="$tools/node_modules/kotlin-compiler/lib/kotlin-stdlib.jar"

# Every test class of the module (DossierKitTest, PageOutlineTest, ...), by its file's name.
tests=$(cd android/dossierkit/src/test/kotlin && ls cn/dossier/kit/*Test.kt | sed 's/\.kt$//; s#/#.#g')

set +e
DOSSIER_BASE="$base" DOSSIER_PHOTOS="$root/testdata/photos/orientation" \
DOSSIER_FIXTURES="$root/tests/fixtures" \
DOSSIER_TICKET_1="$ticket1" DOSSIER_TICKET_2="$ticket2" \
DOSSIER_USER="$demo_user" DOSSIER_PASSWORD="$demo_password" \
  java -Djna.library.path="$root/target/debug" -cp "$classes:$cp:$kotlin_stdlib" \
  org.junit.runner.JUnitCore $tests | tee "$work/junit.out"
status=${PIPESTATUS[0]}
set -e
# JUnit says "OK (N tests)" or "Tests run: N,  Failures: F".
awk '/^OK \(/ { gsub(/[()]/, ""); print "kotlin: " $2 " passed, 0 failed"; done = 1 }
     /^Tests run:/ { gsub(/,/, ""); print "kotlin: " $3 - $5 " passed, " $5 " failed"; done = 1 }
     END { if (!done) print "kotlin: 0 passed, 1 failed" }' "$work/junit.out"
exit "$status"
