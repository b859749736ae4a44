#!/usr/bin/env bash
# Deploys the control repository's branch as the `production` environment. r10k names environments
# after branches, and this deployment serves a configured branch as `production`, so git checks out
# the branch and r10k installs the Puppetfile's modules. Each commit goes to its own directory and
# a symlink swap publishes it whole: a compile never sees a half-updated tree. Running it with no new
# commit changes nothing.
set -euo pipefail
PM_SCRIPT="code-sync"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_settings
require_settings CONTROL_REPO_URL CONTROL_REPO_BRANCH

envdir=$PUPPET_ENVIRONMENTPATH
deploys="$envdir/.deploys"
mirror="$deploys/mirror.git"
live="$envdir/production"
keep=3

mkdir -p "$deploys"
exec 9>"$deploys/.lock"
flock -n 9 || {
  log "another sync is running"
  exit 0
}

# A stalled transfer fails instead of hanging the sync: under 1000 bytes/s for 60 s over HTTP(S), no
# answer for a minute over SSH, and five minutes at most per transfer whatever the transport.
export GIT_SSH_COMMAND="ssh -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
git_transfer() {
  timeout --kill-after=10 300 git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=60 "$@"
}
if [[ ! -d $mirror ]]; then
  retry 5 5 60 "cloning $CONTROL_REPO_URL" -- git_transfer clone --quiet --mirror "$CONTROL_REPO_URL" "$mirror"
else
  retry 5 5 60 "fetching $CONTROL_REPO_URL" -- git_transfer -C "$mirror" fetch --quiet --prune origin
fi
commit=$(git -C "$mirror" rev-parse --verify "refs/heads/$CONTROL_REPO_BRANCH^{commit}") ||
  die "branch $CONTROL_REPO_BRANCH not found in $CONTROL_REPO_URL"

# Every catalog and report names the deployed commit. Puppet 7 accepts config_version only in
# environment.conf; a control repository that sets its own keeps it. The command is a file of the
# deployment, so it needs no arguments and never asks git (puppetserver's user would trip over git's
# ownership check on this root-owned checkout).
set_config_version() {
  local dir=$1 conf="$1/environment.conf"
  if [[ -f $conf ]] && grep -Eq '^[[:space:]]*config_version[[:space:]]*=' "$conf"; then
    log "the control repository sets its own config_version"
    return 0
  fi
  printf '#!/bin/sh\necho "%s (%s)"\n' "${commit:0:12}" "$CONTROL_REPO_BRANCH" >"$dir/.config-version"
  chmod 0755 "$dir/.config-version"
  printf 'config_version = %s\n' "$dir/.config-version" >>"$conf"
}

target="$deploys/$commit"
if [[ $(readlink "$live" 2>/dev/null) == "$target" ]]; then
  log "production already at $commit"
  exit 0
fi
if [[ ! -f $target/.deployed ]]; then
  rm -rf "$target"
  git -C "$mirror" worktree prune
  git -C "$mirror" worktree add --quiet --detach "$target" "$commit"
  if [[ -f $target/Puppetfile ]]; then
    if command -v r10k >/dev/null; then
      retry 3 10 60 "installing Puppetfile modules" -- timeout --kill-after=10 600 \
        r10k puppetfile install --puppetfile "$target/Puppetfile" --moduledir "$target/modules"
    else
      die "the control repository has a Puppetfile but r10k is not installed"
    fi
  fi
  set_config_version "$target"
  printf '%s %s\n' "$commit" "$CONTROL_REPO_BRANCH" >"$target/.deployed"
fi
if [[ -d $live && ! -L $live ]]; then
  log "replacing the unmanaged directory $live"
  rm -rf "$live"
fi
ln -sfn "$target" "$live.pm-new"
mv -Tf "$live.pm-new" "$live"
log "production now at $commit ($CONTROL_REPO_BRANCH)"

# Keeps the newest few deployments for a quick look back; the live one is never removed.
find "$deploys" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' -printf '%T@ %p\n' | sort -rn |
  tail -n +$((keep + 1)) | cut -d' ' -f2- | while read -r old; do
  [[ $old == "$target" ]] || rm -rf "$old"
done
git -C "$mirror" worktree prune
