#!/usr/bin/env bash
# Create or destroy one serving-kit host as an LXD system container.
# create: needs KIT_NAME KIT_HOST_KEY KIT_RUN_ID KIT_WORKSPACE KIT_IMAGE KIT_PROFILE KIT_IPV4 KIT_CPU_SET
#         KIT_MEMORY_MB KIT_PUBKEY [KIT_WHEELHOUSE]; waits until sshd answers.
# destroy: needs KIT_NAME; deletes the instance only if the kit tagged it; absent is fine.
set -euo pipefail

tagged() {
  [ "$(lxc config get "$KIT_NAME" user.kit.project 2>/dev/null || true)" = "serving-kit" ]
}

exists() {
  lxc info "$KIT_NAME" >/dev/null 2>&1
}

owner() {
  lxc config get "$KIT_NAME" user.kit.workspace 2>/dev/null || true
}

create() {
  if exists; then
    if tagged && [ "$(owner)" != "$KIT_WORKSPACE" ] && [ -e "$(owner)/.kit/env.json" ]; then
      echo "$KIT_NAME belongs to the environment of the workspace $(owner): run 'kit down' there first" >&2
      exit 1
    fi
    if tagged; then
      # Left over from an interrupted apply: start clean rather than reuse a half-made host.
      lxc delete --force "$KIT_NAME"
    else
      echo "an LXD instance named $KIT_NAME exists and was not made by serving-kit; refusing to touch it" >&2
      exit 1
    fi
  fi
  lxc init "$KIT_IMAGE" "$KIT_NAME" --profile "$KIT_PROFILE" \
    -c limits.cpu="$KIT_CPU_SET" -c limits.memory="${KIT_MEMORY_MB}MiB" \
    -c user.kit.project=serving-kit -c user.kit.run_id="$KIT_RUN_ID" -c user.kit.host="$KIT_HOST_KEY" \
    -c user.kit.workspace="$KIT_WORKSPACE"
  lxc config device override "$KIT_NAME" eth0 ipv4.address="$KIT_IPV4"
  if [ -n "${KIT_WHEELHOUSE:-}" ]; then
    lxc config device add "$KIT_NAME" wheels disk source="$KIT_WHEELHOUSE" path=/opt/wheels readonly=true
  fi
  lxc file push --uid 0 --gid 0 --mode 0600 "$KIT_PUBKEY" "$KIT_NAME/root/.ssh/authorized_keys"
  lxc start "$KIT_NAME"
  # Each probe has its own deadline: an `lxc exec` into a container that has just started can hang
  # for good (seen: 7 minutes, deaf to SIGTERM), so it is killed after 5 s and tried again.
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if timeout -k 2 5 lxc exec "$KIT_NAME" -- systemctl is-active --quiet ssh 2>/dev/null \
      && timeout -k 1 3 bash -c "exec 3<>/dev/tcp/$KIT_IPV4/22" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "host $KIT_NAME ($KIT_IPV4) started but sshd did not answer within 60 s" >&2
  exit 1
}

destroy() {
  if ! exists; then
    return 0
  fi
  if tagged; then
    lxc delete --force "$KIT_NAME"
  else
    echo "refusing to delete $KIT_NAME: it is not tagged user.kit.project=serving-kit" >&2
    exit 1
  fi
}

case "${1:-}" in
  create) create ;;
  destroy) destroy ;;
  *) echo "usage: $0 create|destroy" >&2; exit 2 ;;
esac
