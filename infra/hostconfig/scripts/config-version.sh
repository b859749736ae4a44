#!/usr/bin/env bash
# Puppet's config_version command: prints the control repository commit deployed in the environment
# directory given as argument (recorded by code-sync.sh). Runs on every compile, as puppetserver's
# user, so it reads a file instead of asking git. Never fails: a failing command fails the compile.
set -euo pipefail

marker="${1:-}/.deployed"
if [[ -n ${1:-} && -r $marker ]]; then
  read -r commit branch <"$marker"
  printf '%s (%s)\n' "${commit:0:12}" "${branch:-?}"
else
  echo unmanaged
fi
