#!/usr/bin/env bash
# `cmake --install BUILD_DIR --prefix P` installs bin/nntrain, bin/nndata and the man pages
# share/man/man1/{nntrain,nndata}.1; the installed binaries run; the man pages render without
# a single groff or man warning; and the docs cannot silently drift from the programs: every
# command and option that `nntrain --help` (and each `nntrain COMMAND --help`) names appears in
# nntrain.1, every command and option of `nndata --help` in nndata.1, and the version in .TH is
# the programs' version.
# usage: install.sh BUILD_DIR
set -u
B=${1:?usage: install.sh BUILD_DIR}
. "$(dirname "$0")/lib.sh"
nt_tmpdir install

P="$T/prefix"
cmake --install "$B" --prefix "$P" > "$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install $B"; }
for f in bin/nntrain bin/nndata; do
    [ -x "$P/$f" ] && ok "$f installed" || fail "$f missing or not executable"
done
for f in share/man/man1/nntrain.1 share/man/man1/nndata.1; do
    [ -s "$P/$f" ] && ok "$f installed" || fail "$f missing"
done
ver=$("$P/bin/nntrain" --version 2>&1) && [[ "$ver" == "nntrain "[0-9]* ]] && ok "installed nntrain --version: $ver" \
    || fail "installed nntrain --version: $ver"
dver=$("$P/bin/nndata" --version 2>&1) && ok "installed nndata --version: $dver" || fail "installed nndata --version: $dver"

# ---- the man pages render cleanly ------------------------------------------------------------
if command -v groff > /dev/null; then
    for m in nntrain nndata; do
        f="$P/share/man/man1/$m.1"
        groff -man -Tutf8 -ww -z "$f" > "$T/g.out" 2>&1
        rc=$?
        [ $rc = 0 ] && [ ! -s "$T/g.out" ] && ok "$m.1: groff -man -ww renders without warnings" \
            || fail "$m.1: groff rc $rc: $(head -5 "$T/g.out")"
        # the version in .TH is the programs' own
        grep -q "^\.TH ${m^^} 1 .*\"nntrain ${ver#nntrain }\"" "$f" && ok "$m.1: .TH names version ${ver#nntrain }" \
            || fail "$m.1: .TH does not name version ${ver#nntrain }: $(grep '^\.TH' "$f")"
    done
else
    fail "groff is not installed (apt-get install groff-base; launch/test installs it)"
fi
if command -v man > /dev/null; then
    for m in nntrain nndata; do
        for w in 80 120; do
            MANWIDTH=$w MAN_DISABLE_SECCOMP=1 man -l "$P/share/man/man1/$m.1" > "$T/man.out" 2> "$T/man.err"
            rc=$?
            [ $rc = 0 ] && [ ! -s "$T/man.err" ] && grep -q "^NAME" "$T/man.out" \
                && ok "$m.1: man -l at width $w, no warnings" || fail "$m.1: man -l (width $w) rc $rc: $(head -5 "$T/man.err")"
        done
    done
else
    echo "note: man is not installed; only groff checked the pages"
fi

# ---- the docs name everything the programs' --help names --------------------------------------
# the man source with roff escapes removed: \- -> -, font changes and \& dropped
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\&//g' -e 's/\\%//g' "$1"; }
plain "$SRC_DIR/docs/nntrain.1" > "$T/nntrain.txt"
plain "$SRC_DIR/docs/nndata.1" > "$T/nndata.txt"
has_word() { grep -qE -- "(^|[^a-zA-Z0-9_-])$2([^a-zA-Z0-9_-]|$)" "$1"; }

"$P/bin/nntrain" --help > "$T/help" 2>&1 || fail "nntrain --help"
# commands: the word after "nntrain" on the usage lines
cmds=$(sed -n '/^commands:/,/^$/p' "$T/help" | awk 'NF > 1 && $1 ~ /^[a-z]+$/ { print $1 }' | sort -u)
[ -n "$cmds" ] || fail "no commands found in nntrain --help"
for c in $cmds; do "$P/bin/nntrain" "$c" --help >> "$T/help" 2> /dev/null; done
missing=""
for c in $cmds; do has_word "$T/nntrain.txt" "nntrain $c" || missing+=" $c"; done
opts=$(grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z][a-z-]*' "$T/help" | sed -E 's/^[^-]*//' | sort -u)
for o in $opts; do has_word "$T/nntrain.txt" "$o" || missing+=" $o"; done
[ -z "$missing" ] && ok "nntrain.1 names every command ($(echo $cmds)) and option ($(echo $opts | wc -w)) of nntrain --help" \
    || fail "nntrain.1 does not mention:$missing"

"$P/bin/nndata" --help > "$T/dhelp" 2>&1 || fail "nndata --help"
dcmds=$(sed -nE 's/^ +nndata ([a-z][a-z-]*).*/\1/p' "$T/dhelp" | sort -u)
[ -n "$dcmds" ] || fail "no commands found in nndata --help"
missing=""
for c in $dcmds; do has_word "$T/nndata.txt" "nndata $c" || missing+=" $c"; done
dopts=$(grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z][a-z-]*' "$T/dhelp" | sed -E 's/^[^-]*//' | sort -u)
for o in $dopts; do has_word "$T/nndata.txt" "$o" || missing+=" $o"; done
[ -z "$missing" ] && ok "nndata.1 names every command ($(echo $dcmds | wc -w)) and option ($(echo $dopts | wc -w)) of nndata --help" \
    || fail "nndata.1 does not mention:$missing"

finish
