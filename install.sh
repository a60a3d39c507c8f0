#!/usr/bin/env bash
# install.sh — install or upgrade the itd-bitrix FreePBX module (rawname "bitrix").
# Run as root on the PBX. `install.sh --help` for options. Re-running it upgrades.
set -euo pipefail

# Module repository: a static copy of dist/repo/ (all-<maj.min>.xml + modules/bitrix/...).
# FreePBX POSTs to <repo>/all-<maj.min>.xml and <repo>/modules/<location>, so the host must
# answer POST with the file. If it only answers GET (GitHub Pages, default nginx), this script
# downloads the tarball itself, checks its md5 and sha1 and installs it like --tarball.
# Before it changes anything, it runs the module's own self-test (agi-bin/itd_bitrix_selftest.js)
# as the asterisk user: Node.js version, architecture, glibc and the SQLite binding.
DEFAULT_REPO="https://nnekipelov.github.io/itd-bitrix/modules-17-itd"
FREEPBX_DEFAULT_REPO="http://mirror1.freepbx.org,http://mirror2.freepbx.org"
RAWNAME="bitrix"
MIN_FREEPBX_MAJOR=16

MODULES_DIR="${ITD_BITRIX_MODULES_DIR:-/var/www/html/admin/modules}"
AST_USER="${ITD_BITRIX_ASTERISK_USER:-asterisk}"
REPO="${ITD_BITRIX_REPO:-$DEFAULT_REPO}"
TARBALL=""
PROG="install.sh"

usage() {
  cat <<EOF
Usage: $PROG [--repo URL | --tarball FILE] [--help]

Installs (or upgrades) the FreePBX module "bitrix" (Bitrix24 integration):
  1. checks: root, fwconsole, FreePBX >= $MIN_FREEPBX_MAJOR, that the module repository answers,
     then fetches the module (md5 and sha1 checked) and runs its self-test as user "$AST_USER":
     Node.js >= 18, a supported architecture (amd64, arm64), glibc >= 2.28, SQLite working;
  2. remembers MODULE_REPO, points it at the module repository, runs
     "fwconsole ma refreshsignatures" and "fwconsole ma downloadinstall $RAWNAME",
     then puts the original MODULE_REPO back (also when a step fails);
  3. "fwconsole chown" and "fwconsole reload" (copies the AGI scripts to agi-bin).

Options:
  --repo URL      module repository (default: \$ITD_BITRIX_REPO or $DEFAULT_REPO)
  --tarball FILE  install offline from bitrix-<version>.tgz; MODULE_REPO is not touched
  -h, --help      this text

Environment:
  ITD_BITRIX_REPO           same as --repo
  ITD_BITRIX_MODULES_DIR    FreePBX modules dir (default /var/www/html/admin/modules)
  ITD_BITRIX_ASTERISK_USER  user Asterisk runs AGIs as (default asterisk)
  ITD_BITRIX_SKIP_SU=1      run the self-test as the current user instead of via su (tests)
  ITD_BITRIX_ALLOW_NONROOT=1  do not insist on root (tests)

Exit codes (each failure message names its step):
  2 usage | 10 root | 11 fwconsole | 12 FreePBX version | 13 Node.js | 14 repository check
  15 tarball check | 16 architecture | 17 glibc | 18 SQLite binding
  20 set MODULE_REPO | 21 refreshsignatures | 22 downloadinstall
  23 unpack tarball | 24 ma install | 25 download tarball | 26 verify module
  30 restore MODULE_REPO | 31 chown | 32 reload | 33 verify AGI scripts
EOF
}

log()  { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
# die <exit code> <step> <message>
die() {
  printf '%s: FAILED at step "%s" (exit %s): %s\n' "$PROG" "$2" "$1" "$3" >&2
  exit "$1"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --repo) [ $# -ge 2 ] || die 2 "arguments" "--repo needs a URL"; REPO="$2"; shift 2 ;;
    --repo=*) REPO="${1#*=}"; shift ;;
    --tarball) [ $# -ge 2 ] || die 2 "arguments" "--tarball needs a file"; TARBALL="$2"; shift 2 ;;
    --tarball=*) TARBALL="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die 2 "arguments" "unknown argument: $1" ;;
  esac
