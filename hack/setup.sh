#!/usr/bin/env bash
# setup.sh installs what the skiff node agent needs from Debian's packages:
# containerd, runc, the CNI plugins and iptables (plus conntrack and iproute2).
# `setup.sh --test` adds what only the tests use: docker-registry (the
# distribution registry), which the agent's image-pull tests run locally.
# Idempotent: packages already installed are left alone, and `apt-get update`
# runs only when something is missing. It never starts a system containerd:
# the agent runs its own, with its own config, root, state and socket.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs Debian packages)" >&2
	exit 1
fi

packages=(containerd runc containernetworking-plugins iptables conntrack iproute2 util-linux)
if [ "${1:-}" = "--test" ]; then
	packages+=(docker-registry)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	# policy-rc.d keeps the packages' own init/systemd hooks from starting a
	# system containerd (or registry) while installing; the agent supervises
	# a private containerd, and the tests run their own registry.
	policy=/usr/sbin/policy-rc.d
	had_policy=0
	[ -e "$policy" ] && had_policy=1
	if [ "$had_policy" -eq 0 ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	echo "setup.sh: installing ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian puts the CNI plugins in /usr/lib/cni; the agent looks there and in
# /opt/cni/bin, so nothing else to link.
for bin in containerd containerd-shim-runc-v2 runc iptables; do
	command -v "$bin" >/dev/null || { echo "setup.sh: $bin not found after install" >&2; exit 1; }
done
for plugin in bridge host-local portmap loopback; do
	if [ ! -x "/usr/lib/cni/$plugin" ] && [ ! -x "/opt/cni/bin/$plugin" ]; then
		echo "setup.sh: CNI plugin $plugin not found" >&2
		exit 1
	fi
done
echo "setup.sh: containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), CNI plugins ready"
