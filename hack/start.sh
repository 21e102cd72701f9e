#!/usr/bin/env bash
# start.sh sets up this Debian machine and starts a single-node skiff cluster in the background.
# Afterwards `skiff kubectl ...` talks to it. Re-running restarts the server on the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

DATA_DIR=${SKIFF_DATA_DIR:-/var/lib/skiff}
LOG=${SKIFF_LOG:-/var/log/skiff.log}

bash hack/setup.sh
echo "start.sh: building skiff"
go build -o /usr/local/bin/skiff ./cmd/skiff
# A freshly written file sits in the page cache in large folios that the kernel maps whole into
# every process touching them; read back from disk (as after a reboot) the binary costs each
# skiff process ~45 MiB less resident memory.
sync /usr/local/bin/skiff && dd if=/usr/local/bin/skiff iflag=nocache count=0 status=none

if pid=$(pgrep -f "^/usr/local/bin/skiff server" 2>/dev/null); then
	echo "start.sh: stopping the running skiff server ($pid)"
	kill $pid || true
	for _ in $(seq 50); do pgrep -f "^/usr/local/bin/skiff server" >/dev/null || break; sleep 0.2; done
fi

mkdir -p "$(dirname "$LOG")"
nohup /usr/local/bin/skiff server --data-dir "$DATA_DIR" ${SKIFF_SERVER_ARGS:-} >>"$LOG" 2>&1 &
for _ in $(seq 300); do
	if grep -q "skiff server ready" "$LOG" 2>/dev/null && [ -f "$DATA_DIR/kubeconfig.yaml" ] &&
		SKIFF_DATA_DIR="$DATA_DIR" /usr/local/bin/skiff kubectl get --raw /readyz >/dev/null 2>&1; then
		echo "start.sh: skiff is running (log: $LOG, data: $DATA_DIR)"
		case " ${SKIFF_SERVER_ARGS:-} " in
		*" --disable-agent "*) ;;
		*)
			# The node agent registers a moment after the API is ready; wait for the node.
			for _ in $(seq 120); do
				if SKIFF_DATA_DIR="$DATA_DIR" /usr/local/bin/skiff kubectl get nodes --no-headers 2>/dev/null | grep -q " Ready "; then
					break
				fi
				sleep 0.5
			done
			;;
		esac
		echo "start.sh: try: skiff kubectl get nodes"
		exit 0
	fi
	sleep 0.2
done
echo "start.sh: skiff server did not become ready; last log lines:" >&2
tail -n 30 "$LOG" >&2
exit 1
