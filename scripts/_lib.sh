# Shared by scripts/demo.sh and scripts/test.sh (sourced, not run). Expects to be in the repo root.

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# How to run a command as root: "" when we are root, "sudo" when sudo can be used, else fail.
as_root_prefix() {
    if [ "$(id -u)" -eq 0 ]; then
        printf ''
    elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
        printf 'sudo'
    else
        return 1
    fi
}

# apt_install PACKAGE... : install Debian packages if we may; returns 1 (with a message) if not.
apt_install() {
    local root
    if ! command -v apt-get >/dev/null 2>&1; then
        printf 'error: apt-get is not available; install %s with your package manager.\n' "$*" >&2
        return 1
    fi
    if ! root=$(as_root_prefix); then
        printf 'error: installing %s needs root: run `sudo apt-get install %s` yourself.\n' "$*" "$*" >&2
        return 1
    fi
    say "Installing $* with apt-get"
    $root apt-get update -qq &&
        $root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_venv EXTRAS : create .venv (Python >= 3.11) and install the project into it, editable.
# EXTRAS is "" or "[dev]". pip runs only when pyproject.toml has changed since the last install.
ensure_venv() {
    local extras="$1" python="${PYTHON:-python3}" stamp want done
    if [ -x .venv/bin/python ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
        say "Removing a broken .venv (it has no pip)"
        rm -rf .venv
    fi
    if [ ! -x .venv/bin/python ]; then
        command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11 or newer (apt-get install python3)."
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "meterdesk needs Python 3.11 or newer; $python is $("$python" -V 2>&1)."
        say "Creating the virtual environment .venv"
        if ! "$python" -m venv .venv 2>/dev/null; then
            rm -rf .venv
            # Debian ships venv's pip bootstrap in a separate package.
            apt_install python3-venv || die "could not create .venv: install python3-venv."
            "$python" -m venv .venv
        fi
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    fi
    want="$(sha256sum <pyproject.toml | cut -d' ' -f1)"
    stamp=".venv/.meterdesk-installed${extras}"
    # The dev install contains the plain one.
    for done in "$stamp" ".venv/.meterdesk-installed[dev]"; do
        if [ -f "$done" ] && [ "$(cat "$done")" = "$want" ]; then
            return 0
        fi
    done
    say "Installing meterdesk${extras} and its dependencies into .venv (quietly)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
    printf '%s\n' "$want" >"$stamp"
}
