#!/usr/bin/env bash
# The state volume of the roles that keep state (the CA, PuppetDB). Sourced after lib.sh, never run;
# apart from lib.sh so the roles without a volume do not carry it in their user data.
# shellcheck source=lib.sh

# The state volume's block device: by its volume ID on NVMe instances (udev names the disk after its
# serial, the ID without its dash), else by the attachment's device name. Fails while not attached.
state_device() {
  local dev
  for dev in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${STATE_VOLUME_ID//-/}" /dev/xvdf /dev/sdf; do
    if [[ -b $dev ]]; then
      readlink -f "$dev"
      return 0
    fi
  done
  return 1
}

# Mounts the role's state volume (STATE_VOLUME_ID) at STATE_MOUNT_POINT, before anything writes
# there. The attachment follows the instance's creation, so this waits for the disk. A disk with no
# filesystem signature at all is a new volume and gets one; anything else is never formatted. The
# mount goes into fstab by UUID, so a reboot mounts it again; a mount point that is already a mount
# (a reboot, a second run, a directory kept by the lab) is used as it is.
mount_state_volume() {
  local mnt=${STATE_MOUNT_POINT:?} dev rc=0 uuid fstab=${PUPPET_MULTISITE_FSTAB:-/etc/fstab}
  if mountpoint -q "$mnt"; then
    log "state volume already mounted at $mnt"
    return 0
  fi
  require_settings STATE_VOLUME_ID
  retry "${PUPPET_MULTISITE_VOLUME_ATTEMPTS:-40}" 5 30 "waiting for state volume $STATE_VOLUME_ID to attach" -- \
    state_device >/dev/null
  dev=$(state_device)
  blkid -p "$dev" >/dev/null 2>&1 || rc=$?
  case $rc in
    0) log "state volume $STATE_VOLUME_ID ($dev) holds a filesystem: keeping it" ;;
    2)
      log "state volume $STATE_VOLUME_ID ($dev) is blank: creating its filesystem"
      mkfs.ext4 -q -L pm-state "$dev"
      ;;
    *) die "cannot probe state volume $STATE_VOLUME_ID ($dev): blkid exit $rc" ;;
  esac
  uuid=$(blkid -s UUID -o value "$dev")
  [[ -n $uuid ]] || die "state volume $STATE_VOLUME_ID ($dev) has no filesystem UUID"
  mkdir -p "$mnt"
  grep -q "^UUID=$uuid " "$fstab" 2>/dev/null ||
    printf 'UUID=%s %s ext4 defaults,nofail 0 2\n' "$uuid" "$mnt" >>"$fstab"
  mount "$mnt"
  log "state volume $STATE_VOLUME_ID mounted at $mnt"
}
