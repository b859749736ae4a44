#!/usr/bin/env bash
# Runs a command "inside a lab host": in the host's network namespace (when given) and in a private
# mount namespace where the host's own directories are bind-mounted over the fixed paths of Debian's
# Puppet packages. Several hosts thus run the same first-boot scripts and the same servers side by
# side, each seeing only its own /etc/puppet, ssldir, PuppetDB configuration, logs and state.
#
#   lab/host-exec.sh [--netns NS] [--user USER] [--volume DIR:PATH] ROOT -- COMMAND [ARGS...]
#
# ROOT is the host's directory (e.g. lab-state/hosts/ca). Its fs/ subtree mirrors the real paths:
# ROOT/fs/etc/puppet is the host's /etc/puppet, and so on. On first use each directory is seeded from
# the package's installed copy, so a host starts from a freshly installed state. ROOT/fs/etc/hosts and
# ROOT/fs/etc/resolv.conf, when present, replace the machine's files inside the host (name
# resolution of the lab). --user runs the command as that user (setpriv, same PID). --volume binds
# DIR, a directory outside ROOT, over PATH: the host's state volume, which outlives the host's root.
#
# Every layer execs the next (ip netns exec, unshare, bash, setpriv), so the PID of this script is
# the PID of COMMAND: the lab stops a server by that PID. Nothing here mounts anything outside the
# new mount namespace; the only change to the machine is creating missing empty mount points.
set -euo pipefail

# Directories of the packages (dpkg -L puppetserver puppetdb puppet-agent cron) and of
# puppet-multisite. Seeded: copied from the machine on first use. The /run ones and ours start empty.
# /var/spool/cron: an agent applying a cron resource writes its own crontabs, never the machine's.
# /root/.r10k: r10k's git cache, one per master as on EC2, so masters deploying the same commit at
# once do not clone into the same cache.
SEEDED_DIRS=(
  /etc/puppet /etc/puppetdb /etc/default
  /var/lib/puppet /var/cache/puppet /var/lib/puppetserver /var/lib/puppetdb
  /var/spool/cron
)
EMPTY_DIRS=(
  /var/log/puppet /var/log/puppetserver /var/log/puppetdb
  /run/puppet /run/puppetserver /run/puppetdb
  /etc/puppet-multisite /var/lib/puppet-multisite /var/log/puppet-multisite
  /usr/local/lib/puppet-multisite /root/.r10k
)
# Owners of the directories the packages' services create at start (systemd RuntimeDirectory, init
# scripts): the lab starts the servers itself, as these users.
declare -A RUN_OWNERS=([/run/puppet]=puppet [/run/puppetserver]=puppet [/run/puppetdb]=puppetdb)
# Single files a host may bring (written by the lab), bound only when present.
OPTIONAL_FILES=(/etc/hosts /etc/resolv.conf)

die() {
  echo "host-exec: $*" >&2
  exit 2
}

# Whether every directory of the lists is in ROOT/fs: a host seeded before a directory joined them
# gets it at its next command instead of failing to bind it.
seeded() {
  local root=$1 dir
  [[ -e $root/.seeded ]] || return 1
  for dir in "${SEEDED_DIRS[@]}" "${EMPTY_DIRS[@]}"; do
    [[ -e $root/fs$dir ]] || return 1
  done
}

# Copies the package's directories into ROOT/fs once; ownership and modes are kept (cp -a). Two
# commands started at once in a new host (a server and the helper beside it) seed it one after the
# other: the second waits on the lock, then finds it seeded.
seed() {
  local root=$1 dir lock
  seeded "$root" && return 0
  exec {lock}>"$root/.seed.lock"
  flock "$lock"
  if seeded "$root"; then
    exec {lock}>&-
    return 0
  fi
  for dir in "${SEEDED_DIRS[@]}"; do
    mkdir -p "$root/fs$(dirname "$dir")"
    if [[ -d $dir ]]; then
      [[ -e $root/fs$dir ]] || cp -a "$dir" "$root/fs$dir"
    else
      mkdir -p "$root/fs$dir"
    fi
  done
  for dir in "${EMPTY_DIRS[@]}"; do
    if [[ ! -e $root/fs$dir ]]; then
      mkdir -p "$root/fs$dir"
      # Same owner and mode as the package's directory, when there is one.
      if [[ -n ${RUN_OWNERS[$dir]:-} ]]; then
        chown "${RUN_OWNERS[$dir]}:${RUN_OWNERS[$dir]}" "$root/fs$dir"
      elif [[ -d $dir ]]; then
        chown --reference="$dir" "$root/fs$dir"
        chmod --reference="$dir" "$root/fs$dir"
      fi
    fi
  done
  mkdir -p "$root/log"
  touch "$root/.seeded"
  exec {lock}>&-
}

# Inside the new mount namespace: bind every host directory over its fixed path, then the volume
# over its mount point (inside one of those), then exec.
inside() {
  local root=$1 user=$2 volume=$3 dir
  shift 3
  for dir in "${SEEDED_DIRS[@]}" "${EMPTY_DIRS[@]}"; do
    mount --bind "$root/fs$dir" "$dir"
  done
  if [[ -n $volume ]]; then
    mkdir -p "${volume#*:}"
    mount --bind "${volume%%:*}" "${volume#*:}"
  fi
  for dir in "${OPTIONAL_FILES[@]}"; do
    [[ ! -f $root/fs$dir ]] || mount --bind "$root/fs$dir" "$dir"
  done
  export PUPPET_MULTISITE_LAB_HOST="$root"
  if [[ -n $user ]]; then
    # The caller's environment is kept (settings passed to the command); HOME and USER are the user's.
    exec setpriv --reuid="$user" --regid="$user" --init-groups -- \
      env HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" "$@"
  fi
  exec "$@"
}

if [[ ${1:-} == --inside ]]; then
  shift
  inside "$@"
fi

netns="" user="" volume=""
while [[ $# -gt 0 ]]; do
  case $1 in
  --netns)
    netns=${2:?--netns needs a name}
    shift 2
    ;;
  --user)
    user=${2:?--user needs a name}
    shift 2
    ;;
  --volume)
    volume=${2:?--volume needs DIR:PATH}
    [[ $volume == /*:/* ]] || die "--volume takes DIR:PATH, both absolute, got $volume"
    mkdir -p "${volume%%:*}"
    shift 2
    ;;
  --) die "ROOT is missing" ;;
  -*) die "unknown option $1" ;;
  *) break ;;
  esac
done
[[ $# -ge 3 && $2 == -- ]] || die "usage: host-exec.sh [--netns NS] [--user USER] [--volume DIR:PATH] ROOT -- COMMAND [ARGS...]"
[[ $(id -u) -eq 0 ]] || die "must run as root (namespaces and bind mounts)"
root=$(realpath -m "$1")
shift 2
case $root in
/ | /etc* | /var/lib/puppet* | /usr*) die "refusing host root $root" ;;
esac
if [[ -n $netns ]]; then
  ip netns list | awk '{print $1}' | grep -qxF "$netns" || die "network namespace $netns does not exist"
fi
mkdir -p "$root"
seed "$root"
for dir in "${EMPTY_DIRS[@]}"; do
  # Mount points on the machine: empty directories, never written through.
  [[ -d $dir ]] || mkdir -p "$dir"
done

self=$(realpath "${BASH_SOURCE[0]}")
if [[ -n $netns ]]; then
  exec ip netns exec "$netns" unshare --mount --propagation private -- \
    bash "$self" --inside "$root" "$user" "$volume" "$@"
fi
exec unshare --mount --propagation private -- bash "$self" --inside "$root" "$user" "$volume" "$@"
