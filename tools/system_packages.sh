#!/usr/bin/env bash
# The Debian packages a purpose needs, installed when missing: `run` (make run: Python venvs,
# Node.js and npm to build the pages) or `test` (make test: also PostgreSQL's server binaries,
# Chromium for the browser tests, faketime for make test-dates, nginx and openssl for the
# deployment tests). As root it installs what is missing; otherwise it names the command.
set -euo pipefail

purpose="${1:?usage: tools/system_packages.sh run|test}"
PYTHON="${PYTHON:-python3}"
missing=()

need() {  # need PACKAGE CHECK...: PACKAGE is missing unless the check command succeeds
    local package="$1"; shift
    if ! "$@" >/dev/null 2>&1; then
        echo "==> $package: missing"
        missing+=("$package")
    fi
}

need python3 command -v "$PYTHON"
need python3-venv "$PYTHON" -c 'import ensurepip, venv'
need nodejs command -v node
need npm command -v npm
if [ "$purpose" = test ]; then
    if [ -n "${APPLIANCE_TEST_DATABASE_URL:-}" ]; then
        echo "==> APPLIANCE_TEST_DATABASE_URL is set: the tests use that server"
    else
        need postgresql compgen -G '/usr/lib/postgresql/*/bin/initdb'
    fi
    need chromium command -v chromium
    need faketime command -v faketime
    need nginx test -x /usr/sbin/nginx
    need openssl command -v openssl
fi

[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}; install them as root" \
         "(apt-get install -y ${missing[*]}) and run again" >&2
    exit 1
fi
echo "==> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages start no services while they install (nginx's would take port 80): Debian's
# invoke-rc.d asks policy-rc.d, which is there only for this install unless it was before.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# tools/system_packages.sh installs packages: start no services\nexit 101\n' > "$policy"
    chmod 755 "$policy"
fi
installed=0
apt-get update && apt-get install -y --no-install-recommends "${missing[@]}" || installed=$?
if [ -n "$policy" ]; then rm -f "$policy"; fi
if [ "$installed" -ne 0 ]; then
    echo "error: installing ${missing[*]} failed" >&2
    exit "$installed"
fi