done
REPO="${REPO%/}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/itd-bitrix-install.XXXXXX")"
ORIG_REPO=""
REPO_CHANGED=0
cleanup() {
  local rc=$?
  if [ "$REPO_CHANGED" = 1 ]; then
    log "restoring MODULE_REPO to: $ORIG_REPO"
    if ! fwconsole setting MODULE_REPO "$ORIG_REPO"; then
      printf '%s: MODULE_REPO could not be restored; standard module updates stay off until you run:\n  fwconsole setting MODULE_REPO %q\n' "$PROG" "$ORIG_REPO" >&2
    fi
  fi
  rm -rf "$WORK"
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Value of a FreePBX setting. fwconsole prints: Setting of "NAME" is (type)[value]
# (the sentence is translated on some systems; the [value] at the end of the line is not).
read_setting() {
  local name="$1" out
  out="$(fwconsole setting "$name" 2>&1)" || return 1
  out="$(printf '%s\n' "$out" | sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r$//' | grep -F "$name" | grep -E '\[.*\][[:space:]]*$' | tail -n 1)" || return 1
  printf '%s\n' "$out" | sed -e 's/^.*\[\(.*\)\][[:space:]]*$/\1/'
}

# fetch <POST|GET> <url> <outfile>
# A redirect is followed only to https (curl); wget, which cannot limit where a redirect goes,
# follows none.
fetch() {
  local method="$1" url="$2" out="$3"
  if command -v curl >/dev/null 2>&1; then
    if [ "$method" = POST ]; then
      curl -fsSL --proto-redir =https --max-time 120 -X POST --data 'sv=2&installid=itd-bitrix-install-sh' -o "$out" "$url"
    else
      curl -fsSL --proto-redir =https --max-time 120 -o "$out" "$url"
    fi
  elif command -v wget >/dev/null 2>&1; then
    if [ "$method" = POST ]; then
      wget -q -T 120 --max-redirect=0 -O "$out" --post-data='sv=2&installid=itd-bitrix-install-sh' "$url"
    else
      wget -q -T 120 --max-redirect=0 -O "$out" "$url"
    fi
  else
    echo "neither curl nor wget is installed" >&2
    return 127
  fi
}

# Field of a module element, read with a small tag-depth scanner (awk, no xmllint needed):
#   module_field <file> <module depth: 1 = module.xml, 2 = repository XML> <tag>
# Only direct children of the <module> whose <rawname> is bitrix count, so the <version> and
# <module> inside <depends>/<supported> are never picked up.
module_field() {
  tr -d '\r' <"$1" | awk -v depth="$2" -v want="$3" -v raw="$RAWNAME" '
    BEGIN { RS = "<"; d = 0; n = 0 }
    NR > 1 {
      tag = $0; sub(/>.*/, "", tag)
      text = $0; sub(/^[^>]*>/, "", text)
      if (tag ~ /^[?!]/) next
      if (tag ~ /^\//) { d--; next }
      self = (tag ~ /\/$/)
      name = tag; sub(/[ \t\n\/].*$/, "", name)
      d++
      if (d == depth && name == "module") n++
      if (d == depth + 1 && n > 0) { gsub(/^[ \t\n]+|[ \t\n]+$/, "", text); val[n, name] = text }
      if (self) d--
    }
    END { for (i = 1; i <= n; i++) if (val[i, "rawname"] == raw) { print val[i, want]; exit } }'
}
# Field of the bitrix <module> in a repository XML: xml_field <file> <tag>
xml_field() { module_field "$1" 2 "$2"; }
# Field of a module.xml: module_xml_field <file> <tag>
module_xml_field() { module_field "$1" 1 "$2"; }
module_xml_version() { module_xml_field "$1" version; }

installed_version() {
  if [ -f "$MODULES_DIR/$RAWNAME/module.xml" ]; then module_xml_version "$MODULES_DIR/$RAWNAME/module.xml"; fi
}

# --- 1. checks ------------------------------------------------------------------------------

if [ "$(id -u)" != 0 ] && [ "${ITD_BITRIX_ALLOW_NONROOT:-}" != 1 ]; then
  die 10 "check root" "run as root (sudo bash install.sh)"
fi

command -v fwconsole >/dev/null 2>&1 ||
  die 11 "check fwconsole" "fwconsole not found on PATH — is FreePBX installed? (usually /usr/sbin/fwconsole)"

FPBX_VERSION_OUT="$( (fwconsole -V || fwconsole --version) 2>/dev/null | sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' || true)"
FPBX_VERSION="$(printf '%s\n' "$FPBX_VERSION_OUT" | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)*' | tail -n 1 || true)"
[ -n "$FPBX_VERSION" ] || die 12 "check FreePBX version" "could not read a version from 'fwconsole -V' (got: ${FPBX_VERSION_OUT:-nothing})"
FPBX_MAJOR="${FPBX_VERSION%%.*}"
FPBX_MAJMIN="$(printf '%s' "$FPBX_VERSION" | cut -d. -f1,2)"
[ "$FPBX_MAJOR" -ge "$MIN_FREEPBX_MAJOR" ] ||
  die 12 "check FreePBX version" "FreePBX $FPBX_VERSION found; this module needs FreePBX $MIN_FREEPBX_MAJOR or newer (fwconsole ma upgradeall, or the FreePBX 17 installer)"
log "FreePBX $FPBX_VERSION"

FROM_VERSION="$(installed_version || true)"
MODE=repo
EXPECT_VERSION=""

if [ -n "$TARBALL" ]; then
  MODE=tarball
else
  # Does the repository answer the way FreePBX will ask (POST), or only GET?
  XML_URL="$REPO/all-$FPBX_MAJMIN.xml"
  if fetch POST "$XML_URL" "$WORK/all.xml" 2>"$WORK/fetch.err" && [ -n "$(xml_field "$WORK/all.xml" version)" ]; then
    MODE=repo
  elif fetch GET "$XML_URL" "$WORK/all.xml" 2>>"$WORK/fetch.err" && [ -n "$(xml_field "$WORK/all.xml" version)" ]; then
    MODE=direct
    warn "$REPO answers GET but not POST, so FreePBX cannot use it as MODULE_REPO; downloading the module directly instead (MODULE_REPO is not touched)"
  else
    die 14 "check repository" "$XML_URL does not list module $RAWNAME ($(tr '\n' ' ' <"$WORK/fetch.err" | cut -c1-300)). Check --repo, the network, or install offline with --tarball bitrix-<version>.tgz"
  fi
  EXPECT_VERSION="$(xml_field "$WORK/all.xml" version)"
  log "repository $REPO offers $RAWNAME $EXPECT_VERSION"
fi

# The module's files, fetched and checked before anything changes: the offline tarball, or the
# one the repository lists (in repo mode FreePBX downloads it again itself; this copy is for the
# self-test only).
if [ "$MODE" != tarball ]; then
  LOCATION="$(xml_field "$WORK/all.xml" location)"
  MD5="$(xml_field "$WORK/all.xml" md5sum)"
  SHA1="$(xml_field "$WORK/all.xml" sha1sum)"
  [ -n "$LOCATION" ] || die 25 "download tarball" "$XML_URL has no <location> for $RAWNAME"
  [ -n "$MD5" ] && [ -n "$SHA1" ] || die 25 "download tarball" "$XML_URL lists no md5sum and sha1sum for $RAWNAME; refusing a module that cannot be checked"
  case "$LOCATION" in
    http://*|https://*) TARBALL_URL="$LOCATION" ;;
    *) TARBALL_URL="$REPO/modules/$LOCATION" ;;
  esac
  TARBALL="$WORK/$(basename "$LOCATION")"
  fetch GET "$TARBALL_URL" "$TARBALL" 2>"$WORK/fetch.err" ||
    die 25 "download tarball" "could not download $TARBALL_URL ($(tr '\n' ' ' <"$WORK/fetch.err" | cut -c1-300))"
  GOT_MD5="$(md5sum "$TARBALL" | cut -d' ' -f1)"
  [ "$GOT_MD5" = "$MD5" ] || die 25 "download tarball" "md5 of $TARBALL_URL is $GOT_MD5, the repository says $MD5 — the file is damaged or stale"
  GOT_SHA1="$(sha1sum "$TARBALL" | cut -d' ' -f1)"
  [ "$GOT_SHA1" = "$SHA1" ] || die 25 "download tarball" "sha1 of $TARBALL_URL is $GOT_SHA1, the repository says $SHA1 — the file is damaged or stale"
  log "downloaded $TARBALL_URL (md5 and sha1 ok)"
fi
[ -f "$TARBALL" ] && [ -r "$TARBALL" ] || die 15 "check tarball" "$TARBALL is not a readable file"
mkdir -p "$WORK/unpack"
tar -xzf "$TARBALL" -C "$WORK/unpack" --no-same-owner 2>"$WORK/tar.err" ||
  die 15 "check tarball" "$TARBALL is not a gzip'd tar ($(head -c 300 "$WORK/tar.err"))"
[ "$(ls -A "$WORK/unpack")" = "$RAWNAME" ] && [ -f "$WORK/unpack/$RAWNAME/module.xml" ] ||
  die 15 "check tarball" "$TARBALL must hold exactly one top directory $RAWNAME/ with module.xml"
[ "$(module_xml_field "$WORK/unpack/$RAWNAME/module.xml" rawname)" = "$RAWNAME" ] || die 15 "check tarball" "module.xml in $TARBALL is not module $RAWNAME"
[ -n "$EXPECT_VERSION" ] || EXPECT_VERSION="$(module_xml_version "$WORK/unpack/$RAWNAME/module.xml")"

# Can this host run it? The module's own runtime answers, as the user Asterisk runs AGIs as.
run_as_asterisk() {
  if [ "${ITD_BITRIX_SKIP_SU:-}" = 1 ]; then sh -c "$1"; else su -s /bin/sh "$AST_USER" -c "$1"; fi
}
if [ "${ITD_BITRIX_SKIP_SU:-}" = 1 ]; then
  NODE_WHO="$(id -un)"
else
  id -u "$AST_USER" >/dev/null 2>&1 || die 13 "check Node.js" "user '$AST_USER' does not exist (set ITD_BITRIX_ASTERISK_USER)"
  NODE_WHO="$AST_USER"
fi
SELFTEST="$WORK/unpack/$RAWNAME/agi-bin/itd_bitrix_selftest.js"
[ -f "$SELFTEST" ] || die 15 "check tarball" "$TARBALL has no agi-bin/itd_bitrix_selftest.js"
chmod 0755 "$WORK" "$WORK/unpack"
run_as_asterisk 'command -v node' >/dev/null 2>&1 ||
  die 13 "check Node.js" "Node.js is not on the PATH of user '$NODE_WHO'; the AGI scripts need Node.js 18 or newer (Debian: apt-get install nodejs)"
set +e
SELFTEST_OUT="$(run_as_asterisk "node '$SELFTEST'" 2>&1)"
SELFTEST_RC=$?
set -e
SELFTEST_LINE="$(printf '%s\n' "$SELFTEST_OUT" | sed -n 1p | cut -c1-400)"
case "$SELFTEST_RC" in
  0) log "self-test as user $NODE_WHO: $SELFTEST_LINE" ;;
  3) die 13 "check Node.js" "$SELFTEST_LINE (user '$NODE_WHO'; Debian 12: apt-get install nodejs)" ;;
  4) die 16 "check architecture" "$SELFTEST_LINE" ;;
  5) die 17 "check glibc" "$SELFTEST_LINE" ;;
  6) die 18 "check SQLite binding" "$SELFTEST_LINE" ;;
  *) die 18 "check SQLite binding" "the self-test did not run (exit $SELFTEST_RC): ${SELFTEST_LINE:-no output}" ;;
