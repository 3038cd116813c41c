#!/usr/bin/env bash
# Builds the latchkeyd Debian package with cargo-deb, installs it on this machine, checks
# what the install made (the system user, the unit, the binary, the configuration file),
# and purges it again (docs/install.md). Needs root (dpkg); scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey-target}"

profile="${LATCHKEY_DEB_PROFILE:-release}"
# Pinned: cargo-deb 3.8 accepts --profile dev (with a warning); a later release may refuse it.
cargo_deb_version=3.8.0
cargo deb --version 2>/dev/null | grep -qx "cargo-deb $cargo_deb_version" ||
  cargo install --locked --quiet cargo-deb --version "$cargo_deb_version"
deb_dir="$(mktemp -d)"
trap 'rm -rf "$deb_dir"; dpkg --purge latchkeyd >/dev/null 2>&1 || true' EXIT
cargo deb --locked -p latchkeyd --profile "$profile" --output "$deb_dir" 2>&1 |
  grep -v "profile is not supported\|To enable debug symbols set" || true
[ -n "$(ls "$deb_dir"/latchkeyd_*.deb 2>/dev/null)" ] || { echo "test-deb: cargo deb made no package" >&2; exit 1; }
deb="$(ls "$deb_dir"/latchkeyd_*.deb)"
dpkg-deb --info "$deb" | grep -E "Package: latchkeyd|Depends:"
dpkg-deb --contents "$deb" | grep -E "usr/bin/latchkeyd$|latchkeyd.service$|etc/latchkey/latchkeyd.toml$"

dpkg --purge latchkeyd >/dev/null 2>&1 || true
dpkg -i "$deb"
fail() { echo "test-deb: $*" >&2; exit 1; }
getent passwd latchkey >/dev/null || fail "the package did not create the latchkey user"
[ "$(getent passwd latchkey | cut -d: -f7)" = /usr/sbin/nologin ] || fail "latchkey can log in"
getent group latchkey >/dev/null || fail "no latchkey group"
unit=""
for d in /lib/systemd/system /usr/lib/systemd/system; do
  [ -f "$d/latchkeyd.service" ] && unit="$d/latchkeyd.service"
done
[ -n "$unit" ] || fail "the unit is not installed"
systemd-analyze verify "$unit"
[ "$(stat -c '%a %G' /etc/latchkey/latchkeyd.toml)" = "640 latchkey" ] ||
  fail "/etc/latchkey/latchkeyd.toml is $(stat -c '%a %G' /etc/latchkey/latchkeyd.toml)"
/usr/bin/latchkeyd --version
# The installed configuration file is the default one, and it is valid.
/usr/bin/latchkeyd config check | grep -q "^# configuration file: /etc/latchkey/latchkeyd.toml" ||
  fail "config check does not read the installed file"
dpkg --purge latchkeyd
[ ! -e /usr/bin/latchkeyd ] || fail "purge left /usr/bin/latchkeyd"
[ ! -e /etc/latchkey/latchkeyd.toml ] || fail "purge left the configuration file"
echo "test-deb: install, checks and purge passed"
