#!/usr/bin/env bash
# Runs Latchkey's whole test suite on a fresh Debian machine, installing what it needs:
# Debian packages (apt-get, skipped when present), Python tools in a virtualenv under
# ~/.cache, then formatting, lints, and every crate's tests including the end-to-end tests
# that drive the real binaries against a real latchkeyd on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
# libtss2-dev and pkg-config: latchkey-tpm links libtss2 through tss-esapi; swtpm,
# swtpm-tools and tpm2-tools: the TPM tests (latchkey-tpm, the attest crate's interop tests)
# run a real software TPM and check it with tpm2-tools.
# krb5-kdc, krb5-admin-server (kadmin.local), krb5-pkinit, krb5-user: a real MIT KDC for the
# PKINIT tests; opensc (pkcs11-tool), gnutls-bin (p11tool), p11-kit, openssh-server and
# openssh-client: the real consumers of the PKCS#11 module (docs/smart-card.md); faketime:
# the PKINIT test of an expired certificate runs the KDC two days ahead (docs/pkinit.md);
# systemd: systemd-analyze checks the service unit in packaging/systemd.
# postgresql-15: latchkey-pg-harness starts throwaway PostgreSQL 15 clusters (initdb,
# pg_ctl) for the storage tests (docs/storage.md); as root it runs them as `latchkey-test`.
# jq: picks the server's test binaries out of cargo's JSON for the PostgreSQL pass.
packages=(openssl ca-certificates chromium pkg-config libtss2-dev swtpm swtpm-tools tpm2-tools
  krb5-kdc krb5-admin-server krb5-pkinit krb5-user opensc gnutls-bin p11-kit openssh-server
  openssh-client faketime systemd postgresql-15 jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present: ${packages[*]}"
fi

step "Python tools (independent OpenID Connect / JWT relying party)"
venv="$HOME/.cache/latchkey-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/oidc/requirements.txt
export LATCHKEY_PYTHON="$venv/bin/python"

step "Browser test tools (playwright-core, pinned in tests/browser/package-lock.json)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "build the binaries the end-to-end tests run"
cargo build --workspace --bins
# The PKCS#11 module the smart-card tests load (a cdylib, not a binary).
cargo build -p latchkey-pkcs11
export LATCHKEY_BIN_DIR="$CARGO_TARGET_DIR/debug"

step "cargo install (the README's way onto PATH), into a scratch root"
# --debug reuses this target directory's build; the README installs release builds.
install_root="$(mktemp -d)"
cargo install --locked --offline --debug --quiet --path crates/latchkeyd --root "$install_root"
cargo install --locked --offline --debug --quiet --path crates/latchkey --root "$install_root"
"$install_root/bin/latchkeyd" --version
"$install_root/bin/latchkey" --version
rm -rf "$install_root"

step "Debian package: build with cargo-deb, install, check the user and the unit, purge"
LATCHKEY_DEB_PROFILE=dev bash scripts/test-deb.sh

step "cargo test"
cargo test --workspace --no-fail-fast

step "server and web integration tests on PostgreSQL (in the background, while the next steps run)"
# The same tests as above, each harness on a fresh database of a throwaway PostgreSQL 15
# cluster (LATCHKEY_TEST_DATABASE, crates/server/tests/common). Left out: the tests that
# read SQLite's database file itself (secrets in the file's bytes, a SQLite query plan).
# The test binaries are run directly, not through cargo, so that cargo's lock on the target
# directory does not hold up the steps below; each runs in its crate's directory.
pg_log="$(mktemp)"
mapfile -t pg_bins < <(cargo test -p latchkey-server -p latchkey-web --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test) | "\(.manifest_path)\t\(.executable)"')
if [ "${#pg_bins[@]}" -eq 0 ]; then
  echo "no test binaries of latchkey-server or latchkey-web found for the PostgreSQL pass" >&2
  exit 1
fi
(
  failed=0
  for entry in "${pg_bins[@]}"; do
    manifest="${entry%%$'\t'*}"
    bin="${entry#*$'\t'}"
    echo "== $bin"
    (cd "$(dirname "$manifest")" && LATCHKEY_TEST_DATABASE=postgres "$bin" \
      --skip a_copy_of_the_database_reveals_no_secret \
      --skip a_data_directory_from_before_sealing_is_sealed_at_its_next_start \
      --skip a_missing_wrong_or_readable_key_file_is_refused_and_nothing_changes \
      --skip the_users_page_query_walks_the_upn_index) || failed=1
  done
  exit "$failed"
) >"$pg_log" 2>&1 &
pg_tests=$!

step "TPM tests on swtpm (docs/tpm.md, Device side)"
cargo test -p latchkey-tpm --features swtpm --no-fail-fast

step "hostile-input suite against the release build (what production runs)"
cargo test --release -p latchkey-server \
  --test malformed --test negative --test abuse --test connection_limits \
  --test prt_proof --test key_mfa_rule --test secrets_at_rest
cargo test --release -p latchkey-web \
  --test http_errors --test web_security --test web_headers --test seckey_signin \
  --test isolation_property

step "fuzz smoke (cargo-fuzz on nightly: each target over its committed corpus, then 10 s)"
# docs/fuzzing.md. A crash, a panic or a slow input (-timeout) makes the target exit non-zero
# and fails this script; the input is left in fuzz/artifacts/<target>/.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
(
  cd fuzz
  export CARGO_TARGET_DIR="$HOME/.cache/latchkey-fuzz-target"
  cargo +nightly fuzz build --sanitizer none
  for t in $(cargo +nightly fuzz list); do
    work="$(mktemp -d)"
    if ! cargo +nightly fuzz run --sanitizer none "$t" "$work" "corpus/$t" -- \
      -max_total_time=10 -timeout=20 >"$work.log" 2>&1; then
      tail -n 80 "$work.log"
      echo "fuzz target $t failed: the input is in fuzz/artifacts/$t/ (docs/fuzzing.md)" >&2
      exit 1
    fi
    echo "$t: $(grep -a '^Done' "$work.log")"
    rm -rf "$work" "$work.log"
  done
)

step "browser tests (headless Chromium, DevTools virtual authenticator)"
LATCHKEY_SCREENSHOTS="$CARGO_TARGET_DIR/browser-screenshots" node tests/browser/flow.mjs
LATCHKEY_SCREENSHOTS="$CARGO_TARGET_DIR/browser-screenshots" node tests/browser/admin.mjs
echo "screenshots: $CARGO_TARGET_DIR/browser-screenshots"

step "server and web integration tests on PostgreSQL: the result"
if wait "$pg_tests"; then
  grep -E '^test result' "$pg_log" | awk '{p += $4; f += $6} END {print p " passed, " f " failed"}'
else
  cat "$pg_log"
  echo "the server's or the web's integration tests failed on PostgreSQL (log above)" >&2
  exit 1
fi
