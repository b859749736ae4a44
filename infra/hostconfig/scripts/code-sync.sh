#!/usr/bin/env bash
# Deploys the control repository's branch as the `production` environment. r10k names environments
# after branches, and this deployment serves a configured branch as `production`, so git checks out
# the branch and r10k installs the Puppetfile's modules. Each commit goes to its own directory and
# a symlink swap publishes it whole; puppetserver resolves the link once per cached environment
# (versioned_environment_dirs), so a compile keeps one commit's manifests, modules and plugins.
# Environment-level Hiera data (hiera.yaml and data/ at the top of the repository) is the exception:
# Puppet 7 reads it through the link at each lookup. Running it with no new commit changes nothing.
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

# Git settings go in through GIT_CONFIG_* (git 2.31+), so the git processes r10k starts inherit them
# and a token never shows in a command line (/proc/*/cmdline is world-readable; environ is not).
# A stalled transfer fails instead of hanging the sync: under 1000 bytes/s for 60 s over HTTP(S), no
# answer for a minute over SSH, and five minutes at most per transfer whatever the transport.
export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=http.lowSpeedLimit GIT_CONFIG_VALUE_0=1000 \
  GIT_CONFIG_KEY_1=http.lowSpeedTime GIT_CONFIG_VALUE_1=60 GIT_TERMINAL_PROMPT=0
ssh_command="ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
case $CONTROL_REPO_URL in
https://*)
  setting=controlRepo.tokenSecret
  if [[ -n ${CONTROL_REPO_SECRET_NAME:-} ]]; then
    # Read at every sync (a rotated token is used at once), held in this process only, and sent to
    # the repository's server only: a Puppetfile module from elsewhere never receives it.
    token=$(secret_get "$CONTROL_REPO_SECRET_NAME" "${CONTROL_REPO_SECRET_REGION:-}") ||
      die "cannot read secret $CONTROL_REPO_SECRET_NAME ($setting)"
    token=$(printf '%s:%s' "${CONTROL_REPO_TOKEN_USER:-x-access-token}" "$token" | base64 -w0)
    export GIT_CONFIG_COUNT=3 GIT_CONFIG_KEY_2="http.${CONTROL_REPO_URL%%"${CONTROL_REPO_URL#https://*/}"}.extraHeader" \
      GIT_CONFIG_VALUE_2="Authorization: Basic $token"
    unset token
  fi
  ;;
file://* | /*) ;; # a repository on this host's file systems: nothing to authenticate
*)
  setting=controlRepo.sshKeySecret
  [[ -n ${CONTROL_REPO_SECRET_NAME:-} ]] || die "an SSH URL needs a deploy key: set $setting"
  [[ -s ${CONTROL_REPO_KNOWN_HOSTS:-} ]] ||
    die "an SSH URL needs the server's host keys: set controlRepo.knownHosts (file: ${CONTROL_REPO_KNOWN_HOSTS:-none})"
  key="$PM_STATE_DIR/control-repo.key"
  secret_to_file "$CONTROL_REPO_SECRET_NAME" "${CONTROL_REPO_SECRET_REGION:-}" "$key"
  # The secret's value comes back without its final newline, which ssh needs.
  echo >>"$key"
  ssh-keygen -y -P '' -f "$key" >/dev/null 2>&1 ||
    die "secret $CONTROL_REPO_SECRET_NAME ($setting) is not an OpenSSH private key without passphrase"
  printf -v ssh_command '%s -i %q -o IdentitiesOnly=yes -o UserKnownHostsFile=%q -o StrictHostKeyChecking=yes' \
    "$ssh_command" "$key" "$CONTROL_REPO_KNOWN_HOSTS"
  ;;
esac
export GIT_SSH_COMMAND=$ssh_command

