#!/usr/bin/env bash
# Locates the test tools that no Debian package provides: terraform (>= 1.9; the infrastructure tests run it offline).
# Order: $TERRAFORM, then PATH, then the usual install places. A binary found outside PATH is linked into .tools/bin,
# which the Makefile puts first on PATH for the tests. HashiCorp ships terraform only from its own apt repository or
# release zips; neither is reachable on machines that reach only the npm registry and Debian, so when none is found
# this stops with what to do instead of letting the terraform tests fail one by one.
set -euo pipefail
cd "$(dirname "$0")/.."
candidates=("${TERRAFORM:-}" "$(command -v terraform || true)" /usr/local/bin/terraform /usr/bin/terraform /opt/terraform/terraform "$HOME/.local/bin/terraform" "$HOME/bin/terraform")
for tf in "${candidates[@]}"; do
  [ -n "$tf" ] && [ -x "$tf" ] || continue
  version=$("$tf" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')
  major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
  if [ -n "$version" ] && { [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 9 ]; }; }; then
    mkdir -p .tools/bin
    [ "$(command -v terraform || true)" = "$tf" ] || ln -sfn "$tf" .tools/bin/terraform
    exit 0
  fi
  echo "tools-ensure: $tf is terraform ${version:-of unknown version}; the tests need >= 1.9" >&2
done
cat >&2 <<'MSG'
tools-ensure: no terraform >= 1.9 found (looked at $TERRAFORM, PATH, /usr/local/bin, /usr/bin, /opt/terraform, ~/.local/bin, ~/bin).
It is not a Debian package: install it from HashiCorp's apt repository (apt.releases.hashicorp.com) or a release zip,
or point TERRAFORM at the binary, then run make test again.
MSG
exit 1
