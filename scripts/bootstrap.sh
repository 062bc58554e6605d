#!/usr/bin/env bash
# Create .venv with Python 3.12 and install the pinned packages (only when they changed).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    local candidate
    for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 \
        /usr/local/bin/python3.12 /usr/bin/python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
    python=$(find_python) || { echo "Python 3.12 is needed (pyenv install 3.12, or apt-get install python3.12)." >&2; exit 1; }
    rm -rf .venv
    "$python" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Python packages into .venv ..."
    # Some machines' pip configuration names local mirror folders that may be missing; pip
    # warns once per package about them. Those warnings are noise, real errors still show.
    quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2); }
    quiet_pip install --quiet --upgrade pip
    quiet_pip install --quiet -r requirements-dev.txt
    echo "$want" > "$stamp"
fi