# git's own message names neither the setting nor the fix; after the last attempt this one does.
git_err=$(mktemp)
trap 'rm -f "$git_err"' EXIT
git_transfer() {
  local rc=0
  timeout --kill-after=10 300 git "$@" 2>"$git_err" || rc=$?
  cat "$git_err" >&2
  return "$rc"
}
explain_git_failure() {
  local host
  host=$(sed -E 's#^[a-z]+://##; s#^[^@/]*@##; s#[:/].*##' <<<"$CONTROL_REPO_URL")
  if grep -q "Host key verification failed" "$git_err"; then
    die "the SSH host key of $host is not in controlRepo.knownHosts ($CONTROL_REPO_KNOWN_HOSTS)"
  elif grep -q "Permission denied (publickey" "$git_err"; then
    die "$host refused the deploy key in secret $CONTROL_REPO_SECRET_NAME ($setting)"
  elif grep -Eq "Authentication failed|The requested URL returned error: 40[13]|could not read Username" "$git_err"; then
    die "$host refused the credentials for $CONTROL_REPO_URL (set or check $setting)"
  fi
  die "cannot fetch $CONTROL_REPO_URL: $(tail -n 1 "$git_err")"
}
if [[ ! -d $mirror ]]; then
  retry "${PUPPET_MULTISITE_GIT_ATTEMPTS:-5}" 5 60 "cloning $CONTROL_REPO_URL" -- git_transfer clone --quiet --mirror "$CONTROL_REPO_URL" "$mirror" ||
    explain_git_failure
else
  # The URL may have changed since the clone.
  git -C "$mirror" remote set-url origin "$CONTROL_REPO_URL"
  retry "${PUPPET_MULTISITE_GIT_ATTEMPTS:-5}" 5 60 "fetching $CONTROL_REPO_URL" -- git_transfer -C "$mirror" fetch --quiet --prune origin ||
    explain_git_failure
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

# puppet.conf keeps environments cached until flushed (environment_timeout = unlimited), so each
# deploy is followed by a flush through Puppet Server's admin API, with this master's certificate
# (auth.conf allows it nothing else). The environment cache: manifests, Puppet and Ruby functions,
# templates, Hiera, reloaded at each environment's next use while compiles in flight keep the one
# they hold. The JRuby pool as well when Ruby plugins changed: types, providers, features, report
# processors, termini and puppet_x code stay loaded in each JRuby until it is replaced. That flush
# waits for the JRubies in use, then replaces every one (requests wait meanwhile). A flush that
# fails is recorded and made at the next sync.
pending="$deploys/.flush-pending"
flush_caches() {
  local what=$1 api="https://$CERTNAME:8140/puppet-admin-api/v1" ssl=$PUPPET_SSLDIR
  local tls=(--cert "$ssl/certs/$CERTNAME.pem" --key "$ssl/private_keys/$CERTNAME.pem" --cacert "$ssl/certs/ca.pem")
  echo "$what" >"$pending"
  if ! curl -fsS --max-time 30 "${tls[@]}" -X DELETE "$api/environment-cache?environment=production" ||
    { [[ $what == jruby ]] && ! curl -fsS --max-time 600 "${tls[@]}" -X DELETE "$api/jruby-pool"; }; then
    log "WARNING: could not flush puppetserver's caches ($what); retrying at the next sync"
    return 0
  fi
  rm -f "$pending"
  log "flushed puppetserver's caches ($what)"
}
plugin_digest() {
  (cd "$1" && find . \( -path '*/lib/puppet/type/*' -o -path '*/lib/puppet/provider/*' -o \
    -path '*/lib/puppet/feature/*' -o -path '*/lib/puppet/reports/*' -o -path '*/lib/puppet/indirector/*' -o \
    -path '*/lib/puppet_x/*' \) -type f -print0 | sort -z | xargs -0 -r sha256sum) | sha256sum
}

target="$deploys/$commit"
previous=$(readlink "$live" 2>/dev/null) || previous=
if [[ $previous == "$target" ]]; then
  [[ -s $pending ]] && flush_caches "$(<"$pending")"
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
# The first deploy of a host precedes puppetserver's start: nothing to flush.
if [[ -n $previous ]]; then
  what=environment
  if [[ -s $pending && $(<"$pending") == jruby ]] || [[ ! -d $previous ]] ||
    [[ $(plugin_digest "$previous") != $(plugin_digest "$target") ]]; then
    what=jruby
  fi
  flush_caches "$what"
fi

# Keeps the newest few deployments for a quick look back; the live one is never removed.
find "$deploys" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' -printf '%T@ %p\n' | sort -rn |
  tail -n +$((keep + 1)) | cut -d' ' -f2- | while read -r old; do
  [[ $old == "$target" ]] || rm -rf "$old"
done
git -C "$mirror" worktree prune