esac

# --- 2. install -----------------------------------------------------------------------------

if [ "$MODE" = repo ]; then
  ORIG_REPO="$(read_setting MODULE_REPO)" ||
    die 20 "set MODULE_REPO" "could not read the current MODULE_REPO from 'fwconsole setting MODULE_REPO'; nothing was changed"
  case ",$ORIG_REPO," in
    *",$REPO,"*|*",$REPO/,"*|",,")
      warn "MODULE_REPO is '$ORIG_REPO' (left over from an earlier run?); it will be set back to the FreePBX default: $FREEPBX_DEFAULT_REPO"
      ORIG_REPO="$FREEPBX_DEFAULT_REPO" ;;
  esac
  log "current MODULE_REPO: $ORIG_REPO"
  REPO_CHANGED=1
  fwconsole setting MODULE_REPO "$REPO" ||
    die 20 "set MODULE_REPO" "fwconsole setting MODULE_REPO $REPO failed"
  fwconsole ma refreshsignatures ||
    die 21 "fwconsole ma refreshsignatures" "FreePBX could not read $REPO/all-$FPBX_MAJMIN.xml (the repository must answer POST)"
  fwconsole ma downloadinstall "$RAWNAME" ||
    die 22 "fwconsole ma downloadinstall $RAWNAME" "download or install of $RAWNAME from $REPO failed (see the messages above)"
  log "restoring MODULE_REPO to: $ORIG_REPO"
  if fwconsole setting MODULE_REPO "$ORIG_REPO"; then
    REPO_CHANGED=0
  else
    REPO_CHANGED=0
    die 30 "restore MODULE_REPO" "could not set MODULE_REPO back; standard module updates stay off until you run: fwconsole setting MODULE_REPO '$ORIG_REPO'"
  fi
