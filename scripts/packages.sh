# Sourced by the test scripts: install the Debian packages named (after apt-get update) when
# running as root, as CI does on a fresh machine; otherwise say which to install and stop.
install_missing() {
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "please install: $* (e.g. sudo apt-get install $*)" >&2
    exit 1
  fi
}
