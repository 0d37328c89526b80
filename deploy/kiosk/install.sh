#!/bin/bash
# Turn a Raspberry Pi OS (Bookworm, labwc or wayfire desktop) into a VinylVault screen, or undo it.
#
#   deploy/kiosk/install.sh                      install for the logged-in user (no sudo needed)
#   deploy/kiosk/install.sh --uninstall          remove everything it installed
#   deploy/kiosk/install.sh --url URL            open URL instead of http://localhost:8080/?kiosk=1
#   deploy/kiosk/install.sh --prefix DIR         install into DIR as if it were the home folder
#   deploy/kiosk/install.sh --dry-run            say what would change, change nothing
#
# What it writes, all inside the home folder:
#   ~/.local/bin/vinylvault-kiosk                      waits for the site, runs Chromium in kiosk mode
#   ~/.config/systemd/user/vinylvault-kiosk.service    runs it, and runs it again if the browser dies
#   ~/.config/autostart/vinylvault-kiosk.desktop       starts the service at log-in (labwc and wayfire
#                                                      on Raspberry Pi OS both run ~/.config/autostart)
#   ~/.config/vinylvault-kiosk.env                     the address to open (kept if it already exists)
#   one marked line in ~/.config/labwc/autostart, only if that file exists: labwc then reads it instead
#   of the system's autostart, which is what runs ~/.config/autostart.
# Screen blanking, the cursor and night-time dimming are handled by the kiosk page itself (README, "Kiosk").
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MARK="# vinylvault-kiosk"
URL=""
PREFIX="$HOME"
DRY_RUN=0
UNINSTALL=0

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --uninstall) UNINSTALL=1 ;;
            --dry-run) DRY_RUN=1 ;;
            --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }
                      PREFIX="$2"; shift ;;
            --url) [ $# -ge 2 ] || { echo "install.sh: --url needs an address" >&2; exit 2; }
                   URL="$2"; shift ;;
            -h|--help) usage; exit 0 ;;
            *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        esac
        shift
    done
    case "$URL" in
        ""|http://*|https://*) ;;
        *) echo "install.sh: --url must start with http:// or https://" >&2; exit 2 ;;
    esac
}

# Each change is said, then done unless --dry-run.
say() { if [ "$DRY_RUN" = 1 ]; then echo "would $*"; else echo "$*"; fi; }

put() {  # put SOURCE DEST MODE
    say "install $3 $2"
    [ "$DRY_RUN" = 1 ] && return 0
    mkdir -p "$(dirname "$2")"
    install -m "$3" "$1" "$2"
}

remove() {  # remove PATH
    [ -e "$1" ] || return 0
    say "remove $1"
    [ "$DRY_RUN" = 1 ] || rm -f "$1"
}

# sed's replacement text gives & | and \ a meaning: escape them (a URL may hold an &).
escape_for_sed() { printf '%s' "$1" | sed 's/[&|\\]/\\&/g'; }

labwc_autostart() { echo "$PREFIX/.config/labwc/autostart"; }

add_labwc_line() {
    local file
    file="$(labwc_autostart)"
    [ -f "$file" ] || return 0
    grep -qF "$MARK" "$file" && return 0
    say "add the kiosk to $file"
    [ "$DRY_RUN" = 1 ] || printf '%s\n' "\"\$HOME/.local/bin/vinylvault-kiosk\" --from-session &  $MARK" >> "$file"
}

drop_labwc_line() {
    local file
    file="$(labwc_autostart)"
    if [ ! -f "$file" ] || ! grep -qF "$MARK" "$file"; then
        return 0
    fi
    say "remove the kiosk from $file"
    [ "$DRY_RUN" = 1 ] && return 0
    local kept
    kept="$(grep -vF "$MARK" "$file" || true)"
    printf '%s\n' "$kept" > "$file"
}

# systemctl only for the real home folder of a user with a running user manager (not --prefix, not a dry run).
user_manager() {
    if [ "$DRY_RUN" = 0 ] && [ "$PREFIX" = "$HOME" ] && [ -n "${XDG_RUNTIME_DIR:-}" ] \
        && command -v systemctl >/dev/null 2>&1; then
        systemctl --user "$@" 2>/dev/null || true
    fi
}

install_kiosk() {
    put "$HERE/vinylvault-kiosk" "$PREFIX/.local/bin/vinylvault-kiosk" 0755
    put "$HERE/vinylvault-kiosk.service" "$PREFIX/.config/systemd/user/vinylvault-kiosk.service" 0644
    local entry="$PREFIX/.config/autostart/vinylvault-kiosk.desktop"
    put "$HERE/vinylvault-kiosk.desktop" "$entry" 0644
    [ "$DRY_RUN" = 1 ] || sed -i "s|@KIOSK_BIN@|$(escape_for_sed "$PREFIX/.local/bin/vinylvault-kiosk")|" "$entry"
    local env="$PREFIX/.config/vinylvault-kiosk.env"
    if [ ! -e "$env" ]; then
        put "$HERE/vinylvault-kiosk.env" "$env" 0644
    fi
    if [ -n "$URL" ]; then
        say "set the address to $URL in $env"
        [ "$DRY_RUN" = 1 ] || sed -i "s|^VINYLVAULT_KIOSK_URL=.*|VINYLVAULT_KIOSK_URL=$(escape_for_sed "$URL")|" "$env"
    fi
    add_labwc_line
    user_manager daemon-reload
    echo "Done: the kiosk starts at the next log-in to the desktop (or now: vinylvault-kiosk --from-session)."
}

uninstall_kiosk() {
    user_manager stop vinylvault-kiosk.service
    remove "$PREFIX/.config/autostart/vinylvault-kiosk.desktop"
    remove "$PREFIX/.config/systemd/user/vinylvault-kiosk.service"
    remove "$PREFIX/.local/bin/vinylvault-kiosk"
    remove "$PREFIX/.config/vinylvault-kiosk.env"
    drop_labwc_line
    user_manager daemon-reload
    echo "Done: the kiosk is removed (its browser profile stays in ~/.local/state/vinylvault-kiosk)."
}

parse_args "$@"
if [ "$UNINSTALL" = 1 ]; then uninstall_kiosk; else install_kiosk; fi