else
  [ -d "$MODULES_DIR" ] || die 23 "unpack tarball" "FreePBX modules dir $MODULES_DIR not found (set ITD_BITRIX_MODULES_DIR)"
  STAGE="$MODULES_DIR/.$RAWNAME-install.$$"
  rm -rf "$STAGE" "$STAGE.old"
  { cp -R "$WORK/unpack/$RAWNAME" "$STAGE" &&
    if [ -d "$MODULES_DIR/$RAWNAME" ]; then mv "$MODULES_DIR/$RAWNAME" "$STAGE.old"; fi &&
    mv "$STAGE" "$MODULES_DIR/$RAWNAME"; } || {
      if [ -d "$STAGE.old" ] && [ ! -d "$MODULES_DIR/$RAWNAME" ]; then mv "$STAGE.old" "$MODULES_DIR/$RAWNAME" || true; fi
      rm -rf "$STAGE"
      die 23 "unpack tarball" "could not put $RAWNAME $EXPECT_VERSION into $MODULES_DIR/$RAWNAME"
    }
  rm -rf "$STAGE.old"
  if [ -d "$MODULES_DIR/$RAWNAME/agi-bin" ]; then chmod -R 0755 "$MODULES_DIR/$RAWNAME/agi-bin"; fi
  log "unpacked $RAWNAME $EXPECT_VERSION into $MODULES_DIR/$RAWNAME"
  fwconsole ma install "$RAWNAME" ||
    die 24 "fwconsole ma install $RAWNAME" "FreePBX could not install $RAWNAME (see the messages above)"
