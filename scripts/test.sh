#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test
# (unit, integration against a real actix server, macro UI, doc tests), then
# rustdoc with warnings denied.
# Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# The Redis tests start a real redis-server on 127.0.0.1.
if ! command -v redis-server >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends redis-server
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo test --workspace --all-features
# Rustdoc with no broken or private links: as the docs are published (every
# feature), and as `cargo doc` builds them by default.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -p actix-webhook --no-deps
# The default build pulls in no metrics crate (the `metrics` feature does).
if cargo tree -p actix-webhook -e normal --prefix none | grep -q '^metrics'; then
  echo "the default build of actix-webhook depends on a metrics crate" >&2
  exit 1
fi
cargo tree -p actix-webhook -e normal --prefix none --features metrics | grep -q '^metrics v'
