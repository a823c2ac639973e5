# truth-common.sh: sourced by the make-*truth.sh scripts, which write tshark's view of
# captures for the golden tests. It gives them one environment, so that personal
# preferences cannot change the output: tshark must exist, runs with LC_ALL=C, TZ=UTC
# and an empty private config dir (removed on exit); the committed files come from
# tshark 4.0.17.

# truth_init NAME USAGE "$@": checks tshark and the arguments, then sets TRUTH_FILES
# to the captures and TRUTH_OUT to DIR of -o DIR (when USAGE offers it) or empty.
truth_init() {
    local name=$1 usage=$2
    shift 2
    command -v tshark >/dev/null 2>&1 || { echo "$name: tshark not found" >&2; exit 1; }
    TRUTH_OUT=
    if [[ $usage == "[-o DIR]"* && ${1:-} == -o ]]; then
        TRUTH_OUT=$2
        shift 2
    fi
    [[ $# -ge 1 ]] || { echo "usage: $name $usage" >&2; exit 2; }
    local path
    for path in "$@"; do
        [[ -f $path ]] || { echo "$name: no such file: $path" >&2; exit 1; }
    done
    TRUTH_FILES=("$@")
    export LC_ALL=C TZ=UTC
    TRUTH_CFG=$(mktemp -d)
    export WIRESHARK_CONFIG_DIR=$TRUTH_CFG
    trap 'rm -rf "$TRUTH_CFG"' EXIT
}

# truth_fields FILE DEST UNIT TSHARK_ARGS...: tshark -n -r FILE TSHARK_ARGS into DEST
# (through DEST.tmp, so that a failed run keeps the old file), then prints
# "DEST<TAB>N UNIT" with the rows written below the header.
truth_fields() {
    local path=$1 dest=$2 unit=$3
    shift 3
    tshark -n -r "$path" "$@" 2> >(grep -v 'Running as user' >&2) > "$dest.tmp"
    mv "$dest.tmp" "$dest"
    printf '%s\t%d %s\n' "$dest" "$(($(wc -l < "$dest") - 1))" "$unit"
}