fi

# fwconsole ma can exit 0 although the install did not happen: check what FreePBX reports.
NOW_VERSION="$(installed_version || true)"
if [ -n "$EXPECT_VERSION" ] && [ "$NOW_VERSION" != "$EXPECT_VERSION" ]; then
  die 26 "verify module" "$MODULES_DIR/$RAWNAME holds version '${NOW_VERSION:-none}', expected $EXPECT_VERSION"
fi
LIST_ROW="$(fwconsole ma list --format=json 2>/dev/null | grep -oE "\[\"$RAWNAME\",\"[^\"]*\",\"[^\"]*\"" | sed -n 1p || true)"
LIST_STATUS="$(printf '%s' "$LIST_ROW" | sed -n -e 's/^\["[^"]*","[^"]*","\([^"]*\)"$/\1/p')"
case "$LIST_STATUS" in
  ""|Disabled*|Broken*|"Not Installed"*)
    die 26 "verify module" "fwconsole ma list shows $RAWNAME as '${LIST_STATUS:-missing}' after the install" ;;
esac

# --- 3. permissions, dialplan, agi-bin ------------------------------------------------------

fwconsole chown || die 31 "fwconsole chown" "fwconsole chown failed"
fwconsole reload || die 32 "fwconsole reload" "fwconsole reload failed (the module is installed; fix the error and run fwconsole reload)"
AGI_DIR="$(read_setting ASTAGIDIR 2>/dev/null || true)"
AGI_DIR="${AGI_DIR:-/var/lib/asterisk/agi-bin}"
for f in itd_bitrix_incoming.js itd_bitrix_show.js itd_bitrix_hangup.js; do
  [ -x "$AGI_DIR/$f" ] || die 33 "verify AGI scripts" "$AGI_DIR/$f is missing or not executable after fwconsole reload"
done

# --- 4. report ------------------------------------------------------------------------------

case "$MODE" in
  repo) SOURCE="module repository $REPO" ;;
  direct) SOURCE="$TARBALL_URL" ;;
  tarball) SOURCE="$TARBALL" ;;
esac
if [ -z "$FROM_VERSION" ]; then
  WHAT="installed $RAWNAME $NOW_VERSION"
elif [ "$FROM_VERSION" = "$NOW_VERSION" ]; then
  WHAT="reinstalled $RAWNAME $NOW_VERSION (it was already at this version)"
else
  WHAT="upgraded $RAWNAME from $FROM_VERSION to $NOW_VERSION"
fi
cat <<EOF

$PROG: done — $WHAT from $SOURCE.
$PROG: MODULE_REPO: $([ "$MODE" = repo ] && echo "set back to $ORIG_REPO" || echo "not touched")
$PROG: AGI scripts: $AGI_DIR/itd_bitrix_*.js; dialplan reloaded.

Next: open the FreePBX web GUI -> Connectivity -> Bitrix24, enter the Bitrix24 connection,
choose the DIDs to report, Submit, then Apply Config. Upgrade later by running this script again.
EOF
