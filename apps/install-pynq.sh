#!/usr/bin/env bash
# Install lutrun and its systemd service on a PYNQ image (v3.x: Ubuntu 22.04, PYNQ's venv), as root:
#   sudo bash apps/install-pynq.sh [SOURCE]      # SOURCE: this checkout (default), a wheel, or "lutrun"
# The image's numpy, OpenCV and cffi are kept (docs/boards.md); the service starts at once and at boot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_spec="${1:-$here/..}"
venv="${LUTRUN_VENV:-/usr/local/share/pynq-venv}"

[ "$(id -u)" -eq 0 ] || { echo "install-pynq.sh: run it as root (sudo)" >&2; exit 1; }
[ -x "$venv/bin/python" ] || { echo "install-pynq.sh: no Python environment at $venv (set LUTRUN_VENV)" >&2; exit 1; }
command -v systemctl >/dev/null || { echo "install-pynq.sh: this system has no systemd" >&2; exit 1; }

"$venv/bin/python" -m pip install "${source_spec}[serve]"

install -d -m 0755 /etc/lutrun
if [ ! -f /etc/lutrun/lutrun.toml ]; then
    install -m 0644 "$here/systemd/lutrun.toml" /etc/lutrun/lutrun.toml
fi
if [ ! -f /etc/lutrun/token ]; then
    (umask 077; "$venv/bin/python" -c "import secrets; print(secrets.token_hex(16))" > /etc/lutrun/token)
fi
"$venv/bin/lutrun" serve --config /etc/lutrun/lutrun.toml --check-config > /dev/null

sed "s#@VENV@#$venv#g" "$here/systemd/lutrun.service" > /etc/systemd/system/lutrun.service
systemctl daemon-reload
systemctl enable --now lutrun.service
echo "lutrun is running: http://$(hostname -I | cut -d' ' -f1):8080/  (journalctl -u lutrun -f for its log;"
echo "the API token is in /etc/lutrun/token)"
